"""The console's security tests over HTTP: one server per database, SQLite and PostgreSQL.

CSRF, origin, sign-in roles, session expiry with a moved clock, sign-out, revocation,
sessions shared by two instances on one database, cookie flags, headers, escaping, and
console actions audited with the official as actor (the files of this folder, each one
concern). A real server on a socket, no browser. The database, its server and ``seed``'s
rows are made once per backend for the whole folder (package scope) and put back before
each test (tests/support/database.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from keyserver._domain.settings import Settings
from keyserver._store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support import postgres
from tests.support.clock import FakeClock
from tests.support.console_http import (
    START,
    clock_of,
    seed,
)
from tests.support.database import Pristine, Snapshot


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_template: str | None,
) -> Iterator[tuple[Settings, Pristine]]:
    """One migrated database per backend for this folder: its settings and fresh state.

    A PostgreSQL database per test (a template copy, then a drop) cost the server 0.4-1.3 s
    each on a loaded machine, the SQLite migrations ~0.05 CPU-s; each test now starts from
    the same rows through ``Pristine.reset`` (tests/support/database.py).
    """
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("console-security") / "keyserver.db"
            url = f"sqlite:///{path}"
        else:
            # A copy of the migrated template (tests/conftest.py): these tests are about the
            # console.
            name = stack.enter_context(postgres.fresh_database("console", template=pg_template))
            url = postgres.database_url(name)
        settings = Settings(
            database_url=url,
            master_key_b64=new_master_key_b64(),
            sweep_interval=timedelta(0),
            display_timezone="Asia/Tokyo",
            clock=FakeClock(START),
        )
        init_database(settings)
        pristine = Pristine(url)
        stack.callback(pristine.close)
        yield settings, pristine


@pytest.fixture
def settings(database: tuple[Settings, Pristine]) -> Settings:
    """Settings of the module's database back at its migrated state, the clock at START."""
    settings, pristine = database
    pristine.reset()
    clock_of(settings).t = START
    return settings


@pytest.fixture(scope="package")
def _server(database: tuple[Settings, Pristine]) -> Iterator[str]:
    with running_server(database[0]) as url:
        yield url


@pytest.fixture
def console_url(settings: Settings, _server: str) -> str:
    """The folder's key server over ``settings`` (one per backend, as in tests/keyserver:
    a server per test cost its start and a cold engine, most of a test's CPU time here)."""
    del settings  # asked for its reset before the test
    return _server


@pytest.fixture(scope="package")
def _seeded(database: tuple[Settings, Pristine]) -> tuple[dict[str, str], Snapshot]:
    """``seed``'s tokens and the rows it wrote, made once per backend for this folder."""
    settings, pristine = database
    pristine.reset()
    clock_of(settings).t = START
    return seed(settings), pristine.snapshot()


@pytest.fixture
def tokens(
    settings: Settings,
    database: tuple[Settings, Pristine],
    _seeded: tuple[dict[str, str], Snapshot],
) -> dict[str, str]:
    """The tokens of ``seed``'s principals, in ``settings``'s database: ``seed`` ran once
    per backend for the folder (five audited principals and two containers, ~0.04 CPU-s per
    test) and each test gets its rows written back, as it got them from ``seed``."""
    del settings  # asked for first: the reset to the migrated rows and the clock's start
    database[1].reset(_seeded[1])
    return dict(_seeded[0])
