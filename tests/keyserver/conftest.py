"""Shared fixtures: every test runs on SQLite (temp dir) AND PostgreSQL (own database).

Each test process (an xdist worker) has one database per backend: SQLite, a copy of a
migrated file in a temporary directory; PostgreSQL, its own database ``ks_<random>``, a copy
of one migrated template (``CREATE DATABASE ... TEMPLATE``), dropped at the end of the
session. Every test starts from the freshly migrated state (tests/support/database.py puts
it back), with the clock at its start. The key server of ``world`` is started once per test
process and backend and serves every test: its start-up, the database's creation and the
principals' set-up, not the tests, dominated the run time (a PostgreSQL copy and drop cost
0.2-1.4 s of server time each, and a drop may wait for a checkpoint). The principals of
``world`` are made once per test process and backend (one master key per process) and
written back by each test's reset.

A test that changes the schema (a migration's test) marks itself ``own_database``: it gets a
database of its own (a copy of the same template, with the same rows written in) and, for
``world``, a server of its own, so that the shared server's prepared statements and the
shared database's schema are never those it changed.

When the PostgreSQL server (``RWC_TEST_POSTGRES_URL``) is unreachable, the PostgreSQL half is
skipped with one line saying how to start it, and fails under ``RWC_TEST_STRICT`` (CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support import postgres
from tests.support.clock import FakeClock
from tests.support.database import Pristine, Snapshot
from tests.support.requirements import missing
from tests.support.world import World, make_world


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each database (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("tpl") / "keyserver.db"
    init_database(Settings(database_url=f"sqlite:///{path}", master_key_b64="A" * 43))
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def process_clock() -> FakeClock:
    """The key server's clock (in every ``Settings`` of this process); ``clock`` rewinds it."""
    return FakeClock()


@pytest.fixture
def clock(process_clock: FakeClock) -> FakeClock:
    """The key server's clock, back at its start for each test."""
    process_clock.t = FakeClock().t
    return process_clock


@pytest.fixture(scope="session")
def master_key_b64() -> str:
    """One master key per test process: rows keyed by it (row MACs, the audit chain), such
    as ``world_state``'s, are then valid in every database of the process."""
    return new_master_key_b64()


def _new_database(request: pytest.FixtureRequest, backend: str, stack: ExitStack) -> str:
    """The URL of a new migrated database of ``backend`` (a copy of the template), removed
    when ``stack`` closes."""
    if backend == "sqlite":
        path = request.getfixturevalue("tmp_path_factory").mktemp("ks") / "keyserver.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    template = request.getfixturevalue("pg_template")  # tests/conftest.py
    if template is None:  # the server was down: skips, or fails under RWC_TEST_STRICT
        missing(postgres.describe(), postgres.START_HINT)
    conn = postgres.admin()
    try:
        name = postgres.create_database(conn, "ks", template=template)
    finally:
        conn.close()
    stack.callback(postgres.drop_later, name)
    return postgres.database_url(name)


class _Backends:
    """Per backend, this process's settings, its database's ``Pristine`` and its server,
    each made when a test first asks for it and closed at the end of the session."""

    def __init__(self, stack: ExitStack, clock: FakeClock, master_key_b64: str) -> None:
        self.stack = stack
        self.settings: dict[str, Settings] = {}
        self.pristine: dict[str, Pristine] = {}
        self.servers: dict[str, str] = {}
        self.common: dict[str, Any] = {
            "master_key_b64": master_key_b64,
            "sweep_interval": timedelta(0),
            "clock": clock,
            "contact": "privacy@city.example",
            # Tests do not need durability against power loss; production keeps FULL.
            "sqlite_synchronous": "NORMAL",
        }


@pytest.fixture(scope="session")
def backends(process_clock: FakeClock, master_key_b64: str) -> Iterator[_Backends]:
    """What ``process_settings``, ``pristine`` and ``process_server`` share for the session
    (closed in the reverse order: servers, then engines, then databases)."""
    with ExitStack() as stack:
        yield _Backends(stack, process_clock, master_key_b64)


@pytest.fixture(scope="module")
def process_settings(backend: str, backends: _Backends, request: pytest.FixtureRequest) -> Settings:
    """The settings over this process's database of ``backend`` (made on first use)."""
    if backend not in backends.settings:
        url = _new_database(request, backend, backends.stack)
        backends.settings[backend] = Settings(database_url=url, **backends.common)
    return backends.settings[backend]


@pytest.fixture(scope="module")
def pristine(process_settings: Settings, backend: str, backends: _Backends) -> Pristine:
    """The process database's freshly migrated rows (read before any test ran)."""
    if backend not in backends.pristine:
        snapshot = Pristine(process_settings.database_url)
        backends.stack.callback(snapshot.close)
        backends.pristine[backend] = snapshot
    return backends.pristine[backend]


@pytest.fixture(scope="session")
def made_worlds() -> dict[str, tuple[dict[str, str], Snapshot]]:
    """Per backend, ``world_state``'s tokens and rows (made once per test process)."""
    return {}


@pytest.fixture(scope="module")
def world_state(
    process_settings: Settings,
    pristine: Pristine,
    process_clock: FakeClock,
    backend: str,
    made_worlds: dict[str, tuple[dict[str, str], Snapshot]],
) -> tuple[dict[str, str], Snapshot]:
    """``make_world``'s principals, made once per test process and backend: their tokens and
    the database rows.

    Seven audited ``add_principal`` calls cost 0.05-0.09 CPU-s before each test that asks for
    ``world``; writing the same rows back is part of the reset each test has anyway. Made
    from the migrated state at the clock's start, as each test's own ``make_world`` was.
    """
    if backend in made_worlds:
        return made_worlds[backend]
    pristine.reset()
    process_clock.t = FakeClock().t
    made = make_world(process_settings, url="")
    made.close()
    return made_worlds.setdefault(backend, (made.tokens, pristine.snapshot()))


@pytest.fixture
def settings(
    process_settings: Settings,
    pristine: Pristine,
    clock: FakeClock,
    backend: str,
    request: pytest.FixtureRequest,
) -> Iterator[Settings]:
    """The process's settings, over its database put back to the freshly migrated state
    (with ``world``'s principals in it when the test asks for ``world``).

    A test marked ``own_database`` gets the same state in a database of its own, removed
    after the test.
    """
    del clock  # asked for its reset
    state = request.getfixturevalue("world_state")[1] if "world" in request.fixturenames else None
    if request.node.get_closest_marker("own_database") is None:
        pristine.reset(state)
        yield process_settings
        return
    with ExitStack() as stack:
        url = _new_database(request, backend, stack)
        # Same template as the process's database, so the same tables (read once).
        own = Pristine(url, schema=pristine)
        stack.callback(own.close)
        own.reset(state)
        yield process_settings.replace(database_url=url)


@pytest.fixture(scope="module")
def process_server(
    process_settings: Settings, pristine: Pristine, backend: str, backends: _Backends
) -> str:
    """One key server per test process and backend (``world``); its base URL."""
    del pristine  # the database's rows are read before the server writes any
    if backend not in backends.servers:
        backends.servers[backend] = backends.stack.enter_context(running_server(process_settings))
    return backends.servers[backend]


@pytest.fixture
def world(settings: Settings, request: pytest.FixtureRequest) -> Iterator[World]:
    """The process's key server over a fresh database, with one principal per role
    (``make_world``'s, written back by ``settings`` from ``world_state``).

    A test marked ``own_server`` gets a server of its own: one that reads what a server keeps
    in memory (the /metrics counters), which the shared server carries from test to test. So
    does a test marked ``own_database`` (the shared server serves the shared database).
    """
    tokens = dict(request.getfixturevalue("world_state")[0])  # the rows: ``settings`` put them back
    node = request.node
    if node.get_closest_marker("own_server") or node.get_closest_marker("own_database"):
        with running_server(settings) as url:
            w = World(settings=settings, url=url, tokens=tokens)
            yield w
            w.close()
        return
    w = World(settings=settings, url=request.getfixturevalue("process_server"), tokens=tokens)
    yield w
    w.close()


@pytest.fixture
def service(settings: Settings) -> Iterator[KeyService]:
    svc = KeyService(settings)
    yield svc
    svc.close()


@pytest.fixture
def early(backend: str, settings: Settings, service: KeyService) -> Iterator[KeyService]:
    """A service whose release batches commit early, as deployed: PostgreSQL always; SQLite
    at FULL (the tests' NORMAL never syncs at commit, so nothing is deferred there)."""
    if backend == "postgres":
        yield service
        return
    full = KeyService(settings.replace(sqlite_synchronous="FULL"))
    yield full
    full.close()
