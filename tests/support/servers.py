"""ASGI apps served by uvicorn on a loopback ephemeral port, in a thread of the test process.

For hostile or fake servers written by a test (the key server itself: keyserver.testing).
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from keyserver.testing import PromptStopServer


@dataclass
class UvicornThread:
    server: PromptStopServer
    thread: threading.Thread
    port: int


def start_uvicorn(app: Any, **config: Any) -> UvicornThread:
    """Serve ``app`` on 127.0.0.1:<ephemeral> in a thread (TLS if ssl_* are given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config.setdefault("lifespan", "off")
    cfg = uvicorn.Config(app, log_level="warning", **config)
    # Stops at once when asked (keyserver.testing): uvicorn's own server takes ~0.2 s.
    server = PromptStopServer(cfg)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return UvicornThread(server, thread, port)


def stop_uvicorn(u: UvicornThread) -> None:
    """Ask the server to exit and wait for its thread."""
    u.server.stop()
    u.thread.join(timeout=20)


# How often ``serve_forever`` looks whether it was asked to stop. The standard library's
# 0.5 s is what ``shutdown()`` then waits: half a second of an idle test per server (a
# run started some ten of these, each test 0.5 s of wall for 0.01 CPU-s).
_SHUTDOWN_POLL_S = 0.01


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve ``server`` (e.g. an :class:`StubHTTPServer`) in a thread for the
    block; then stop it, wait for its thread and close its socket."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": _SHUTDOWN_POLL_S}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


# A client that goes away before the answer is written: what the tests of size limits do on
# purpose (the client refuses an answer over its limit and closes the connection).
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class StubHTTPServer(http.server.ThreadingHTTPServer):
    """A test's own HTTP server (a hostile or fake peer), quiet when a client hangs up.

    socketserver's ``handle_error`` prints "Exception occurred during processing of request
    from ('127.0.0.1', ...)", a traceback and a line of dashes for every handler error:
    for a client that closed on purpose, that read as a failure at the end of green runs.
    Only a client gone is quiet; any other error of a handler is still printed (it is the
    test's bug).
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _CLIENT_GONE):
            return
        super().handle_error(request, client_address)


# The sockets that keep closed_port's ports taken, for the life of the test process.
_HELD_CLOSED: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused), for the rest of the process.

    The port stays bound, never listening: a bound socket that does not listen answers a
    connection with a reset (refused), and no other socket can bind the port meanwhile. A
    port merely closed again could be handed by the kernel to another test's server (xdist
    workers start them all the time) and a test of 'unreachable' would reach it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _HELD_CLOSED.append(sock)
    port: int = sock.getsockname()[1]
    return port


class Runner:
    """start/stop of uvicorn threads, also handed to tests as the ``uvicorn_runner`` fixture."""

    start = staticmethod(start_uvicorn)
    stop = staticmethod(stop_uvicorn)
