"""Migration 0006_lost_seq gives media reported lost before it their ``lost_seq`` (spec §report).

The database is migrated to 0005, given a log and media as an older server left them,
then migrated to the head: a medium's ``lost_seq`` is the first entry at or after its
``lost_at`` (none: the next entry to come), and a medium never reported lost has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from keyserver._domain.settings import Settings
from keyserver._store.engine import _alembic_config, make_engine, migrate
from keyserver._store.models import UTCDateTime
from tests.support import migrations, postgres

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
_LOG = sa.table(
    "audit_log",
    *(sa.column(c) for c in ("seq", "actor", "action", "outcome", "details")),
    sa.column("at", UTCDateTime()),
    sa.column("prev_hash", sa.LargeBinary()),
    sa.column("hash", sa.LargeBinary()),
)
_MEDIA = migrations.MEDIA


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyserver.db'}"
        return
    with postgres.fresh_database("ks_mig") as name:
        yield postgres.database_url(name)


def test_lost_seq_backfilled_from_the_log(database_url: str) -> None:
    settings = Settings(database_url=database_url, master_key_b64="A" * 43)
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005_incident")
        with engine.begin() as conn:
            conn.execute(
                sa.insert(_LOG),
                [
                    {
                        "seq": seq,
                        "at": T0 + timedelta(hours=seq - 1),
                        "actor": "a",
                        "action": "evaluate",
                        "outcome": "ok",
                        "details": "{}",
                        "prev_hash": b"\0" * 32,
                        "hash": b"\0" * 32,
                    }
                    for seq in (1, 2, 3)
                ],
            )
            conn.execute(sa.text("UPDATE audit_head SET seq = 3 WHERE id = 1"))
            lost = {"m1": timedelta(minutes=30), "m2": timedelta(hours=2), "m3": timedelta(hours=5)}
            conn.execute(
                sa.insert(_MEDIA),
                [
                    {
                        "key": k,
                        "name": k,
                        "created_at": T0,
                        "lost_at": T0 + lost[k] if k in lost else None,
                    }
                    for k in ("m1", "m2", "m3", "m4")
                ],
            )
        migrate(settings, engine)
        with engine.connect() as conn:
            rows: dict[str, int | None] = {
                str(k): None if v is None else int(v)
                for k, v in conn.execute(sa.text("SELECT key, lost_seq FROM media"))
            }
    finally:
        engine.dispose()
    assert rows == {"m1": 2, "m2": 3, "m3": 4, "m4": None}
