"""End-to-end fixtures (helpers: tests/support/e2e.py).

One session-scoped key server (``keyserver init`` + ``keyserver serve`` on a free loopback
port, SQLite in a temporary directory) is shared by the tests; every test works on its own
containers and media. Tests that stop the server use ``private_story``: a server of their
module's own, restarted when a test stopped it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import e2e
from tests.support.e2e import (
    KeyServer,
    People,
    Rwc,
    Story,
    add_principal_http,
    init_server,
    make_people,
    make_people_http,
    unique,
)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyServer]:
    """One live key server for every e2e test that does not stop it."""
    server = init_server(tmp_path_factory.mktemp("ks"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def people(shared_server: KeyServer) -> People:
    """The principals of the story, created once (the writer with ``keyserver principal add``)."""
    return make_people(shared_server)


@pytest.fixture
def story(shared_server: KeyServer, people: People, tmp_path: Path) -> Story:
    """The shared server and people, with a fresh working directory for this test."""
    (tmp_path / "home").mkdir()
    return Story(
        server=shared_server,
        people=people,
        rwc=Rwc(work=tmp_path, server=shared_server.url),
        work=tmp_path,
    )


@pytest.fixture
def writer_story(shared_server: KeyServer, people: People, tmp_path: Path) -> Story:
    """Like ``story``, with a writer of its own (for per-issuer operations)."""
    (tmp_path / "home").mkdir()
    name = unique("w") + "@vendor.example"
    own = dataclasses.replace(
        people, writer=name, writer_token=add_principal_http(shared_server, name, "writer")
    )
    return Story(
        server=shared_server,
        people=own,
        rwc=Rwc(work=tmp_path, server=shared_server.url),
        work=tmp_path,
    )


@pytest.fixture(scope="module")
def stoppable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KeyServer, People]]:
    """A key server of this module's own, which its tests may stop."""
    server = init_server(tmp_path_factory.mktemp("ks-own"))
    server.start()
    try:
        yield server, make_people_http(server)
    finally:
        server.stop()


@pytest.fixture
def private_story(stoppable: tuple[KeyServer, People], tmp_path: Path) -> Story:
    """A story on the module's own server, restarted if a previous test stopped it."""
    server, own_people = stoppable
    if server.proc is None:
        server.start()
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    return Story(server=server, people=own_people, rwc=Rwc(work=work, server=server.url), work=work)


@pytest.fixture(scope="session")
def h() -> ModuleType:
    """tests/support/e2e.py (helpers, exit codes), for tests written before it could be imported.

    New tests import it: ``from tests.support import e2e as h``.
    """
    return e2e
