"""``keyserver serve --workers N``: N server processes on one port, balanced by the kernel.

Why not uvicorn's own ``--workers``: its workers share ONE listening socket, and whichever
worker's event loop is awake accepts the whole burst of new connections. With keep-alive
clients (a reverse proxy, a pool of readers, a load generator) one worker then serves
every connection while the others idle: measured here, 16 connections all on one of two
workers, so a second worker added nothing. With ``SO_REUSEPORT`` every worker listens
on a socket of its own and the kernel spreads connections over them by address hash.

Safety: ``SO_REUSEPORT`` also lets another process of the same user join the port. The
supervisor therefore first binds the port WITHOUT it: a port already in use is refused,
as with one worker, instead of being silently shared with another server. It then keeps
the port with an ``SO_REUSEPORT`` socket that never listens (it takes no connections),
so a second server started while the workers are still loading is refused as well, and
port 0 stays the one port every worker binds.

Addresses resolve as uvicorn resolves them for one worker: IPv6 if the host contains a
colon, else IPv4 (``localhost`` is 127.0.0.1 with any number of workers).

Start-up cost: on Linux the workers are forked from the supervisor, which has already
imported the app's modules (FastAPI, SQLAlchemy, cryptography: about 1.2 s of CPU) for its
start-up check; each worker then only builds its app. Spawned workers (a fresh interpreter
each) imported everything again: a 2-worker server spent about 4 s of CPU before
it answered instead of about 1.5 s, which on a loaded machine took 39 s (bench/README.md,
`bench/serve_startup.py`).
Forking is safe here because the supervisor is single-threaded when it forks (checked: with
another thread alive, or off Linux, workers are spawned; the first case is said, since it
means something left a thread behind) and holds no database connection
(its start-up check closed its service and pool); every worker opens its own pool and reads
its own settings, and randomness comes from ``os.urandom``, which forked processes do not
share a state of.

The supervisor restarts nothing. If a worker dies, it stops the others and exits 1, so the
service manager (systemd, a container runtime) sees the failure and restarts the whole
server. On SIGTERM or SIGINT it stops the workers gracefully and exits 0. A worker that
is stopped before it serves (still loading, or waiting for the others) exits at once; a
worker whose supervisor died stops itself, so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.process
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("keyserver")

STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests after SIGTERM
START_TIMEOUT = 60.0  # seconds a loaded worker waits for the others before listening
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ListenError(OSError):
    """The server cannot listen on the address (unknown host, port taken)."""


class PortInUseError(ListenError):
    """The port is already bound by another socket."""


def display_address(host: str, port: int) -> str:
    """``host:port``, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The socket address of ``host:port``, resolved the way uvicorn binds one worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(
            host or None, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except OSError as exc:
        raise ListenError(
            f"cannot listen on {display_address(host, port)}: {exc.strerror}"
        ) from exc
    return family, infos[0][4]


def _reuseport_socket(
    family: socket.AddressFamily, addr: tuple[Any, ...], *, reuseaddr: bool = True
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuseaddr:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> tuple[int, socket.socket]:
    """Check that ``host:port`` is free (binding without SO_REUSEPORT) and keep it.

    Port 0 picks a free port, which every worker then binds.

    Returns:
        The port, and the socket that keeps it: bound with SO_REUSEPORT (the workers
        join it) but never listening. Close it when the workers are gone.

    Raises:
        PortInUseError: Something listens there already.
        ListenError: The host does not resolve.
    """
    family, addr = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR only lets a restarted server rebind past TIME_WAIT; it does not
        # let two listeners share the port (that is what SO_REUSEPORT does).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise PortInUseError(
                f"cannot listen on {display_address(host, port)}: {exc.strerror}"
            ) from exc
        port = int(probe.getsockname()[1])
    # The probe cannot be kept: workers can join only a socket that has SO_REUSEPORT.
    # The holder has no SO_REUSEADDR, so another probe (which has it) is refused even
    # while no worker listens yet; only if a closed server's TIME_WAIT connections without
    # SO_REUSEPORT are in the way does it need SO_REUSEADDR (refusing just the listeners).
    addr = (addr[0], port, *addr[2:])
    try:
        try:
            holder = _reuseport_socket(family, addr, reuseaddr=False)
        except OSError:
            holder = _reuseport_socket(family, addr)
    except OSError as exc:  # taken in the microseconds since the probe
        raise PortInUseError(
            f"cannot listen on {display_address(host, port)}: {exc.strerror}"
        ) from exc
    return port, holder


class _Worker:
    """Signal handling of one worker process.

    Before uvicorn serves, SIGTERM/SIGINT end the process at once (loading and waiting
    for the others are nothing to finish). While uvicorn serves, its own handlers stop
    it gracefully; it then restores this handler and re-raises the signal, which a
    requested stop is not a failure of, so the handler only asks the server to exit.
    """

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None

    def on_signal(self, _signum: int, _frame: object) -> None:
        if self.server is None:
            raise SystemExit(0)
        self.server.should_exit = True


def _watch_parent() -> None:
    """Stop this worker gracefully when the supervisor is gone (killed, crashed)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    multiprocessing.connection.wait([parent.sentinel])
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(app_factory: str, host: str, port: int, options: dict[str, Any], loaded: Any) -> None:
    """One worker process: its own SO_REUSEPORT socket and a uvicorn server on it."""
    worker = _Worker()
    for sig in _SIGNALS:
        signal.signal(sig, worker.on_signal)
    threading.Thread(target=_watch_parent, name="watch-supervisor", daemon=True).start()
    sock = _reuseport_socket(*_address(host, port))
    config = uvicorn.Config(app_factory, factory=True, host=host, port=port, **options)
    # Build the app now (and, if spawned, import it: the slow part of start-up).
    config.load()
    # Start listening together: a worker that listened a second before the others
    # would receive every connection a client opens meanwhile and, with keep-alive,
    # keep them all (the imbalance this module exists to avoid). A sibling that fails
    # to load makes the supervisor stop this worker; one that is merely slow is waited
    # for START_TIMEOUT at most.
    with contextlib.suppress(threading.BrokenBarrierError):
        loaded.wait(START_TIMEOUT)
    worker.server = uvicorn.Server(config)
    worker.server.run(sockets=[sock])


def _context() -> tuple[
    multiprocessing.context.ForkContext | multiprocessing.context.SpawnContext, list[str]
]:
    """``fork`` (the workers share the supervisor's imports) where that is safe, else ``spawn``.

    A process forked while another thread runs inherits whatever locks that thread held
    (logging's, a pool's) and may hang on them; so only a single-threaded supervisor forks.
    Off Linux, system libraries may not survive a fork (macOS): spawn there.

    Returns:
        The context, and the names of the other threads that ruled out ``fork`` on Linux
        (empty when it forks, or off Linux where spawning is the rule, not a slip).
    """
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn"), []
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if not others:
        return multiprocessing.get_context("fork"), []
    return multiprocessing.get_context("spawn"), others


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
    on_spawn: Callable[[list[str]], None] | None = None,
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
        on_spawn: Called with the names of the threads that made the supervisor spawn
            its workers instead of forking them (slower start-up, same safety), before
            they start; by default a warning is logged.

    Returns:
        0 after a requested stop (SIGTERM, SIGINT), 1 if a worker failed.

    Raises:
        PortInUseError: The port is taken.
        ListenError: The host does not resolve.
    """
    port, holder = reserve_port(host, port)
    stop = threading.Event()
    previous: dict[int, Any] = {}
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        for sig in _SIGNALS:
            previous[sig] = signal.signal(sig, lambda _s, _f: stop.set())
        context, threads = _context()
        if threads:
            # Spawning is the safe choice with another thread alive, but it costs every
            # worker a second of CPU (the imports again): said, so that whatever left the
            # thread behind is found rather than silently making start-up slow.
            if on_spawn is not None:
                on_spawn(threads)
            else:
                log.warning(
                    "threads %s run in the supervisor: workers are spawned, not forked",
                    ", ".join(threads),
                )
        loaded = context.Barrier(workers)
        for i in range(workers):
            proc = context.Process(
                target=_worker,
                args=(app_factory, host, port, options, loaded),
                name=f"keyserver-worker-{i}",
            )
            proc.start()
            procs.append(proc)
        if on_ready is not None:
            on_ready(port)
        while not stop.is_set():
            # Wake at least every half second to notice a signal; at once if a worker exits.
            ended = multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5)
            # A Ctrl-C reaches the workers too: one that stops on it is no failure.
            if ended and not stop.is_set():
                dead = next(p for p in procs if p.sentinel in ended)
                dead.join()
                log.error(
                    "%s (pid %s) exited with code %s; stopping the server",
                    dead.name,
                    dead.pid,
                    dead.exitcode,
                )
                return 1
        return 0
    finally:
        for started in procs:
            if started.is_alive():
                started.terminate()  # SIGTERM: uvicorn finishes open requests
        for started in procs:
            started.join(STOP_TIMEOUT)
            if started.is_alive():
                started.kill()
                started.join()
        holder.close()
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler not installed from Python
                signal.signal(signum, handler)
