"""The PostgreSQL server the tests use, and throw-away databases on it.

One setting: ``RWC_TEST_POSTGRES_URL`` (DEVELOPERS.md), the URL of the maintenance database,
default ``postgresql://postgres@127.0.0.1:5432/test`` (trust authentication). Tests create
their own databases on that server, named ``<prefix>_<random>``, and drop them afterwards, so
that parallel test processes and other developers' runs never share state.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from tests.support.requirements import missing

URL_VARIABLE = "RWC_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
START_HINT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
    f" or set {URL_VARIABLE}"
)


def admin_url() -> str:
    """The maintenance database's URL (``RWC_TEST_POSTGRES_URL`` or the default)."""
    return os.environ.get(URL_VARIABLE) or DEFAULT_URL


def conninfo(database: str | None = None) -> str:
    """A libpq URL for ``database`` on the test server (default: the maintenance database)."""
    url = make_url(admin_url()).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def database_url(database: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) the key server uses for ``database``."""
    url = make_url(admin_url()).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def describe() -> str:
    """The server as a person reads it, e.g. ``PostgreSQL at 127.0.0.1:5432``."""
    url = make_url(admin_url())
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"


# A hang guard, not a timing: a server that is down refuses at once, and a connection
# slower than this on a loaded CI machine would be taken for a server that is down (a
# skip, which fails the run under RWC_TEST_STRICT). It was 3 s.
CONNECT_TIMEOUT_S = 30


def try_connect(database: str | None = None) -> psycopg.Connection[Any] | None:
    """An autocommit connection, or None when the server does not answer."""
    try:
        return psycopg.connect(
            conninfo(database), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError:
        return None


def admin() -> psycopg.Connection[Any]:
    """An autocommit connection to the maintenance database; skips (fails if strict) if down."""
    conn = try_connect()
    if conn is None:
        missing(describe(), START_HINT)
    return conn


def create_database(conn: psycopg.Connection[Any], prefix: str, template: str | None = None) -> str:
    """Create a database ``<prefix>_<random>`` (empty, or a copy of ``template``); its name.

    A copy of a migrated template is a file copy on the server: a fraction of the time the
    migrations take, which the PostgreSQL half of every key-server test module paid.
    """
    name = f"{prefix}_{secrets.token_hex(6)}"
    if template is None:
        conn.execute(f'CREATE DATABASE "{name}"')
    else:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    # Tests need no durability against a power cut (as with sqlite_synchronous=NORMAL); a
    # commit that does not wait for the WAL flush saves a disk sync per audited write.
    conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    return name


def drop_database(conn: psycopg.Connection[Any], name: str) -> None:
    """Drop a test database, ending whatever connections a failed test left open."""
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Dropper:
    """Drops test databases in a thread of the test process, while the next test runs.

    PostgreSQL (15) ends every DROP DATABASE with a checkpoint it waits for: 0.1-2 s of
    server I/O per database on a shared machine, which the test process spent idle. The
    database is already out of the test's hands (its connections end WITH (FORCE)); the
    test process waits for the drops still queued at the end of its session (``finish``),
    so no database outlives the run that made it.
    """

    def __init__(self) -> None:
        self._names: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures: list[str] = []

    def put(self, name: str) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="drop-database")
                self._thread.daemon = True  # a crashed run must still exit; finish() joins
                self._thread.start()
        self._names.put(name)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while (name := self._names.get()) is not None:
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(
                        conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                    )
                drop_database(conn, name)
            except psycopg.Error as exc:  # reported by finish(): tests/conftest.py fails on it
                self.failures.append(f"{name}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def finish(self) -> list[str]:
        """Wait for the queued drops; the databases that could not be dropped, and why."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._names.put(None)
            thread.join()
        return self.failures


_dropper = _Dropper()


def drop_later(name: str) -> None:
    """Drop a test database in the background (``_Dropper``); ``finish_drops`` waits."""
    _dropper.put(name)


def finish_drops() -> list[str]:
    """Wait for every ``drop_later`` of this process (tests/conftest.py, at the session's
    end); returns the databases that could not be dropped, with the reason."""
    return _dropper.finish()


@contextmanager
def fresh_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database (empty, or a copy of ``template``) for the block; yields its name.

    Dropped after the block, in the background (``drop_later``).
    """
    conn = admin()
    try:
        name = create_database(conn, prefix, template)
    finally:
        conn.close()
    try:
        yield name
    finally:
        drop_later(name)
