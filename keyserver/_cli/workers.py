"""``keyserver serve --workers N``: N server processes on one port, balanced evenly.

The supervisor listens on the port and hands every connection it accepts to the workers in
turn (keyserver/_cli/serve_handoff.py says why neither uvicorn's shared socket nor one
``SO_REUSEPORT`` socket per worker does that). It binds the port without
``SO_REUSEPORT``, so a port already in use is refused and no other process can join it.

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

The host committer (keyserver/_release/hostcommit.py): with a committer target, the
supervisor also starts one committer process, which runs the ordered part of every
worker's releases (one batch, one head lock, one fsync for all workers), and makes its
listening Unix socket (in a fresh 0700 directory, the socket 0600) before forking
anything, so the socket outlives any one committer. It removes the directory when it
stops; one left by a supervisor killed with SIGKILL is removed by the next
(hostsocket.remove_stale). If the committer dies, the workers
answer 503 for what they had sent it and the supervisor starts a new one on the same
socket (at most RESTARTS times per RESTART_WINDOW seconds; beyond that it stops the server
and exits 1, like a dead worker). It ignores SIGINT and SIGTERM (a Ctrl-C, or a service
manager's stop, reaches every process) and is killed after the workers, which need it
to finish their requests.

Apart from the committer the supervisor restarts nothing. If a worker dies, it stops the
others and exits 1, so the service manager (systemd, a container runtime) sees the
failure and restarts the whole server. On SIGTERM or SIGINT it stops the workers
gracefully and exits 0. A worker that is stopped before it serves (still loading, or
waiting for the others) exits at once; a worker whose supervisor died stops itself, so
no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.process
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from keyserver._cli import serve_handoff
from keyserver._domain.i18n import N_, Message
from keyserver._release import hostsocket

log = logging.getLogger("keyserver")

STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests after SIGTERM
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: The environment variable that tells a worker where its host committer listens.
COMMITTER_ENV = "RWC_KEYSERVER_COMMITTER"
RESTARTS = 5  # committer restarts allowed per RESTART_WINDOW before the server stops
RESTART_WINDOW = 60.0


class ListenError(OSError):
    """The server cannot listen on the address (unknown host, port taken).

    Attributes:
        message: What to say, in the reader's language (the system's reason in its words).
    """

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


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
        raise ListenError(_cannot_listen(host, port, exc)) from exc
    return family, infos[0][4]


def _cannot_listen(host: str, port: int, exc: OSError) -> Message:
    return N_(
        "cannot listen on %(address)s: %(reason)s",
        address=display_address(host, port),
        reason=exc.strerror or str(exc),
    )


def listen(host: str, port: int, backlog: int) -> tuple[int, socket.socket]:
    """The supervisor's listening socket on ``host:port`` (port 0: a free one).

    Returns:
        The port, and the listening socket.

    Raises:
        PortInUseError: Something is bound there already.
        ListenError: The host does not resolve.
    """
    family, addr = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR only lets a restarted server rebind past TIME_WAIT; it does not let
        # two listeners share the port. No SO_REUSEPORT: nobody may join this port.
        # On Windows SO_REUSEADDR would let another socket bind the port over ours (asyncio
        # leaves it off there): this socket serves one worker there too (serve_one.py), so
        # it takes the port exclusively instead.
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise PortInUseError(_cannot_listen(host, port, exc)) from exc
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return int(sock.getsockname()[1]), sock


class _Worker:
    """Signal handling of one worker process.

    Before uvicorn serves, SIGTERM/SIGINT end the process at once (loading is nothing
    to finish). While uvicorn serves, its own handlers stop
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


def _close_inherited(inherited: list[socket.socket]) -> None:
    """Close a forked child's copies of the supervisor's sockets.

    Above all the listening socket: a copy held by a worker would keep the port listening
    after the supervisor closed it (stop) or died, queueing connections nobody accepts.
    Closed through the socket objects, so nothing closes those descriptor numbers again.
    """
    for sock in inherited:
        sock.close()


def _worker(  # noqa: PLR0917 - multiprocessing passes a target's arguments by position
    app_factory: str,
    host: str,
    port: int,
    options: dict[str, Any],
    channel: socket.socket,
    inherited: list[socket.socket],
    committer_path: str | None = None,
) -> None:
    """One worker process: a uvicorn server on the connections handed to it on ``channel``."""
    _close_inherited(inherited)
    if committer_path is not None:
        os.environ[COMMITTER_ENV] = committer_path  # read by the app factory
    worker = _Worker()
    for sig in _SIGNALS:
        signal.signal(sig, worker.on_signal)
    threading.Thread(target=_watch_parent, name="watch-supervisor", daemon=True).start()
    config = uvicorn.Config(app_factory, factory=True, host=host, port=port, **options)
    # Build the app now (and, if spawned, import it: the slow part of start-up). The
    # connections handed to this worker meanwhile wait in its channel.
    config.load()
    worker.server = serve_handoff.HandedServer(config, channel)
    worker.server.run()


def _set_process_name(name: bytes) -> None:
    """Name the process for ps/top and /proc/PID/comm (Linux; nothing elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME


def _exit_with_parent() -> None:
    """End the committer at once when the supervisor is gone (killed, crashed)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(0)


def _committer(target: str, listener: socket.socket, inherited: list[socket.socket]) -> None:
    """The host committer process: ``target(listener)`` until SIGKILL or the supervisor dies."""
    _close_inherited(inherited)
    _set_process_name(b"rwc-committer")
    # Ctrl-C reaches every process of the group, and a service manager's SIGTERM every
    # process of the unit (systemd's KillMode=control-group); the workers finishing their
    # requests still need the committer, so it ignores both and the supervisor ends it
    # with SIGKILL once the workers are gone (nothing is in flight then; a kill -9 in
    # flight is the failure tests/faults/test_committer_kill.py covers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="watch-supervisor", daemon=True).start()
    module, _, name = target.partition(":")
    getattr(importlib.import_module(module), name)(listener)


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
    """True where the supervisor can hand connections to its workers.

    Linux: SCM_RIGHTS over SOCK_SEQPACKET, the only platform it is tested on.
    """
    return sys.platform.startswith("linux")


def serve_workers(
    app_factory: str,
    host: str,
    port: int,
    workers: int,
    options: dict[str, Any],
    *,
    on_ready: Callable[[int], None] | None = None,
    on_spawn: Callable[[list[str]], None] | None = None,
    committer: str | None = None,
) -> int:
    """Run ``workers`` uvicorn processes on ``host:port`` until a signal or a failure.

    Args:
        app_factory: Import string of a zero-argument app factory
            (``"module:function"``); each worker builds its own app (and service).
        host: Address to listen on.
        port: Port (0: a free one, the same for every worker).
        workers: Number of processes (>= 1).
        options: Further ``uvicorn.Config`` arguments (log level, TLS files, ...).
        on_ready: Called with the port once the workers are started; it must not
            wait for the server (the supervisor accepts connections after it returns).
        on_spawn: Called with the names of the threads that made the supervisor spawn
            its workers instead of forking them (slower start-up, same safety), before
            they start; by default a warning is logged.
        committer: Import string of the host committer's main (``"module:function"``,
            called with the listening socket) to run in a process of its own, or None
            (each worker commits its own releases).

    Returns:
        0 after a requested stop (SIGTERM, SIGINT), 1 if a worker failed.

    Raises:
        PortInUseError: The port is taken.
        ListenError: The host does not resolve.
    """
    port, http = listen(host, port, int(options.get("backlog", 2048)))
    pairs: list[tuple[socket.socket, socket.socket]] = []
    stop = threading.Event()
    previous: dict[int, Any] = {}
    procs: list[multiprocessing.process.BaseProcess] = []
    committers: list[multiprocessing.process.BaseProcess] = []  # the running one last
    sockdir: str | None = None
    listener: socket.socket | None = None
    try:
        pairs += serve_handoff.channels(workers)
        dispatcher = serve_handoff.Dispatcher(http, [ours for ours, _ in pairs])
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
        path: str | None = None
        if committer is not None:
            # A directory only this user can enter: the socket accepts releases. Those a
            # killed supervisor left behind are removed first (make_listener).
            try:
                sockdir, listener = hostsocket.make_listener(backlog=max(16, 2 * workers))
            except OSError as exc:  # a TMPDIR too long for a socket's path, full, read-only
                raise ListenError(
                    N_(
                        "cannot make the release committer's socket in %(directory)s: "
                        "%(reason)s; set TMPDIR to a short local directory",
                        directory=tempfile.gettempdir(),
                        reason=exc.strerror or str(exc),
                    )
                ) from exc
            path = str(Path(sockdir) / hostsocket.SOCKET_NAME)

        def inherited(*keep: socket.socket) -> list[socket.socket]:
            """The supervisor's sockets a forked child must close (a spawned one has none)."""
            if not isinstance(context, multiprocessing.context.ForkContext):
                return []
            mine = [http, *(s for pair in pairs for s in pair)]
            return [s for s in mine if s not in keep and s.fileno() != -1]

        def start_committer() -> None:
            assert committer is not None
            proc = context.Process(
                target=_committer,
                args=(committer, listener, inherited()),
                name="keyserver-committer",
            )
            proc.start()
            committers.append(proc)
            log.info("release committer started (pid %s)", proc.pid)

        restarts: list[float] = []
        if committer is not None:
            start_committer()
        for i, (_ours, theirs) in enumerate(pairs):
            proc = context.Process(
                target=_worker,
                args=(app_factory, host, port, options, theirs, inherited(theirs), path),
                name=f"keyserver-worker-{i}",
            )
            proc.start()
            procs.append(proc)
        for _ours, theirs in pairs:
            theirs.close()  # the worker has its own: ours would keep its channel open
        if on_ready is not None:
            on_ready(port)
        while not stop.is_set():
            # Wake at least every half second to notice a signal; at once if a worker exits
            # or a connection waits to be accepted.
            watched: list[Any] = [p.sentinel for p in procs]
            accepting = dispatcher.waitable()  # [] while paused after a resource error
            watched += [c.sentinel for c in committers[-1:]] + accepting
            ended: list[Any] = multiprocessing.connection.wait(
                watched, timeout=0.5 if accepting else 0.1
            )
            if any(e is dispatcher for e in ended):
                dispatcher.dispatch()
                ended = [e for e in ended if e is not dispatcher]
            if ended and not stop.is_set() and committers and committers[-1].sentinel in ended:
                dead = committers[-1]
                dead.join()
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < RESTART_WINDOW] + [now]
                if len(restarts) > RESTARTS:
                    log.error(
                        "the release committer (pid %s) exited with code %s, %d times in "
                        "%d s; stopping the server",
                        dead.pid,
                        dead.exitcode,
                        len(restarts),
                        RESTART_WINDOW,
                    )
                    return 1
                # Its workers answered 503 for what it had not answered; nothing it
                # answered was released before its commit (hostcommit.py).
                log.error(
                    "the release committer (pid %s) exited with code %s; starting another",
                    dead.pid,
                    dead.exitcode,
                )
                start_committer()
                continue
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
        # Stop accepting first: a connection made from now on is refused, not left queued.
        http.close()
        # Workers next: finishing their open requests may need the committer.
        for started in procs:
            if started.is_alive():
                started.terminate()  # SIGTERM: uvicorn finishes open requests
        for started in procs + committers:
            if started in committers and started.is_alive():
                started.kill()  # after the workers, which needed it until now (_committer)
            started.join(STOP_TIMEOUT)
            if started.is_alive():
                started.kill()
                started.join()
        if listener is not None:
            listener.close()
        if sockdir is not None:
            shutil.rmtree(sockdir, ignore_errors=True)
        for ours, theirs in pairs:
            ours.close()
            theirs.close()  # closed after the fork already, unless the start failed before
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler not installed from Python
                signal.signal(signum, handler)
