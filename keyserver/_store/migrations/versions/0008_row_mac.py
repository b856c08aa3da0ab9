"""Container-row MACs (spec §row-integrity, issue 14).

Adds ``containers.row_mac`` and MACs every existing row under the ``row_key`` of the
deployment's master key. The rows are trusted as they are at this migration (there was
nothing to check them against before); from here on an edited or restored row is refused.

Revision ID: 0008_row_mac
Revises: 0007_tlog_bigint
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from keyserver._domain.keys import KeyRing
from keyserver._domain.settings import Settings
from keyserver._store.rowmacs import mac_all

revision = "0008_row_mac"
down_revision = "0007_tlog_bigint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("containers") as batch:
        batch.add_column(sa.Column("row_mac", sa.LargeBinary(32), nullable=True))
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM containers")).scalar_one() == 0:
        return  # a new database: no master key needed yet
    settings = context.config.attributes.get("settings") or Settings.load()
    mac_all(conn, KeyRing.from_master(settings.load_master_key()))


def downgrade() -> None:
    with op.batch_alter_table("containers") as batch:
        batch.drop_column("row_mac")
