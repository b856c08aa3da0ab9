"""The time of loss as an audit sequence number (spec §report).

``media.lost_seq`` is the first audit entry at or after the medium's ``lost_at``, fixed when
the loss is reported: the medium report's window is decided by sequence numbers, which a
clock step cannot reorder. Media reported lost before this revision get it from the log as
it stands (the first entry at or after ``lost_at``; none: the next entry to come).

Revision ID: 0006_lost_seq
Revises: 0005_incident
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import SeqInt

revision = "0006_lost_seq"
down_revision = "0005_incident"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("lost_seq", SeqInt, nullable=True))
    op.execute(
        "UPDATE media SET lost_seq = COALESCE("
        "(SELECT min(seq) FROM audit_log WHERE audit_log.at >= media.lost_at),"
        " (SELECT seq + 1 FROM audit_head WHERE id = 1))"
        " WHERE lost_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("lost_seq")
