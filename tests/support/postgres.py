"""The PostgreSQL server the tests use, and throw-away databases on it.

One setting: ``RWC_TEST_POSTGRES_URL`` (DEVELOPERS.md), the URL of the maintenance database,
default ``postgresql://postgres@127.0.0.1:5432/test`` (trust authentication). Tests create
their own databases on that server, named ``<prefix>_<random>``, and drop them afterwards, so
that parallel test processes and other developers' runs never share state.
"""

from __future__ import annotations

import os
import secrets
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


def try_connect(database: str | None = None) -> psycopg.Connection[Any] | None:
    """An autocommit connection, or None when the server does not answer."""
    try:
        return psycopg.connect(conninfo(database), autocommit=True, connect_timeout=3)
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


@contextmanager
def fresh_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database (empty, or a copy of ``template``) for the block; yields its name."""
    conn = admin()
    try:
        name = create_database(conn, prefix, template)
        try:
            yield name
        finally:
            drop_database(conn, name)
    finally:
        conn.close()
