"""Shared fixtures: every test runs on SQLite (temp dir) AND PostgreSQL (own database).

Each test module has one database per backend: SQLite, a copy of a migrated file in the
module's temporary directory; PostgreSQL, its own database ``ks_<random>``, a copy of one
migrated template per test process (``CREATE DATABASE ... TEMPLATE``), dropped after the
module. Every test starts from the freshly migrated state (tests/support/database.py puts
it back), with the clock at its start. The key server
of ``world`` is started once per module and backend and serves every test of the module:
its start-up and the principals' set-up, not the tests, dominated the run time.

When the PostgreSQL server (``RWC_TEST_POSTGRES_URL``) is unreachable, the PostgreSQL half is
skipped with one line saying how to start it, and fails under ``RWC_TEST_STRICT`` (CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from keyserver.domain.settings import Settings
from keyserver.service import KeyService
from keyserver.store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support import postgres
from tests.support.clock import FakeClock
from tests.support.database import Pristine, Snapshot
from tests.support.world import World, make_world


@pytest.fixture(scope="module")
def pg_database(pg_template: str | None) -> Iterator[str | None]:
    """One migrated PostgreSQL database per test module (a copy of the template), dropped after.

    ``pg_template``: tests/conftest.py.
    """
    if pg_template is None:
        yield None
        return
    conn = postgres.admin()
    try:
        name = postgres.create_database(conn, "ks", template=pg_template)
        try:
            yield name
        finally:
            postgres.drop_database(conn, name)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each module (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("tpl") / "keyserver.db"
    init_database(Settings(database_url=f"sqlite:///{path}", master_key_b64="A" * 43))
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def module_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clock(module_clock: FakeClock) -> FakeClock:
    """The key server's clock, back at its start for each test."""
    module_clock.t = FakeClock().t
    return module_clock


@pytest.fixture(scope="module")
def module_settings(
    backend: str,
    module_clock: FakeClock,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Settings:
    common: dict[str, Any] = {
        "master_key_b64": new_master_key_b64(),
        "sweep_interval": timedelta(0),
        "clock": module_clock,
        "contact": "privacy@city.example",
        # Tests do not need durability against power loss; production keeps FULL.
        "sqlite_synchronous": "NORMAL",
    }
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("ks") / "keyserver.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return Settings(database_url=f"sqlite:///{path}", **common)
    name = request.getfixturevalue("pg_database")
    if name is None:
        postgres.admin()  # skips, or fails under RWC_TEST_STRICT, saying how to start it
    return Settings(database_url=postgres.database_url(name), **common)


@pytest.fixture(scope="module")
def pristine(module_settings: Settings) -> Iterator[Pristine]:
    """The module database's freshly migrated rows (read before any test ran)."""
    snapshot = Pristine(module_settings.database_url)
    yield snapshot
    snapshot.close()


@pytest.fixture(scope="module")
def world_state(
    module_settings: Settings, pristine: Pristine, module_clock: FakeClock
) -> tuple[dict[str, str], Snapshot]:
    """``make_world``'s principals, made once per module: their tokens and the database rows.

    Seven audited ``add_principal`` calls cost 0.05-0.09 CPU-s before each test that asks for
    ``world``; writing the same rows back is part of the reset each test has anyway. Made
    from the migrated state at the clock's start, as each test's own ``make_world`` was.
    """
    pristine.reset()
    module_clock.t = FakeClock().t
    made = make_world(module_settings, url="")
    made.close()
    return made.tokens, pristine.snapshot()


@pytest.fixture
def settings(
    module_settings: Settings, pristine: Pristine, clock: FakeClock, request: pytest.FixtureRequest
) -> Settings:
    """The module's settings, over its database put back to the freshly migrated state
    (with ``world``'s principals in it when the test asks for ``world``)."""
    if "world" in request.fixturenames:
        pristine.reset(request.getfixturevalue("world_state")[1])
    else:
        pristine.reset()
    return module_settings


@pytest.fixture(scope="module")
def module_server(module_settings: Settings, pristine: Pristine) -> Iterator[str]:
    """One key server for the tests of a module (``world``); yields its base URL."""
    with running_server(module_settings) as url:
        yield url


@pytest.fixture
def world(settings: Settings, request: pytest.FixtureRequest) -> Iterator[World]:
    """The module's key server over a fresh database, with one principal per role
    (``make_world``'s, written back by ``settings`` from ``world_state``).

    A test marked ``own_server`` gets a server of its own: one that reads what a server keeps
    in memory (the /metrics counters), which the module's server carries from test to test.
    """
    tokens = dict(request.getfixturevalue("world_state")[0])  # the rows: ``settings`` put them back
    if request.node.get_closest_marker("own_server") is not None:
        with running_server(settings) as url:
            w = World(settings=settings, url=url, tokens=tokens)
            yield w
            w.close()
        return
    w = World(settings=settings, url=request.getfixturevalue("module_server"), tokens=tokens)
    yield w
    w.close()


@pytest.fixture
def service(settings: Settings) -> Iterator[KeyService]:
    svc = KeyService(settings)
    yield svc
    svc.close()
