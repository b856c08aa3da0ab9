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
timeout.
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
        self.fired = 0

    def arm(self, key: int, fileno: int) -> None:
        """(Re)start the deadline of connection ``key`` (its socket is ``fileno``)."""
        with self._lock:
            self._armed[key] = (time.monotonic() + self.timeout, fileno)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rwc-db-watchdog", daemon=True
                )
                self._thread.start()

    def disarm(self, key: int) -> None:
        """Clear the deadline of ``key`` (back in the pool, or closed)."""
        with self._lock:
            self._armed.pop(key, None)

    def _run(self) -> None:
        period = min(1.0, self.timeout / 4)
        while True:
            time.sleep(period)
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
