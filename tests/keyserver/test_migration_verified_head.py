"""Migration 0013_audit_verified_head adds the remembered verified head's table, and back.

On SQLite and PostgreSQL: upgraded from 0012, the table takes a record written by the
server's code and reads it back genuine; downgraded, it is gone; upgraded again, it is
there and empty (the first verification then starts from the genesis).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from keyserver._domain.verified_head import VerifiedHead
from keyserver._store import audit_progress
from tests.support import migrations

KEY = b"\x05" * 32


engine = migrations.engine  # the fixture: an empty database, on SQLite and on PostgreSQL


def _has_table(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return "audit_verified_head" in sa.inspect(conn).get_table_names()


def test_upgrade_and_downgrade(engine: sa.Engine) -> None:
    migrations.to(engine, "0012_tlog_tiles")
    assert not _has_table(engine)
    migrations.to(engine, "0013_audit_verified_head")
    at = datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC)  # microseconds kept by both
    head = VerifiedHead(2**40, b"\x01" * 32, at, at)  # a 64-bit seq on both backends
    with Session(engine) as session, session.begin():
        audit_progress.remember(session, KEY, head, full=True, resumed_from=0)
    with Session(engine) as session:
        assert audit_progress.read(session, KEY) == audit_progress.Remembered(head, True)
    migrations.to(engine, "0012_tlog_tiles", down=True)
    assert not _has_table(engine)
    migrations.to(engine, "head")
    with Session(engine) as session:
        assert audit_progress.read(session, KEY) is None
