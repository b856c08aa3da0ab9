"""Fixtures for the rwc client/CLI tests: a live key server on loopback, principals, TLS.

Everything is real: the key server runs in uvicorn on an ephemeral loopback port, the TLS
certificates are made here with `cryptography`, and the client speaks HTTP over the socket.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyserver._http.app import create_app
from keyserver._store import init_database
from keyserver.testing import bootstrap_principal, running_server, sqlite_settings
from tests.support import servers
from tests.support.clock import ShiftableClock
from tests.support.live import CONTACT, LiveServer
from tests.support.servers import Runner, start_uvicorn, stop_uvicorn
from tests.support.tls import TlsFiles, make_tls_files


@pytest.fixture(scope="session")
def uvicorn_runner() -> Runner:
    """Start ASGI apps on loopback: ``u = uvicorn_runner.start(app); uvicorn_runner.stop(u)``."""
    return Runner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty configuration directory for `rwc` (XDG_CONFIG_HOME: its token store)."""
    d = tmp_path / "home"
    d.mkdir()
    return d


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    return servers.closed_port()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """The test CA, the server's certificate and key, and an unrelated CA (session-wide)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real key server (SQLite) for the session, with its principals."""
    clock = ShiftableClock()
    settings = dataclasses.replace(
        sqlite_settings(tmp_path_factory.mktemp("ks"), contact=CONTACT), clock=clock
    )
    init_database(settings)
    tokens = {
        "writer": bootstrap_principal(settings, "contractor@vendor.example", ["writer"]),
        "reader": bootstrap_principal(settings, "clerk@city.example", ["reader"]),
        "group_reader": bootstrap_principal(
            settings, "deputy@city.example", ["reader"], groups=["benefits"]
        ),
        "outsider": bootstrap_principal(settings, "intern@city.example", ["reader"]),
        "official": bootstrap_principal(settings, "security@city.example", ["official"]),
    }
    with running_server(settings) as url:
        yield LiveServer(url, settings, clock, tokens, CONTACT)


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    """The live server, with its clock put back after the test."""
    yield live
    live.clock.reset()


@pytest.fixture(scope="session")
def tls_port(live: LiveServer, tls_files: TlsFiles) -> Iterator[int]:
    """The same key server (same database) served over TLS by uvicorn with the test CA's cert."""
    u = start_uvicorn(
        create_app(live.settings),
        ssl_certfile=str(tls_files.server_cert),
        ssl_keyfile=str(tls_files.server_key),
    )
    yield u.port
    stop_uvicorn(u)
