"""64-bit transparency-log sizes and node indexes on PostgreSQL.

``tlog_state.size``, ``tlog_nodes.idx``, ``tlog_checkpoints.size`` and
``tlog_cosignatures.size`` were INTEGER (32-bit on PostgreSQL), like the audit sequence
numbers before 0004_seq_bigint: past 2^31 audit entries the follower could no longer store
a leaf or sign a checkpoint, and the log would stop vouching for every later entry while
the key releases went on. SQLite's INTEGER is already 64-bit, so SQLite has nothing to
change.

Revision ID: 0007_tlog_bigint
Revises: 0006_lost_seq
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_tlog_bigint"
down_revision = "0006_lost_seq"
branch_labels = None
depends_on = None

# The referenced column before the referencing one (PostgreSQL keeps the foreign key).
_COLUMNS = (
    ("tlog_state", "size"),
    ("tlog_nodes", "idx"),
    ("tlog_checkpoints", "size"),
    ("tlog_cosignatures", "size"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in reversed(_COLUMNS):
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
