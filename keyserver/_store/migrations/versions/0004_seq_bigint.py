"""64-bit audit sequence numbers on PostgreSQL.

``audit_log.seq``, ``audit_head.seq`` and ``containers.last_audit_seq`` were INTEGER
(32-bit on PostgreSQL): at 2^31 entries every later append failed, so no key could be
released and, worse, no container could be suspended or destroyed. SQLite's INTEGER is
already 64-bit, so SQLite has nothing to change (and a batch rebuild of the audit table
would only cost time).

Revision ID: 0004_seq_bigint
Revises: 0003_transparency_log
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_seq_bigint"
down_revision = "0003_transparency_log"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("audit_log", "seq"),
    ("audit_head", "seq"),
    ("containers", "last_audit_seq"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
