"""The host committer's messages (keyserver/release/hostcommit.py): what may cross the socket.

Over a real socketpair of the kind the workers use (SOCK_SEQPACKET); the whole path
(workers, committer process, kill -9) is tests/faults/test_committer_kill.py.
"""

from __future__ import annotations

import os
import pickle
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyserver.domain.context import RequestContext
from keyserver.domain.errors import SuspendedError, UnavailableError
from keyserver.domain.i18n import N_
from keyserver.release import hostcommit
from keyserver.release.jobs import EvalJob


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.getpid, ())  # type: ignore[return-value]


def test_jobs_and_refusals_round_trip_with_their_extensions() -> None:
    job = EvalJob("cid", RequestContext(remote="10.0.0.1"), digest=b"d" * 32, cid=b"c" * 16)
    refusal = SuspendedError(N_("the container is suspended"), contact="desk", reason="lost")
    release = {"_sealed": (b"s", 2), "_expires": datetime(2026, 1, 1, tzinfo=UTC), "n": 1}
    back = hostcommit.loads(hostcommit.dumps([job, refusal, release]))
    assert back[0] == job
    assert type(back[1]) is SuspendedError
    assert back[1].extensions == {"contact": "desk", "reason": "lost"}
    assert back[1].message is not None and back[1].detail == refusal.detail
    assert back[2] == release


def test_a_message_naming_another_global_is_refused() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.getpid"):
        hostcommit.loads(pickle.dumps([_Evil()]))


def test_a_dead_committer_answers_unavailable_and_the_connection_is_dropped(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "release.sock")
    listener = hostcommit.listen(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    client = hostcommit.CommitterClient(path, timeout=30)

    def accept_and_die() -> None:
        conn, _ = listener.accept()
        conn.recv(hostcommit.MAX_MESSAGE)
        conn.close()  # as kill -9 closes it: the batch was read, never answered

    thread = threading.Thread(target=accept_and_die)
    thread.start()
    job = EvalJob("cid", RequestContext(remote=None), digest=b"d" * 32)
    with pytest.raises(UnavailableError, match="release committer is unavailable"):
        client.call([job])
    thread.join()

    # The next batch connects again and gets its answer (one per job, in order).
    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            jobs = hostcommit.loads(conn.recv(hostcommit.MAX_MESSAGE))
            conn.sendall(hostcommit.dumps([{"n": i} for i, _ in enumerate(jobs)]))

    thread = threading.Thread(target=answer)
    thread.start()
    assert client.call([job, job]) == [{"n": 0}, {"n": 1}]
    thread.join()
    client.close()
    listener.close()


def test_an_idle_connection_to_a_dead_committer_is_replaced_without_a_503(
    tmp_path: Path,
) -> None:
    """A worker idle while its committer was killed and restarted: its next batch is
    sent to the new committer (the dead one never received it), not answered 503."""
    path = str(tmp_path / "release.sock")
    listener = hostcommit.listen(path)
    client = hostcommit.CommitterClient(path, timeout=30)
    accepted: list[object] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        with conn:
            jobs = hostcommit.loads(conn.recv(hostcommit.MAX_MESSAGE))
            conn.sendall(hostcommit.dumps([{"n": len(jobs)} for _ in jobs]))
        # Leaving the block closes the connection, as kill -9 of the committer does.

    job = EvalJob("cid", RequestContext(remote=None), digest=b"d" * 32)
    first = threading.Thread(target=serve)
    first.start()
    assert client.call([job]) == [{"n": 1}]
    first.join()  # the old committer's end is closed now; the client's is idle
    second = threading.Thread(target=serve)
    second.start()
    assert client.call([job, job]) == [{"n": 2}, {"n": 2}]
    second.join()
    assert len(accepted) == 2
    client.close()
    listener.close()
