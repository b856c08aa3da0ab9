"""Readiness (``/readyz``): can this server WRITE to its database right now?

A server that can read but not write answers every evaluate with a refusal it cannot even
record; a load balancer must take it out of rotation. So readiness is a write probe: in a
transaction that is rolled back, lock the audit chain head and update it in place (fails
on a read-only file, mount or standby, and on a lock held past the lock timeout), and, for
SQLite, the free space of the database's file system (a full disk lets the probe's
rolled-back update pass but fails the next commit).
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, text

from keyserver._domain.errors import UnavailableError
from keyserver._domain.i18n import N_
from keyserver._store.writelock import engine_write_lock, sqlite_file

# Below this, the next WAL append or checkpoint may fail (one release writes a few KiB).
MIN_FREE_BYTES = 1 << 20


def check_writable(engine: Engine) -> None:
    """Raise unless a write transaction can run and commit on ``engine``.

    Raises:
        sqlalchemy.exc.OperationalError: The database refused the write (503).
        UnavailableError: The SQLite file system is (nearly) full (503).
    """
    if engine.dialect.name == "sqlite":
        url = engine.url
        path = sqlite_file(url.database, str(url.query.get("uri", "")).lower() == "true")
        if path is not None:
            st = os.statvfs(path.parent)
            if st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
                raise UnavailableError(N_("the key server's disk is full; nothing can be recorded"))
        with engine_write_lock(engine):
            _probe(engine)
    else:
        _probe(engine)


def _probe(engine: Engine) -> None:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
        finally:
            tx.rollback()
