"""Migration 0014_told_at adds the time told to the media table, and back (issue 12).

On SQLite and PostgreSQL: a medium reported lost before the revision keeps its time of
loss and has no time told (its report prints as before); a time told written after the
upgrade reads back to the microsecond; downgraded, the column is gone and the rest stays.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from keyserver._store.models import UTCDateTime
from tests.support import migrations

LOST = datetime(2026, 12, 3, 8, 40, 15, tzinfo=UTC)
TOLD_AT = datetime(2026, 12, 3, 8, 41, 0, 123456, tzinfo=UTC)


engine = migrations.engine  # the fixture: an empty database, on SQLite and on PostgreSQL


MEDIA = migrations.MEDIA
# After 0014.
TOLD = sa.table(
    "media",
    sa.column("key"),
    sa.column("lost_at", UTCDateTime()),
    sa.column("told_at", UTCDateTime()),
)


def _told(engine: sa.Engine) -> tuple[datetime | None, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(TOLD.c.lost_at, TOLD.c.told_at).where(TOLD.c.key == "usb-1")
        ).one()
    return row[0], row[1]


def test_upgrade_and_downgrade(engine: sa.Engine) -> None:
    migrations.to(engine, "0013_audit_verified_head")
    assert "told_at" not in migrations.columns(engine, "media")
    with engine.begin() as conn:  # a medium reported lost before the revision
        conn.execute(
            MEDIA.insert().values(key="usb-1", name="USB-1", created_at=LOST, lost_at=LOST)
        )
    migrations.to(engine, "0014_told_at")
    assert _told(engine) == (LOST, None)
    with engine.begin() as conn:
        conn.execute(sa.update(TOLD).values(told_at=TOLD_AT))
    assert _told(engine) == (LOST, TOLD_AT)
    migrations.to(engine, "0013_audit_verified_head", down=True)
    assert "told_at" not in migrations.columns(engine, "media")
    with engine.connect() as conn:
        assert conn.execute(sa.select(MEDIA.c.lost_at)).scalar_one() == LOST
