"""Console sessions: server-side sessions of the officials' web console.

Revision ID: 0002_console_sessions
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import UTCDateTime

revision = "0002_console_sessions"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_console_sessions_token_hash", "console_sessions", ["token_hash"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_token_hash", table_name="console_sessions")
    op.drop_table("console_sessions")
