"""Shared fixtures: every test runs on SQLite (temp dir) AND PostgreSQL (own database).

PostgreSQL: each test module creates its own database ``ks_<random>`` (via the
maintenance database ``test``), every test starts from emptied tables, and the database
is dropped after the module. When the server at 127.0.0.1:5432 is unreachable, the
PostgreSQL half is skipped with a reason. SQLite: a fresh file per test.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ks_helpers import PG_ADMIN, PG_URL, FakeClock, World, make_world

from keyserver.domain.settings import Settings
from keyserver.service import KeyService
from keyserver.store import init_database
from keyserver.testing import new_master_key_b64, running_server


def _pg_admin() -> psycopg.Connection[Any] | None:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None


TABLES = (
    "audit_log, audit_head, challenges, container_reader_groups, container_readers,"
    " containers, media, tokens, principal_groups, principal_roles, principals"
)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str | None]:
    """One migrated PostgreSQL database per test module, dropped afterwards."""
    conn = _pg_admin()
    if conn is None:
        yield None
        return
    name = "ks_" + secrets.token_hex(6)
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        init_database(Settings(database_url=PG_URL.format(db=name), master_key_b64="A" * 43))
        yield name
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def reset_pg_database(name: str) -> None:
    """Empty every table and reset the chain head: each test starts from genesis."""
    with psycopg.connect(PG_ADMIN.replace("dbname=test", f"dbname={name}"), autocommit=True) as c:
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
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    reset_pg_database(name)
    return Settings(database_url=PG_URL.format(db=name), **common)


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
