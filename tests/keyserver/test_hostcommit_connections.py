"""The host committer's connections (keyserver/_release/hostcommit.py): idle, reconnect, stop.

One thread serves each connection, so a peer that connects and sends nothing must not hold
one for ever; a worker must not send on a connection the committer is about to drop; and
a committer that owns its listener stops without an exception in its accept thread. Over
real Unix sockets of the kind the workers use (SOCK_SEQPACKET). The messages themselves:
tests/keyserver/test_hostcommit.py.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from keyserver._release import hostcommit, hostsocket, hostwire
from keyserver._release.jobs import EvalJob, bearer_job
from tests.keyserver.test_hostcommit import BLINDED, CID, CTX, TOKEN, _release, _server
from tests.support.clock import FakeMonotonic


def _answer_all(jobs: Sequence[EvalJob]) -> list[Any]:
    return [_release() for _ in jobs]


def _conn_thread_set() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "rwc-committer-conn"}


def _conn_threads() -> int:
    return sum(t.name == "rwc-committer-conn" for t in threading.enumerate())


def test_a_silent_peer_is_dropped_after_the_idle_time(tmp_path: Path) -> None:
    """A same-uid process that connects and sends nothing does not hold a committer thread
    for ever (enough of them would leave none for the workers)."""
    before = _conn_threads()
    path, server = _server(tmp_path, _answer_all, idle_s=0.3)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as silent:
            silent.settimeout(30)
            silent.connect(path)
            started = time.monotonic()
            assert silent.recv(hostwire.MAX_MESSAGE) == b""  # dropped, nothing answered
            assert time.monotonic() - started >= 0.3
        deadline = time.monotonic() + 30
        while _conn_threads() > before:  # its thread ends with it
            assert time.monotonic() < deadline, threading.enumerate()
            time.sleep(0.01)
        # Workers are still served.
        client = hostcommit.CommitterClient(path, timeout=30, idle_s=0.3)
        assert client.call([bearer_job(TOKEN, CID, BLINDED, CTX)]) == [_release()]
        client.close()
    finally:
        server.stop()


def test_a_worker_reconnects_before_the_committer_drops_its_idle_connection(
    tmp_path: Path,
) -> None:
    """A worker's connection silent for half the idle time is replaced before it sends,
    so a batch is never sent on a connection the committer is dropping (that would be a
    503); one used within it is kept."""
    path = str(tmp_path / "release.sock")
    listener = hostsocket.listen(path)
    accepted: list[socket.socket] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(hostwire.MAX_MESSAGE):
                docs = [hostwire.outcome_doc(_release()) for _ in hostwire.decode_jobs(data)]
                conn.sendall(hostwire.encode_outcomes(docs))

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener shut down at the end
            while True:
                conn, _ = listener.accept()
                accepted.append(conn)
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    # The client's clock is moved, not waited for: the calls take no time on it.
    clock = FakeMonotonic()
    client = hostcommit.CommitterClient(path, timeout=30, idle_s=2.0, monotonic=clock)
    job = bearer_job(TOKEN, CID, BLINDED, CTX)
    try:
        assert client.call([job]) == [_release()]
        clock.advance(1.0)  # idle for exactly half of idle_s: still kept
        assert client.call([job]) == [_release()]
        assert len(accepted) == 1  # kept while in use
        clock.advance(1.001)  # idle for more than half of idle_s
        assert client.call([job]) == [_release()]
        assert len(accepted) == 2  # connected again
    finally:
        client.close()
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=30)


def test_stop_ends_the_accept_loop_quietly(tmp_path: Path) -> None:
    """stop() ends serve_forever without an exception in its thread (was: OSError from
    accept() on the closed listener); a listener that fails otherwise still raises."""
    raised: list[BaseException] = []

    def serve(server: hostcommit.CommitterServer) -> None:
        try:
            server.serve_forever()
        except BaseException as exc:  # what the thread would die of
            raised.append(exc)

    for case in ("stopped", "failed"):
        path = str(tmp_path / f"{case}.sock")
        listener = hostsocket.listen(path)
        server = hostcommit.CommitterServer(listener, _answer_all, gather_s=0)
        thread = threading.Thread(target=serve, args=(server,))
        thread.start()
        client = hostcommit.CommitterClient(path, timeout=30)
        assert client.call([bearer_job(TOKEN, CID, BLINDED, CTX)]) == [_release()]
        client.close()
        if case == "stopped":
            server.stop()
        else:  # not asked to stop: the error is not swallowed
            listener.shutdown(socket.SHUT_RDWR)
        thread.join(timeout=30)
        assert not thread.is_alive()
        if case == "stopped":
            assert raised == []
        else:
            [error] = raised
            assert isinstance(error, OSError)
            listener.close()


@contextlib.contextmanager
def _warnings_of(name: str) -> Iterator[list[logging.LogRecord]]:
    """The WARNING records of logger ``name``, caught on the logger itself.

    Not caplog: its handler sits on the root logger, and the key server's logging config
    (keyserver/_cli/output.py, applied in process by an earlier test) stops "keyserver"
    propagating there: caplog then saw nothing in a full run, and this test failed.
    """
    records: list[logging.LogRecord] = []

    class _Caught(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    caught = _Caught(logging.WARNING)
    level, disabled = logger.level, logger.disabled
    logger.setLevel(logging.WARNING)
    logger.disabled = False
    logger.addHandler(caught)
    try:
        yield records
    finally:
        logger.removeHandler(caught)
        logger.setLevel(level)
        logger.disabled = disabled


def test_connections_beyond_the_cap_are_refused_and_logged(tmp_path: Path) -> None:
    """A same-uid process cannot open connections until the committer has no thread left
    for the workers: beyond the cap one is closed at once, with a log line (no secret in
    it), and a place freed by a closed connection serves the next one."""
    path = str(tmp_path / "release.sock")
    listener = hostsocket.listen(path)
    server = hostcommit.CommitterServer(listener, _answer_all, gather_s=0, max_connections=2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    job = bearer_job(TOKEN, CID, BLINDED, CTX)
    first = hostcommit.CommitterClient(path, timeout=30)
    try:
        assert first.call([job]) == [_release()]  # accepted and served: one place taken
        # Threads by identity, not by count: an earlier test's connection thread may end
        # at any moment (it did in a full run, and a count then let the wait below end
        # before the second's place was free).
        serving = _conn_thread_set()
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as second:
            second.settimeout(30)
            second.connect(path)
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as third:
                third.settimeout(30)
                with _warnings_of("keyserver") as records:
                    third.connect(path)
                    assert third.recv(hostwire.MAX_MESSAGE) == b""  # closed, nothing read
                said = [r.getMessage() for r in records]
                assert said == [
                    "release committer: refused a connection: 2 open, the most it serves"
                ]
                assert not any(TOKEN in line for line in said)
            # Those within the cap are served: the second one answers a batch too.
            second.sendall(hostwire.encode_jobs([job]))
            assert hostwire.decode_outcomes(second.recv(hostwire.MAX_MESSAGE), 1)
            [seconds] = _conn_thread_set() - serving  # the third had none
        seconds.join(timeout=30)  # it ends with its connection, and frees its place
        assert not seconds.is_alive()
        # Its place is free again: a new connection is served.
        fourth = hostcommit.CommitterClient(path, timeout=30)
        assert fourth.call([job]) == [_release()]
        fourth.close()
    finally:
        first.close()
        server.stop()
