"""Shared fixtures: every test runs on SQLite (temp dir) AND PostgreSQL (own database).

PostgreSQL: each test module creates its own database ``ks_<random>`` (via the
maintenance database ``test``), every test starts from emptied tables, and the database
is dropped after the module. When the server (``RWC_TEST_POSTGRES_URL``) is unreachable, the
PostgreSQL half is skipped with one line saying how to start it, and fails under
``RWC_TEST_STRICT`` (CI). SQLite: a fresh file per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from keyserver.domain.settings import Settings
from keyserver.service import KeyService
from keyserver.store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support import postgres
from tests.support.clock import FakeClock
from tests.support.world import World, make_world

TABLES = (
    "audit_log, audit_head, challenges, container_reader_groups, container_readers,"
    " containers, media, tokens, principal_groups, principal_roles, principals"
)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str | None]:
    """One migrated PostgreSQL database per test module, dropped afterwards."""
    conn = postgres.try_connect()
    if conn is None:
        yield None  # the tests that need it skip (or fail under RWC_TEST_STRICT)
        return
    try:
        name = postgres.create_database(conn, "ks")
        try:
            init_database(
                Settings(database_url=postgres.database_url(name), master_key_b64="A" * 43)
            )
            yield name
        finally:
            postgres.drop_database(conn, name)
    finally:
        conn.close()


def reset_pg_database(name: str) -> None:
    """Empty every table and reset the chain head: each test starts from genesis."""
    with psycopg.connect(postgres.conninfo(name), autocommit=True) as c:
        c.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        c.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s)", (b"\0" * 32,))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("tpl") / "keyserver.store"
    init_database(Settings(database_url=f"sqlite:///{path}", master_key_b64="A" * 43))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(
    backend: str,
    tmp_path: Path,
    clock: FakeClock,
    request: pytest.FixtureRequest,
) -> Settings:
    common: dict[str, Any] = {
        "master_key_b64": new_master_key_b64(),
        "sweep_interval": timedelta(0),
        "clock": clock,
        "contact": "privacy@city.example",
        # Tests do not need durability against power loss; production keeps FULL.
        "sqlite_synchronous": "NORMAL",
    }
    if backend == "sqlite":
        path = tmp_path / "keyserver.store"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return Settings(database_url=f"sqlite:///{path}", **common)
    name = request.getfixturevalue("pg_database")
    if name is None:
        postgres.admin()  # skips, or fails under RWC_TEST_STRICT, saying how to start it
    reset_pg_database(name)
    return Settings(database_url=postgres.database_url(name), **common)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with running_server(settings) as url:
        w = make_world(settings, url)
        yield w
        w.close()


@pytest.fixture
def service(settings: Settings) -> Iterator[KeyService]:
    svc = KeyService(settings)
    yield svc
    svc.close()
