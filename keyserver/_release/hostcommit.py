"""One release committer for every worker of a host (``serve --workers N``, issue 15).

Why: every release batch pays a fixed CPU cost (a pooled connection, the head lock, one
COMMIT = one fsync of the log: ~3-4.5 ms, bench/profiles/keyserver.md), and with N
worker processes each committing its own batches, the requests in flight are split N
ways, so each batch serves 1/N as many releases and the fixed cost per release grows N
times (+35% CPU per release at 2 workers). Here the workers hand the ordered part of
each release to ONE committer process per host, which runs the existing batch
(keyserver/_release/batch.py) over everything queued by all workers: one transaction, one
head lock, one fsync for all of them, as with one worker. Since each worker sends its
next batch only once the last one is answered, the committer waits a few milliseconds
for the other busy workers' batches before it takes its jobs (CommitterServer.gather);
without that the workers' batches take turns and stay half-size. Enabled by the
``host_committer`` setting (off by default: bench/profiles/keyserver.md has why).

What crosses the socket, and what does not:

- worker -> committer: the queued jobs (:class:`~keyserver._release.jobs.EvalJob`) without
  their blinded element (the committer has no use for it): container id, token digest
  (never the token), request context, the header digest.
- committer -> worker: per job either the refusal (already audited) or the committed
  release: the challenge (single-use, handed to the reader anyway), the counters, and
  the container's SEALED seed with its key generation. No key material crosses: the
  worker opens the seed with its own key ring (every worker loads the master key
  already) and evaluates the VOPRF, after the commit, as one process does.

Order (spec §consistency, "Ordering guarantee"): the committer is the only writer of
releases on the host, so releases of all its workers are decided and appended in the
order the committer's batch took them; a worker's batch is queued in one step and keeps
its order inside the committer's batch.

Failure (kill -9 of the committer, a hang): a worker whose committer connection breaks
or stays silent past the deadline answers ``unavailable`` (503) for every job it had
sent, and drops the connection, so a late answer can never be matched to another job.
The committer answers only after COMMIT, so a job answered 503 either committed
(audited, but its evaluation never computed nor sent) or did not happen at all: never
a release without its committed audit entry. The supervisor starts a new committer
(keyserver/_cli/workers.py); the listening socket stays open in the supervisor, so
workers reconnect to the new one without a window in which connecting is refused.

Who may connect: the socket lives in a directory of mode 0700 made by the supervisor
(the socket itself 0600; keyserver/_release/hostsocket.py), and the committer checks
the peer's uid (``SO_PEERCRED``) is its own. What either side says is checked against a
schema of exactly the fields exchanged (keyserver/_release/hostwire.py: canonical JSON,
no pickle), and a message that is not exactly that is refused as a whole, so even a peer
that got past both checks could only ask for what a worker asks for. (A process of the
same uid could read the master key anyway.) What such a process could still do is
exhaust the committer: a silent connection is dropped after IDLE_S, and at most
MAX_CONNECTIONS are served at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from keyserver._domain.errors import KeyServerError, UnavailableError
from keyserver._domain.i18n import N_
from keyserver._domain.settings import Settings
from keyserver._release import hostwire
from keyserver._release.hostsocket import SOCKET_TYPE
from keyserver._release.hostwire import MAX_MESSAGE, WireError
from keyserver._release.jobs import EvalJob

log = logging.getLogger("keyserver")

#: The longest a committer batch waits for the other busy workers' batches (gather),
#: and how recently a worker must have sent one to count as busy. 5 ms: a worker turns
#: a batch of 8 around (VOPRFs, HTTP) in ~2-4 ms on a quiet machine; measured in
#: bench/profiles/keyserver.md (3 ms gathered 11.7 per batch at load 11-14, 8 ms 13.5).
GATHER_S = 0.005
ACTIVE_S = 0.05

#: How long the committer waits for the next message on a connection before it drops it.
#: Security: one thread serves each connection, so a same-uid process (stuck, or hostile)
#: that connects and sends nothing would otherwise hold a thread for ever, and enough of
#: them would exhaust the committer's threads. A worker reconnects by itself: it drops a
#: connection idle for half of this before it sends again (CommitterClient), so it never
#: sends on one the committer is about to drop.
IDLE_S = 60.0

#: The most connections the committer serves at once; one more is closed at once, with a
#: log line. Each worker holds one connection (its one group-commit thread), two for a
#: moment after it dropped one whose batch the committer is still committing: 64 serves
#: ``serve --workers`` up to 32, well above the CPUs of any host this runs on (bench/README:
#: the head lock, not the workers, caps throughput). Security: the uid check lets only
#: this user's processes in, and such a process can read the master key anyway, so this
#: cap is not about confidentiality but resource exhaustion: without it a stuck or hostile
#: same-uid process could open connections until the committer has no thread, memory or
#: file descriptor left for the workers (IDLE_S only frees a silent one after a minute).
MAX_CONNECTIONS = 64

#: What a worker sends for an outcome that is not a dict or a refusal (an unexpected
#: error in the committer): the database is unreachable, or anything else.
_UNAVAILABLE = "unavailable"
_INTERNAL = "internal"
assert {_UNAVAILABLE, _INTERNAL} == hostwire.FAILURES


def timeout_for(settings: Settings) -> float:
    """How long a worker waits for the committer's answer to one batch (seconds).

    Longer than any batch can legitimately take (its connection, the writer lock or the
    head's row lock, its statements: each bounded by the database timeouts, spec
    §operations), with room for a one-by-one retry; after it the worker answers 503
    rather than hang on a committer that stopped (SIGSTOP, a wedged thread).
    """
    bounds = (
        settings.busy_timeout_ms / 1000
        + settings.db_connect_timeout.total_seconds()
        + settings.db_lock_timeout.total_seconds()
        + settings.db_statement_timeout.total_seconds()
    )
    return 2 * bounds + 5


def _unavailable() -> UnavailableError:
    return UnavailableError(
        N_("the key server's release committer is unavailable; nothing was released")
    )


def _receive(sock: socket.socket) -> bytes:
    """One whole message; b"" when the peer closed. A truncated message is an error."""
    data, _, flags, _ = sock.recvmsg(MAX_MESSAGE)
    if flags & socket.MSG_TRUNC:
        raise OSError("committer message truncated")
    return data


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


# --------------------------------------------------------------------------------------
# The committer's side


def to_wire(outcome: Any) -> dict[str, Any]:
    """An outcome of the committer's batch as the worker receives it (hostwire.py's OUTCOME).

    A release (dict) with its seed sealed (batch._for_worker); a refusal (already
    audited); any other exception as a failure: the database being unavailable becomes
    the same 503 the worker would give itself, anything else an internal error whose
    details stay in the committer's log, as does an outcome that cannot cross.
    """
    if isinstance(outcome, OperationalError | SATimeoutError):
        return hostwire.outcome_doc(_UNAVAILABLE)
    if isinstance(outcome, dict | KeyServerError):
        try:
            return hostwire.outcome_doc(outcome)
        except WireError as exc:
            log.error("release committer: an outcome cannot be sent: %s", exc)  # noqa: TRY400
            return hostwire.outcome_doc(_INTERNAL)
    log.error("release committer: unexpected error in a batch", exc_info=outcome)
    return hostwire.outcome_doc(_INTERNAL)


class CommitterServer:
    """Accepts the workers' connections; runs their jobs through ``commit``.

    ``commit`` queues a worker's jobs in the committer's group commit and returns each
    job's outcome once committed (batch.Releaser.commit_for_workers).
    """

    def __init__(
        self,
        listener: socket.socket,
        commit: Callable[[Sequence[EvalJob]], Sequence[Any]],
        gather_s: float = GATHER_S,
        idle_s: float = IDLE_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._listener = listener
        self._commit = commit
        self._gather_s = gather_s
        self._idle_s = idle_s
        self._max_connections = max_connections
        self._open = 0  # connections being served (under self._cond)
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        # Per connection: when its last batch arrived, and whether one is queued now.
        self._last: dict[int, float] = {}
        self._queued: set[int] = set()
        self._ids = itertools.count()

    def gather(self) -> None:
        """Before a batch takes its jobs: wait for the batches of the other busy workers.

        Why: each worker sends its next batch only once its previous one is answered,
        so without this the workers' batches settle into taking turns, each commit
        serving one worker's half of the requests in flight (bench/profiles/
        keyserver.md: the fixed cost of a batch paid twice as often). A worker counts
        as busy if it sent a batch in the last ACTIVE_S; the wait ends when every busy
        worker has one queued, or after ``gather_s`` (bounding the latency it adds). An
        idle worker is not waited for, so a lone request is not delayed.
        """
        if self._gather_s <= 0:
            return
        deadline = time.monotonic() + self._gather_s
        with self._cond:
            while True:
                now = time.monotonic()
                busy = sum(1 for t in self._last.values() if now - t < ACTIVE_S)
                if len(self._queued) >= busy or now >= deadline:
                    return
                self._cond.wait(deadline - now)

    def serve_forever(self) -> None:
        """Accept workers (one thread each) until the process is stopped, or :meth:`stop`."""
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return  # the listener was shut down by stop(): not an error
                raise
            if _peer_uid(conn) != os.getuid():
                # Defence in depth behind the 0700 directory: only this server's own
                # processes may hand it releases.
                log.warning("release committer: refused a connection from another user")
                conn.close()
                continue
            with self._cond:
                full = self._open >= self._max_connections
                if not full:
                    self._open += 1
            if full:
                # MAX_CONNECTIONS: resource exhaustion, not confidentiality. The peer sees
                # the close at once; a worker answers 503 and connects again next batch.
                log.warning(
                    "release committer: refused a connection: %d open, the most it serves",
                    self._max_connections,
                )
                conn.close()
                continue
            # Bounds the wait for each message (IDLE_S) and for the peer to take an answer.
            conn.settimeout(self._idle_s)
            try:
                threading.Thread(
                    target=self._serve, args=(conn,), name="rwc-committer-conn", daemon=True
                ).start()
            except RuntimeError:  # no thread to be had: the same refusal, not a dead loop
                log.warning("release committer: refused a connection: no thread to serve it")
                with self._cond:
                    self._open -= 1
                conn.close()

    def stop(self) -> None:
        """End :meth:`serve_forever` and close the listener.

        For a server that owns its listener (tests, one process). The host's committer
        process never calls it: its listener is the supervisor's, shared with the next
        committer, and a shutdown would end it for them all; that process is stopped by
        a signal.
        """
        self._stopping.set()
        # shutdown, not only close: close leaves a thread blocked in accept() blocked.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        key = next(self._ids)  # not the fd: a closed one is reused at once
        try:
            self._serve_conn(conn, key)
        finally:
            with self._cond:
                self._open -= 1
                self._last.pop(key, None)
                self._queued.discard(key)
                self._cond.notify_all()

    def _serve_conn(self, conn: socket.socket, key: int) -> None:
        with conn:
            while True:
                try:
                    data = _receive(conn)
                except OSError:
                    return  # broken, or silent for IDLE_S (TimeoutError): dropped
                if not data:
                    return  # the worker closed (stopped, or gave up on an answer)
                jobs = _jobs(data)
                if jobs is None:
                    return  # the worker answers 503 for that batch and reconnects
                with self._cond:
                    self._last[key] = time.monotonic()
                    self._queued.add(key)
                    self._cond.notify_all()
                try:
                    outcomes = [to_wire(o) for o in self._commit(jobs)]
                finally:
                    with self._cond:
                        self._queued.discard(key)
                try:
                    conn.sendall(hostwire.encode_outcomes(outcomes))
                except (OSError, WireError):
                    # Committed and audited; the worker answers 503 (nothing released).
                    return


def _jobs(data: bytes) -> list[EvalJob] | None:
    """The jobs of a worker's message, or None (logged) if it is not exactly that."""
    try:
        return hostwire.decode_jobs(data)
    except WireError as exc:
        log.error("release committer: refused a malformed message: %s", exc)  # noqa: TRY400
        return None


# --------------------------------------------------------------------------------------
# The worker's side


class CommitterClient:
    """A worker's connection to its host's committer; one batch in flight at a time.

    Used only by the worker's own group-commit thread (batch.Releaser._forward_batch),
    which sends a batch and waits for its answers before it takes the next, so requests
    and answers need no ids: the connection is dropped whenever an answer is missing.
    """

    def __init__(
        self,
        path: str,
        timeout: float,
        idle_s: float = IDLE_S,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._timeout = timeout
        self._idle_s = idle_s
        # Injectable so that a test moves it rather than sleeping (issue 9); the server's
        # side is the socket's own timeout and needs no clock.
        self._monotonic = monotonic
        self._sock: socket.socket | None = None
        self._used = 0.0  # self._monotonic() of the last answer on self._sock

    def call(self, jobs: Sequence[EvalJob]) -> list[Any]:
        """Commit ``jobs`` through the committer; one outcome per job, in order.

        Each outcome is a release dict, a refusal (KeyServerError) to raise, or an
        exception for a job that failed otherwise.

        Raises:
            UnavailableError: The committer cannot be reached, died, or did not answer
                in time; nothing of this batch was released (some may be audited).
        """
        try:
            outcomes = self._exchange(hostwire.encode_jobs(jobs), len(jobs))
        except (OSError, WireError) as exc:
            # Drop the connection: an answer that arrives later must not be read as the
            # answer to the next batch. The next batch connects again (a restarted
            # committer accepts it on the same listening socket).
            log.warning("release committer unavailable: %s", exc)
            self.close()
            raise _unavailable() from exc
        return [_from_wire(o) for o in outcomes]

    def _exchange(self, message: bytes, count: int) -> list[Any]:
        if self._sock is not None and self._monotonic() - self._used > self._idle_s / 2:
            # The committer drops a connection silent for idle_s (IDLE_S); a batch sent
            # just as it does would be lost and answered 503. Well before that, connect
            # again instead.
            self.close()
        sock = self._sock or self._connect()
        try:
            sock.sendall(message)
        except OSError:
            # The committer this idle connection led to is gone (killed and restarted
            # since our last batch): the kernel refused the message, so nobody received
            # it and sending it to the new committer cannot commit anything twice. A
            # failure after the send (below) is not retried: that batch may have
            # committed.
            self.close()
            sock = self._connect()
            sock.sendall(message)
        data = _receive(sock)
        if not data:
            raise OSError("the release committer closed the connection")
        self._used = self._monotonic()
        return hostwire.decode_outcomes(data, count)

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, SOCKET_TYPE)
        try:
            sock.settimeout(self._timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return sock

    def close(self) -> None:
        """Drop the connection (the next call connects again)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


def _from_wire(outcome: Any) -> Any:
    if isinstance(outcome, dict | KeyServerError):
        return outcome
    if outcome == _UNAVAILABLE:
        # The same answer as a worker's own database failure (http/problems.py).
        return UnavailableError(
            N_("the key server's database is unavailable; nothing was released")
        )
    return RuntimeError("the release committer failed (see its log)")
