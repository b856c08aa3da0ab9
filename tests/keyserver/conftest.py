"""Shared fixtures: every test runs on SQLite (temp dir) AND PostgreSQL (own database).

PostgreSQL: a migrated template database is created once per test session
(``ks_tpl_<random>``) and each test gets ``CREATE DATABASE ks_<random> TEMPLATE ...``;
everything is dropped afterwards. When the server at 127.0.0.1:5432 is unreachable, the
PostgreSQL half is skipped with a reason.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ks_helpers import PG_ADMIN, PG_URL, FakeClock, World, make_world

from keyserver.db import init_database
from keyserver.service import KeyService
from keyserver.settings import Settings
from keyserver.testing import new_master_key_b64, running_server


def _pg_admin() -> psycopg.Connection[Any] | None:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    conn = _pg_admin()
    if conn is None:
        yield None
        return
    name = "ks_tpl_" + secrets.token_hex(6)
    conn.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(database_url=PG_URL.format(db=name), master_key_b64=new_master_key_b64())
    init_database(settings)
    try:
        yield name
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def create_pg_database(template: str) -> str:
    conn = _pg_admin()
    assert conn is not None
    name = "ks_" + secrets.token_hex(6)
    with conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_pg_database(name: str) -> None:
    conn = _pg_admin()
    if conn is not None:
        with conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(
    backend: str, tmp_path: Path, clock: FakeClock, pg_template: str | None
) -> Iterator[Settings]:
    common: dict[str, Any] = {
        "master_key_b64": new_master_key_b64(),
        "sweep_interval": timedelta(0),
        "clock": clock,
        "contact": "privacy@city.example",
    }
    if backend == "sqlite":
        s = Settings(database_url=f"sqlite:///{tmp_path / 'keyserver.db'}", **common)
        init_database(s)
        yield s
        return
    if pg_template is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    name = create_pg_database(pg_template)
    try:
        yield Settings(database_url=PG_URL.format(db=name), **common)
    finally:
        drop_pg_database(name)


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
