"""A container's medium is optional (``rwc seal`` without ``--medium``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

PostgreSQL: ``ALTER COLUMN ... DROP NOT NULL``. SQLite cannot alter a column, and the
usual table rebuild would DROP ``containers``, which with foreign keys on (they cannot be
switched off inside the migration's transaction) cascades to the reader policies and
challenges. Removing a NOT NULL constraint is the case for which the SQLite manual
("ALTER TABLE", making other kinds of table schema changes) gives the simpler
procedure used here: edit the stored CREATE TABLE text and bump ``schema_version``.
No row changes, so nothing can be lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NOT_NULL = "medium VARCHAR(200) NOT NULL"
_NULLABLE = "medium VARCHAR(200)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column("containers", "medium", existing_type=sa.String(200), nullable=True)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'containers'"
    ).scalar_one()
    if _NOT_NULL not in sql:
        return  # already nullable
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'containers'",
            (sql.replace(_NOT_NULL, _NULLABLE, 1),),
        )
        # Every connection re-reads the schema when the version changes.
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def downgrade() -> None:
    # Not offered: containers registered without a medium would violate NOT NULL.
    raise NotImplementedError("0002 cannot be downgraded")
