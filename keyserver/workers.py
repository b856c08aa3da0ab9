"""``keyserver serve --workers N``: N server processes on one port, balanced by the kernel.

Why not uvicorn's own ``--workers``: its workers share ONE listening socket, and whichever
worker's event loop is awake accepts the whole burst of new connections. With keep-alive
clients (a reverse proxy, a pool of readers, a load generator) one worker then serves
every connection while the others idle: measured here, 16 connections all on one of two
workers, so a second worker added nothing. With ``SO_REUSEPORT`` every worker listens
on a socket of its own and the kernel spreads connections over them by address hash.

Safety: ``SO_REUSEPORT`` also lets another process of the same user join the port. The
supervisor therefore first binds the port WITHOUT it: a port already in use is refused,
as with one worker, instead of being silently shared with another server.

The supervisor restarts nothing. If a worker dies, it stops the others and exits 1, so the
service manager (systemd, a container runtime) sees the failure and restarts the whole
server. On SIGTERM or SIGINT it stops the workers gracefully and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("keyserver")

STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests after SIGTERM
START_TIMEOUT = 60.0  # seconds a loaded worker waits for the others before listening


class PortInUseError(OSError):
    """The port is already bound by another socket."""


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, addr


def reserve_port(host: str, port: int) -> int:
    """Check that ``host:port`` is free (binding without SO_REUSEPORT); return the port.

    Port 0 picks a free port, which every worker then binds.

    Raises:
        PortInUseError: Something listens there already.
    """
    family, addr = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR only lets a restarted server rebind past TIME_WAIT; it does not
        # let two listeners share the port (that is what SO_REUSEPORT does).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        return int(probe.getsockname()[1])


def _shared_socket(host: str, port: int) -> socket.socket:
    family, addr = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(addr)
    return sock


def _absorb(_signum: int, _frame: object) -> None:
    """Uvicorn re-raises the signal it stopped on; a requested stop is not a failure."""


def _worker(app_factory: str, host: str, port: int, options: dict[str, Any], loaded: Any) -> None:
    """One worker process: its own SO_REUSEPORT socket and a uvicorn server on it."""
    signal.signal(signal.SIGTERM, _absorb)
    signal.signal(signal.SIGINT, _absorb)
    sock = _shared_socket(host, port)
    config = uvicorn.Config(app_factory, factory=True, host=host, port=port, **options)
    config.load()  # import and build the app now: the slow part of start-up
    # Start listening together: a worker that listened a second before the others
    # would receive every connection a client opens meanwhile and, with keep-alive,
    # keep them all (the imbalance this module exists to avoid).
    with contextlib.suppress(threading.BrokenBarrierError):
        loaded.wait(START_TIMEOUT)
    uvicorn.Server(config).run(sockets=[sock])


def supported() -> bool:
    """True where the kernel balances SO_REUSEPORT listeners (Linux, BSDs)."""
    return hasattr(socket, "SO_REUSEPORT")


def serve_workers(
    app_factory: str,
    host: str,
    port: int,
    workers: int,
    options: dict[str, Any],
    *,
    on_ready: Callable[[int], None] | None = None,
) -> int:
    """Run ``workers`` uvicorn processes on ``host:port`` until a signal or a failure.

    Args:
        app_factory: Import string of a zero-argument app factory
            (``"module:function"``); each worker builds its own app (and service).
        host: Address to listen on.
        port: Port (0: a free one, the same for every worker).
        workers: Number of processes (>= 1).
        options: Further ``uvicorn.Config`` arguments (log level, TLS files, ...).
        on_ready: Called with the port once the workers are started.

    Returns:
        0 after a requested stop (SIGTERM, SIGINT), 1 if a worker failed.

    Raises:
        PortInUseError: The port is taken.
    """
    port = reserve_port(host, port)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _s, _f: stop.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    spawn = multiprocessing.get_context("spawn")
    loaded = spawn.Barrier(workers)
    procs = [
        spawn.Process(
            target=_worker,
            args=(app_factory, host, port, options, loaded),
            name=f"keyserver-worker-{i}",
        )
        for i in range(workers)
    ]
    try:
        for proc in procs:
            proc.start()
        if on_ready is not None:
            on_ready(port)
        failed = False
        while not stop.is_set():
            # Wake at least every half second to notice a signal; at once if a worker exits.
            if multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5):
                failed = True
                log.error("a worker process exited; stopping the server")
                break
        return 1 if failed else 0
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: uvicorn finishes open requests
        for proc in procs:
            proc.join(STOP_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
