"""keyserver.testing.PromptStopServer's stop (running_server, tests/support/servers.py).

It no longer waits on uvicorn's 0.1 s tick and fixed 0.1 s sleep; these tests hold it to
what a stop must still do, over a real socket: a response being sent when the stop is
asked is finished in full, an idle keep-alive connection does not hold the stop up, and the
app's lifespan shutdown (which closes the service and its database engine) runs last.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from keyserver.testing import PromptStopServer, running_server, sqlite_settings
from tests.support.servers import start_uvicorn, stop_uvicorn

# Bounds on waiting for events of the test itself; a hang fails the test, never a time.
WAIT_S = 20


def _app(events: list[str], entered: threading.Event, release: threading.Event) -> FastAPI:
    """An app that records its lifespan and a slow request's end, in order."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        entered.set()
        await asyncio.to_thread(release.wait, WAIT_S)
        events.append("slow answered")
        return {"body": "x" * 100_000}

    @app.get("/fast")
    async def fast() -> dict[str, bool]:
        return {"ok": True}

    return app


def _refused(port: int) -> bool:
    """True once nothing accepts connections on the port (the stop has closed the listener)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        # A reset is the same answer, caught mid-close: the handshake had completed into the
        # listener's accept queue and closing the listener reset what was queued (the ninth
        # session's CI run met this once, on a loaded machine).
        return True
    return False


def _wait_until(what: str, condition: object) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(0.01)


def test_stop_finishes_a_response_in_flight_then_shuts_the_app_down(tmp_path: Path) -> None:
    events: list[str] = []
    entered, release = threading.Event(), threading.Event()
    server = running_server(sqlite_settings(tmp_path), app=_app(events, entered, release))
    url = server.__enter__()
    port = int(url.rsplit(":", 1)[1])
    answers: list[httpx.Response] = []
    client = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{url}/slow", timeout=WAIT_S)), daemon=True
    )
    client.start()
    assert entered.wait(WAIT_S)
    stopper = threading.Thread(target=server.__exit__, args=(None, None, None), daemon=True)
    stopper.start()
    # The stop is under way (no new connection is accepted) while the response is not sent.
    _wait_until("the listener closed", lambda: _refused(port))
    assert events == ["startup"]
    release.set()
    client.join(WAIT_S)
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    [answer] = answers
    assert answer.status_code == 200
    assert answer.json() == {"body": "x" * 100_000}
    assert events == ["startup", "slow answered", "shutdown"]


def test_stop_closes_an_idle_keep_alive_connection() -> None:
    events: list[str] = []
    app = _app(events, threading.Event(), threading.Event())
    # uvicorn closes an idle connection itself after timeout_keep_alive (5 s): far longer
    # here, so that only the stop can have closed it.
    u = start_uvicorn(app, lifespan="on", timeout_keep_alive=3600)
    conn = http.client.HTTPConnection("127.0.0.1", u.port, timeout=WAIT_S)
    conn.request("GET", "/fast")
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b'{"ok":true}')
    assert not answer.will_close  # kept alive, idle
    kept = conn.sock
    assert kept is not None
    stop_uvicorn(u)
    assert not u.thread.is_alive()
    # The app was shut down and the server closed the connection.
    assert events == ["startup", "shutdown"]
    assert kept.recv(1) == b""
    conn.close()


def test_should_exit_alone_still_stops_it() -> None:
    """uvicorn's own way to stop (the flag, no wake-up) ends the server too."""
    events: list[str] = []
    app = _app(events, threading.Event(), threading.Event())
    u = start_uvicorn(app, lifespan="on")
    assert isinstance(u.server, PromptStopServer)
    assert httpx.get(f"http://127.0.0.1:{u.port}/fast", timeout=WAIT_S).status_code == 200
    u.server.should_exit = True
    u.thread.join(WAIT_S)
    assert not u.thread.is_alive()
    assert events == ["startup", "shutdown"]
    assert _refused(u.port)
    stop_uvicorn(u)  # stopping a stopped server is harmless


def test_the_url_comes_after_the_server_has_answered_once(tmp_path: Path) -> None:
    """The app's first request (FastAPI builds its routes then) is paid before the URL.

    On a loaded machine that first request outlasted a test client's 5 s read timeout
    (tests/keyserver_cli/test_backup.py's first ``/readyz``); running_server now waits
    for one answer under its own start-up deadline, so no test's request pays it.
    """
    seen: list[str] = []
    app = _app([], threading.Event(), threading.Event())

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await app(scope, receive, send)

    with running_server(sqlite_settings(tmp_path), app=recording) as url:
        assert seen == ["/healthz"]  # answered (404 here: this app has no /healthz)
        assert httpx.get(f"{url}/fast", timeout=WAIT_S).json() == {"ok": True}
    assert seen == ["/healthz", "/fast"]
