"""Incident response: canonical media, suspension causes, time of loss, budget windows.

spec §media, §lifecycle, §receipt (issue 10). Adds the ``media`` table (one row per
canonical medium id, filled from the existing containers), ``containers.suspend_cause``,
``lost_at`` and ``budget_reset_at``, and ``challenges.confirmed_at`` and ``medium`` with
the two indexes the sliding-window counts use. Existing suspensions get the cause their
reason shows (the budget's fixed reason, a loss report's deadline, else an official).

Revision ID: 0005_incident
Revises: 0004_seq_bigint
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.media import canonical_medium
from keyserver._store.models import UTCDateTime

revision = "0005_incident"
down_revision = "0004_seq_bigint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("lost_at", UTCDateTime(), nullable=True),
        sa.Column("loss_reported_at", UTCDateTime(), nullable=True),
    )
    with op.batch_alter_table("containers") as batch:
        batch.add_column(sa.Column("suspend_cause", sa.String(16), nullable=True))
        batch.add_column(sa.Column("lost_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("budget_reset_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(sa.Column("confirmed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("medium", sa.String(200), nullable=True))
    op.create_index(
        "ix_challenges_principal_window",
        "challenges",
        ["principal_id", "confirmed_at", "issued_at"],
    )
    op.create_index(
        "ix_challenges_medium_window", "challenges", ["medium", "confirmed_at", "issued_at"]
    )
    _fill(op.get_bind())


def _fill(conn: sa.Connection) -> None:
    """Media rows from the containers (canonical names), causes of current suspensions."""
    containers = sa.table(
        "containers",
        sa.column("medium", sa.String),
        sa.column("state", sa.String),
        sa.column("reason", sa.String),
        sa.column("destroy_after", UTCDateTime()),
        sa.column("loss_reported_at", UTCDateTime()),
        sa.column("lost_at", UTCDateTime()),
        sa.column("suspend_cause", sa.String),
    )
    media = sa.table(
        "media",
        sa.column("key", sa.String),
        sa.column("name", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("loss_reported_at", UTCDateTime()),
        sa.column("lost_at", UTCDateTime()),
    )
    now = datetime.now(UTC)
    names: dict[str, str] = {}
    for (old,) in conn.execute(sa.select(containers.c.medium).distinct()):
        if old is None:
            continue
        try:
            name = canonical_medium(old)
        except InvalidRequestError:
            name = old  # kept as registered: listed, but never matched by a new mention
        name = names.setdefault(name.lower(), name)
        if name != old:
            conn.execute(
                sa.update(containers).where(containers.c.medium == old).values(medium=name)
            )
    for key, name in names.items():
        reported = conn.execute(
            sa.select(sa.func.max(containers.c.loss_reported_at)).where(containers.c.medium == name)
        ).scalar()
        conn.execute(
            sa.insert(media).values(
                key=key, name=name, created_at=now, loss_reported_at=reported, lost_at=reported
            )
        )
    # Before this revision the time of loss was the time of the report.
    conn.execute(
        sa.update(containers)
        .where(containers.c.loss_reported_at.is_not(None))
        .values(lost_at=containers.c.loss_reported_at)
    )
    suspended = containers.c.state == "suspended"
    conn.execute(
        sa.update(containers)
        .where(suspended, containers.c.reason == "attempt budget exhausted")
        .values(suspend_cause="budget")
    )
    conn.execute(
        sa.update(containers)
        .where(suspended, containers.c.suspend_cause.is_(None))
        .where(containers.c.destroy_after.is_not(None))
        .values(suspend_cause="loss-report")
    )
    conn.execute(
        sa.update(containers)
        .where(suspended, containers.c.suspend_cause.is_(None))
        .values(suspend_cause="official")
    )


def downgrade() -> None:
    op.drop_index("ix_challenges_medium_window", table_name="challenges")
    op.drop_index("ix_challenges_principal_window", table_name="challenges")
    with op.batch_alter_table("challenges") as batch:
        batch.drop_column("medium")
        batch.drop_column("confirmed_at")
    with op.batch_alter_table("containers") as batch:
        batch.drop_column("budget_reset_at")
        batch.drop_column("lost_at")
        batch.drop_column("suspend_cause")
    op.drop_table("media")
