"""Transparency log: tree nodes over the audit entries, checkpoints, cosignatures.

Revision ID: 0003_transparency_log
Revises: 0002_console_sessions
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import UTCDateTime

revision = "0003_transparency_log"
down_revision = "0002_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tlog_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("size", sa.Integer(), nullable=False),
    )
    op.create_table(
        "tlog_nodes",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_table(
        "tlog_cosignatures",
        sa.Column(
            "size",
            sa.Integer(),
            sa.ForeignKey("tlog_checkpoints.size", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("key_id", sa.LargeBinary(4), primary_key=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    # The tree starts empty; the follower hashes every existing entry on its first run.
    op.execute(sa.text("INSERT INTO tlog_state (id, size) VALUES (1, 0)"))


def downgrade() -> None:
    op.drop_table("tlog_cosignatures")
    op.drop_table("tlog_checkpoints")
    op.drop_table("tlog_nodes")
    op.drop_table("tlog_state")
