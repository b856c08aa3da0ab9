"""The time of loss the official was told, kept with the loss report (spec §loss, issue 12).

Adds ``media.told_at``: set when a loss report counts from an earlier ``lost_at`` than the
time the official was told, to include reader key releases just before it (the console's
"Not sure" answer). Until now that time was only written into the reasons' text. NULL for
every report made before this revision: its reasons keep saying it, and the report prints
as it did.

Revision ID: 0014_told_at
Revises: 0013_audit_verified_head
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import UTCDateTime

revision = "0014_told_at"
down_revision = "0013_audit_verified_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("told_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("told_at")
