"""A server's first requests build nothing its later ones do not (issue 15, warm-up).

FastAPI builds a router's routes (dependency trees, a pydantic TypeAdapter per parameter)
when a request is first matched against it; before the warm-up (keyserver/_http/warmup.py)
whichever request came first in a worker paid ~0.1 s of CPU for it. Counted here, not
timed: the TypeAdapters built while the first requests after start-up are answered,
over a real socket, by a server whose lifespan has run.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from keyserver._http.app import create_app
from keyserver._store import init_database, tlog
from keyserver.testing import sqlite_settings
from tests.support.servers import UvicornThread, start_uvicorn, stop_uvicorn

# One per router of the API and the console, none of them the first one included.
FIRST_REQUESTS = ("/v1/tlog", "/v1/approvals", "/console/", "/healthz", "/v1/no-such-route")


@pytest.fixture
def adapters_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The TypeAdapters made in this process from now on (the real ones: counted only)."""
    built: list[str] = []
    original = TypeAdapter.__init__

    def counting(self: TypeAdapter[Any], *args: Any, **kwargs: Any) -> None:
        built.append(repr(args[0]) if args else "?")
        original(self, *args, **kwargs)

    monkeypatch.setattr(TypeAdapter, "__init__", counting)
    return built


@pytest.fixture
def server(tmp_path: Path) -> Iterator[UvicornThread]:
    settings = sqlite_settings(tmp_path)
    init_database(settings)
    served = start_uvicorn(create_app(settings), lifespan="on", proxy_headers=False)
    yield served
    stop_uvicorn(served)


def test_the_first_requests_after_start_up_build_no_route_models(
    adapters_built: list[str], server: UvicornThread
) -> None:
    before = len(adapters_built)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        statuses = []
        for path in FIRST_REQUESTS:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    assert statuses[-1] == 404 and all(s < 500 for s in statuses), statuses
    assert adapters_built[before:] == []


def test_the_warm_up_was_neither_audited_nor_counted(tmp_path: Path) -> None:
    # The warm-up's requests go through the whole app: they must leave no trace an
    # official or an operator would read (the audit log, /metrics).
    settings = sqlite_settings(tmp_path)
    init_database(settings)
    app = create_app(settings)
    service = app.state.service
    before = service.metrics.render({})
    with service.ledger.reads() as session:
        head = tlog.audit_head(session)
    served = start_uvicorn(app, lifespan="on", proxy_headers=False)
    try:
        with service.ledger.reads() as session:
            assert tlog.audit_head(session) == head
        assert service.metrics.render({}) == before
    finally:
        stop_uvicorn(served)
