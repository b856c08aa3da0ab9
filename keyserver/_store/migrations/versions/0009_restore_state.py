"""The restore marker (spec §backup, issue 14).

Adds ``restore_state``: one row while a database restored from a backup awaits the replay
of what the audit log recorded after the backup; no writing transaction runs meanwhile.

Revision ID: 0009_restore_state
Revises: 0008_row_mac
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import SeqInt, UTCDateTime

revision = "0009_restore_state"
down_revision = "0008_row_mac"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restore_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("restored_at", UTCDateTime(), nullable=False),
        sa.Column("backup_head_seq", SeqInt, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("restore_state")
