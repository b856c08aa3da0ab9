"""The remembered verified head of the audit chain (spec §audit, issue 12).

Adds ``audit_verified_head``: one row saying how far the chain was verified, MACed under
the audit key (keyserver/_domain/verified_head.py), so that the console overview checks
only the entries after it instead of the whole chain on every load. Empty at first: the
first verification starts from the genesis.

Revision ID: 0013_audit_verified_head
Revises: 0012_tlog_tiles
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import SeqInt, UTCDateTime

revision = "0013_audit_verified_head"
down_revision = "0012_tlog_tiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verified_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", SeqInt, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.Column("full_at", UTCDateTime(), nullable=True),
        sa.Column("mac", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_verified_head")
