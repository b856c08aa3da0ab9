"""Test helpers (public, stable): run a real server on loopback, make principals.

Example::

    settings = Settings(database_url="sqlite:///...", master_key_b64=...)
    init_database(settings)
    admin = bootstrap_principal(settings, "alice", ["writer"])
    with running_server(settings) as base_url:
        requests.post(base_url + "/v1/containers", headers={"Authorization": ...}, ...)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._http.app import create_app
from keyserver._service import KeyService

BOOTSTRAP_ACTOR = "bootstrap"


def new_master_key_b64() -> str:
    """A fresh random master key, base64url (for ``Settings.master_key_b64``)."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


class PromptStopServer(uvicorn.Server):
    """A ``uvicorn.Server`` that stops as soon as :meth:`stop` is called, for servers in tests.

    uvicorn's own server looks at ``should_exit`` every 0.1 s and its shutdown then sleeps a
    fixed 0.1 s before waiting for the open connections: ~0.2 s of wall time per stop with
    nothing to wait for, and a test run starts and stops about a hundred servers. Here
    :meth:`stop` wakes the main loop at once, and the shutdown waits as long as connections
    or tasks are still open, no longer. What a stop does is unchanged: stop accepting, ask
    every connection to close (a response being sent is finished first), wait for them (up
    to ``timeout_graceful_shutdown``, then cancel), then the app's lifespan shutdown (which
    closes the service and its database engine). Only public methods of ``uvicorn.Server``
    are overridden; ``should_exit`` still works as with uvicorn's own server.
    """

    # How often the shutdown looks whether the last connection or task has ended (uvicorn:
    # 0.1 s, after a fixed 0.1 s): closed connections go within an event loop turn or two.
    _DRAIN_POLL_S = 0.002

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Ask the server to exit, from any thread; its ``run`` then returns promptly."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # The loop is closed if the server has already ended: nothing left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        """The main loop as uvicorn's, woken at once by :meth:`stop`.

        ``on_tick`` still runs every 0.1 s (the Date header, ``should_exit``).
        """
        # _wake before _loop: stop() in another thread reads them in the other order, and
        # should_exit set before either is seen by the first on_tick.
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """The shutdown as uvicorn's, in the same order, without its fixed 0.1 s sleep."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            await asyncio.wait_for(self._drained(), timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _drained(self) -> None:
        """Wait until no connection or request task is left (or force_exit), then closed.

        All of it runs under ``timeout_graceful_shutdown``, as in uvicorn.
        """
        while (self.server_state.connections or self.server_state.tasks) and not self.force_exit:
            await asyncio.sleep(self._DRAIN_POLL_S)
        for server in self.servers:
            await server.wait_closed()


def sqlite_settings(directory: os.PathLike[str] | str, **overrides: object) -> Settings:
    """Settings for a fresh SQLite database in ``directory`` (no background sweep)."""
    fields: dict[str, object] = {
        "database_url": f"sqlite:///{os.fspath(directory)}/keyserver.db",
        "master_key_b64": new_master_key_b64(),
        "sweep_interval": 0,
    }
    fields.update(overrides)
    return Settings.load(overrides=fields, env={})


@contextmanager
def running_server(
    settings: Settings, timeout: float = 20.0, app: Any | None = None
) -> Iterator[str]:
    """Run ``create_app(settings)`` (or ``app``) with uvicorn on 127.0.0.1, an ephemeral port.

    The URL is given once the server has answered one request (``GET /healthz``): start-up
    and that first answer share ``timeout``.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).
    """
    if app is None:
        app = create_app(settings)
    # proxy_headers=False: the app alone decides whether X-Forwarded-For is trusted
    # (Settings.trust_proxy); uvicorn would otherwise rewrite the client address.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = PromptStopServer(config)

    def run() -> None:
        # uvicorn exits the process (SystemExit) when start-up fails, e.g. a master key
        # that does not match the database; in a thread that only ends the thread.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("the key server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        _first_answer(port, deadline)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout)


def _first_answer(port: int, deadline: float) -> None:
    """Wait (until ``deadline``) for the server's answer to one ``GET /healthz``.

    Why: FastAPI builds every route's dependency and parameter models on an app's first
    request, not when the app is made: ~0.1 s of CPU, paid by whichever request comes
    first. On a loaded machine (a test run with load ~18 on 2 CPUs) that first request
    took over the 5 s a test's HTTP client waits (issue: a flaky ReadTimeout on the first
    ``/readyz`` after a restore). ``create_app``'s lifespan now builds them before the
    socket accepts (keyserver/_http/warmup.py); an ``app`` given by a test does not, and
    pays it here, under the start-up deadline. Any status will do: such an app may have
    no ``/healthz``, and the 404 has built its routes.
    """
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=max(deadline - time.monotonic(), 1.0)
    )
    try:
        conn.request("GET", "/healthz")
        conn.getresponse().read()
    except OSError as exc:
        raise RuntimeError(f"the key server did not answer: {exc}") from exc
    finally:
        conn.close()


def bootstrap_principal(
    settings: Settings,
    name: str,
    roles: list[str],
    groups: list[str] | None = None,
    organisation: str | None = None,
) -> str:
    """Create a principal directly in the database; return its bearer token.

    Audited under the actor ``bootstrap``. The database must be initialised
    (:func:`keyserver._store.init_database`).
    """
    service = KeyService(settings)
    try:
        actor = Actor(name=BOOTSTRAP_ACTOR, roles=ROLES, local=True)
        result = service.add_principal(
            actor, name, roles, organisation=organisation, groups=groups or []
        )
    finally:
        service.close()
    token = result["token"]
    assert isinstance(token, str)
    return token
