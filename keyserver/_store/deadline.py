"""Client-side deadlines on PostgreSQL connections: a frozen network path fails fast.

Server-side timeouts (``statement_timeout``, ``lock_timeout``,
``idle_in_transaction_session_timeout``) need a server that hears them. When the network
path freezes (packets dropped, a stalled proxy or NAT entry), the server hears nothing and
the client waits on its socket for as long as the kernel keeps the connection: 30-47 s
(issue 14). TCP keepalive and ``tcp_user_timeout`` shorten that at the kernel level; this
watchdog bounds it whatever the network does: a connection in use carries a deadline, and
one past its deadline has its socket shut down, so the blocked read returns at once and
the driver raises ``OperationalError`` (answered as a 503 problem; SQLAlchemy then discards
the connection). The transaction it was in never committed (the server rolls it back when
the connection goes), so nothing it would have released or applied happens later.

Deadlines are armed at checkout (covering the liveness ping), renewed at BEGIN and before
each statement, and cleared at checkin. One thread per engine checks them a few times per
timeout; it is started by the first deadline and stopped when the engine is disposed of
(``engine.dispose()``: ``KeyService.close``, an app's shutdown), so a process that opens and
closes services (tests, ``serve``'s start-up check, a supervisor about to start workers)
keeps no thread of an engine it no longer has.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

log = logging.getLogger("keyserver")


class Watchdog:
    """Shuts down the sockets of connections in use past their deadline."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int]] = {}  # key -> (deadline, socket fileno)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # the running thread's; a new one per start
        self.fired = 0

    def arm(self, key: int, fileno: int) -> None:
        """(Re)start the deadline of connection ``key`` (its socket is ``fileno``)."""
        with self._lock:
            self._armed[key] = (time.monotonic() + self.timeout, fileno)
            if self._thread is None:
                # Each thread gets its own stop event: one stopped by stop() never
                # misses its event because a new thread was started meanwhile.
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="rwc-db-watchdog", daemon=True
                )
                self._thread.start()

    def disarm(self, key: int) -> None:
        """Clear the deadline of ``key`` (back in the pool, or closed)."""
        with self._lock:
            self._armed.pop(key, None)

    def stop(self) -> None:
        """Stop the thread and forget every deadline (the engine's pool was disposed of).

        Disposing closes the checked-in connections; a connection still checked out is
        closed by its holder, which no longer gets the watchdog's cut. A later checkout on
        the same engine (``dispose`` also just resets a pool) starts a new thread.
        """
        with self._lock:
            thread, self._thread = self._thread, None
            self._armed.clear()
            self._stop.set()
        # Joined outside the lock: the thread takes it on each round.
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, stop: threading.Event) -> None:
        period = min(1.0, self.timeout / 4)
        while not stop.wait(period):
            now = time.monotonic()
            with self._lock:
                due = [(k, v) for k, v in self._armed.items() if v[0] <= now]
                for key, _value in due:
                    del self._armed[key]
                    # Shut down while holding the lock: the connection cannot be re-armed
                    # (reused) between the decision and the cut.
                    self.fired += 1
                    _shutdown(_value[1])
            for _key, _value in due:
                log.error(
                    "database connection gave no answer within %.1f s: connection closed",
                    self.timeout,
                )


def _shutdown(fileno: int) -> None:
    try:
        sock = socket.socket(fileno=fileno)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the driver owns the descriptor; only the traffic is cut
