"""The host committer's messages (keyserver/_release/hostcommit.py, hostwire.py): what may cross.

Over real sockets of the kind the workers use (SOCK_SEQPACKET); the whole path (workers,
committer process, kill -9) is tests/faults/test_committer_kill.py. A worker and a
committer in this process over one database: test_a_worker_releases_through_the_committer.
Idle connections, reconnecting and stopping: test_hostcommit_connections.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from voprf import ristretto

from keyserver._domain.context import RequestContext
from keyserver._domain.encoding import b64d
from keyserver._domain.errors import (
    KeyServerError,
    RowIntegrityError,
    SuspendedError,
    UnavailableError,
)
from keyserver._domain.i18n import N_, ngettext
from keyserver._domain.lifecycle import Actor
from keyserver._release import hostcommit, hostsocket, hostwire
from keyserver._release.hostwire import WireError
from keyserver._release.jobs import EvalJob, bearer_job
from keyserver._service import KeyService
from tests.support.world import World, activate

CTX = RequestContext(remote="192.0.2.7")
CID = "AAAAAAAAAAAAAAAAAAAAAA"
TOKEN = "Bearer rwc_" + "A" * 43
BLINDED = bytes(ristretto.Client.blind(b"rwc wire test")[1].serialize())


def _release(**changes: Any) -> dict[str, Any]:
    """A release as the committer's batch leaves it (batch._release, then _for_worker)."""
    return {
        "_sealed": (b"s" * 60, 2),
        "_challenge": b"c" * 32,
        "_expires": datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=UTC),
        "_mode": "read",
        "attempts_limit": "principal",
        "attempts_remaining": 4,
        "password_required": True,
        **changes,
    }


def _without_blinded(job: EvalJob) -> EvalJob:
    return dataclasses.replace(job, blinded=None)


def _comparable(job: EvalJob) -> tuple[Any, ...]:
    """A job's fields, its refusals by class, problem document and message (exceptions
    compare by identity)."""

    def refusal(error: KeyServerError | None) -> Any:
        return None if error is None else (type(error), error.problem(), error.message)

    return (
        dataclasses.replace(job, auth_error=None, input_error=None),
        refusal(job.auth_error),
        refusal(job.input_error),
    )


def test_jobs_round_trip_without_their_blinded_elements() -> None:
    jobs = [
        bearer_job(TOKEN, CID, BLINDED, CTX, header_digest=b"h" * 32),
        bearer_job(None, CID, BLINDED, RequestContext(remote=None)),  # no header
        bearer_job(TOKEN, CID, b"\xff" * 32, CTX),  # not an element: input error
    ]
    back = hostwire.decode_jobs(hostwire.encode_jobs(jobs))
    assert [_comparable(j) for j in back] == [_comparable(_without_blinded(j)) for j in jobs]
    assert back[1].auth_error is not None and back[1].auth_error.message is not None
    assert back[2].input_error is not None and back[2].cid == b""


def test_a_junk_container_id_does_not_cross() -> None:
    junk = "x" * 5000  # a request's path segment, never recorded (valid_container_id)
    job = bearer_job(TOKEN, junk, BLINDED, CTX)
    assert job.input_error is not None
    data = hostwire.encode_jobs([job] * hostwire.MAX_JOBS)
    assert len(data) < 64 * 1024 and b"xxxx" not in data
    [back, *_] = hostwire.decode_jobs(data)
    assert _comparable(back) == _comparable(dataclasses.replace(_without_blinded(job), cid_text=""))


def test_refusals_and_failures_round_trip_with_their_members() -> None:
    refusals: list[KeyServerError] = [
        SuspendedError(N_("the container is suspended"), contact="desk", reason=None),
        RowIntegrityError(
            N_(
                "the container's record is older than audit entry %(seq)s (%(action)s): "
                "it was copied back from a backup; nothing was released (officials: destroy "
                "it, or bring the database up to date from the audit log)",
                seq=12,
                action="destroy",
            ),
            container_id=CID,
            newer_seq=12,
        ),
    ]
    try:
        b64d("!", 32, "header_digest")  # a refusal whose value is a message itself
    except KeyServerError as exc:
        refusals.append(exc)
    outcomes: list[Any] = [*refusals, _release(), _release(_challenge=None, _expires=None)]
    outcomes += ["unavailable", "internal"]
    data = hostwire.encode_outcomes([hostwire.outcome_doc(o) for o in outcomes])
    back = hostwire.decode_outcomes(data, len(outcomes))
    for sent, got in zip(refusals, back, strict=False):
        assert type(got) is type(sent)
        assert isinstance(got, KeyServerError)
        assert got.problem() == sent.problem()
        assert got.message == sent.message
    assert back[len(refusals) :] == outcomes[len(refusals) :]


@pytest.mark.parametrize(
    ("job", "match"),
    [
        (
            EvalJob(CID, CTX, actor=Actor("reader", frozenset({"reader"})), cid=bytes(16)),
            "authenticated actor",
        ),
        (EvalJob(CID, CTX, digest=b"d" * 32, cid=b"other id"), "decoded container id"),
        (EvalJob(CID, CTX, cid=bytes(16)), "token digest or an authentication refusal"),
    ],
)
def test_a_job_that_cannot_cross_is_refused_when_sent(job: EvalJob, match: str) -> None:
    with pytest.raises(WireError, match=match):
        hostwire.encode_jobs([job])


def test_a_release_with_another_member_or_a_refusal_without_a_message_is_refused() -> None:
    with pytest.raises(WireError, match="a release holds exactly"):
        hostwire.outcome_doc(_release(_seed=b"k" * 32))  # the opened seed never crosses
    with pytest.raises(WireError, match="without a catalogue message"):
        hostwire.outcome_doc(SuspendedError("plain text"))
    with pytest.raises(WireError, match="with a count"):
        hostwire.outcome_doc(SuspendedError(ngettext("%(n)s day", "%(n)s days", 2, n=2)))
    with pytest.raises(WireError, match="problem member"):
        hostwire.outcome_doc(SuspendedError(N_("the container is suspended"), at=datetime.now()))
    # The committer answers such an outcome as an internal failure (logged), not at all.
    assert hostcommit.to_wire(_release(_seed=b"k")) == {"failure": "internal"}
    assert hostcommit.to_wire(RuntimeError("boom")) == {"failure": "internal"}


def _good_job() -> dict[str, Any]:
    return dict(json.loads(hostwire.encode_jobs([bearer_job(TOKEN, CID, BLINDED, CTX)]))["jobs"][0])


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _jobs_with(**changes: Any) -> bytes:
    return _canonical({"jobs": [{**_good_job(), **changes}]})


_REFUSAL = {"slug": "unauthenticated", "msgid": "unknown bearer token", "values": {}}
MALFORMED_JOBS: dict[str, bytes] = {
    "not JSON": b'{"jobs":',
    "a pickle": pickle.dumps([_without_blinded(bearer_job(TOKEN, CID, BLINDED, CTX))]),
    "spaces": json.dumps({"jobs": [_good_job()]}).encode(),
    "keys out of order": b'{"jobs":['
    + json.dumps(dict(reversed(_good_job().items())), separators=(",", ":")).encode()
    + b"]}",
    "a duplicate key": _jobs_with()[:-3] + b',"remote":"x"}]}',
    "a member too many": _jobs_with(actor="admin"),
    "a member missing": _canonical({"jobs": [{"cid": CID}]}),
    "a float": _jobs_with(remote=1.5),
    "NaN": _jobs_with()[:-3] + b',"x":NaN}]}',
    "no jobs": _canonical({"jobs": []}),
    "too many jobs": _canonical({"jobs": [_good_job()] * (hostwire.MAX_JOBS + 1)}),
    "a non-canonical id": _jobs_with(cid="AAAAAAAAAAAAAAAAAAAAAB"),
    "a short digest": _jobs_with(digest="AAAA"),
    "an upper-case digest": _jobs_with(digest=_good_job()["digest"].upper()),
    "digest and refusal": _jobs_with(auth_error={**_REFUSAL, "extensions": {}}),
    "a refusal of another kind": _jobs_with(
        digest=None, auth_error={**_REFUSAL, "slug": "forbidden", "extensions": {}}
    ),
    "an unknown slug": _jobs_with(
        digest=None, auth_error={**_REFUSAL, "slug": "nope", "extensions": {}}
    ),
    "a message its values do not fill": _jobs_with(
        digest=None,
        auth_error={
            **_REFUSAL,
            "msgid": "%(what)s is bad",
            "values": {"other": 1},
            "extensions": {},
        },
    ),
    "a member that is an object": _jobs_with(
        digest=None, auth_error={**_REFUSAL, "extensions": {"contact": {"a": 1}}}
    ),
    "a remote too long": _jobs_with(remote="r" * 256),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "too large": b" " * (hostwire.MAX_MESSAGE + 1),
}


@pytest.mark.parametrize("name", list(MALFORMED_JOBS))
def test_a_malformed_jobs_message_is_refused_whole(name: str) -> None:
    with pytest.raises(WireError):
        hostwire.decode_jobs(MALFORMED_JOBS[name])


def _outcomes_with(**changes: Any) -> bytes:
    release = hostwire.outcome_doc(_release())["release"]
    return _canonical({"outcomes": [{"release": {**release, **changes}}]})


MALFORMED_OUTCOMES: dict[str, bytes] = {
    "another count": _canonical({"outcomes": []}),
    "an opened seed": _outcomes_with(seed="AAAA"),
    "a bad mode": _outcomes_with(mode="admin"),
    "a number as a flag": _outcomes_with(password_required=1),
    "a negative generation": _outcomes_with(generation=-1),
    "a flag as a number": _outcomes_with(attempts_remaining=True),
    "another time format": _outcomes_with(expires="2026-01-01T09:00:00Z"),
    "an unknown allowance": _outcomes_with(attempts_limit="everyone"),
    "two kinds at once": _canonical({"outcomes": [{"failure": "internal", "refusal": None}]}),
    "an unknown failure": _canonical({"outcomes": [{"failure": "oops"}]}),
}


@pytest.mark.parametrize("name", list(MALFORMED_OUTCOMES))
def test_a_malformed_answer_is_refused_whole(name: str) -> None:
    with pytest.raises(WireError):
        hostwire.decode_outcomes(MALFORMED_OUTCOMES[name], 1)


def _server(
    tmp_path: Path,
    commit: Callable[[Sequence[EvalJob]], Sequence[Any]],
    idle_s: float = hostcommit.IDLE_S,
) -> tuple[str, hostcommit.CommitterServer]:
    """A committer serving on a socket in ``tmp_path``; the test ends it with stop()."""
    path = str(tmp_path / "release.sock")
    listener = hostsocket.listen(path)
    server = hostcommit.CommitterServer(listener, commit, gather_s=0, idle_s=idle_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return path, server


@pytest.mark.parametrize("name", ["a pickle", "a member too many", "too large"])
def test_the_committer_drops_a_connection_that_sends_a_malformed_message(
    tmp_path: Path, name: str
) -> None:
    committed: list[Sequence[EvalJob]] = []

    def commit(jobs: Sequence[EvalJob]) -> list[Any]:
        committed.append(jobs)
        return [_release() for _ in jobs]

    path, server = _server(tmp_path, commit)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as peer:
        peer.settimeout(30)
        peer.connect(path)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * hostwire.MAX_MESSAGE)
        peer.sendall(MALFORMED_JOBS[name])
        assert peer.recv(hostwire.MAX_MESSAGE) == b""  # closed, nothing answered
    # A well-formed batch on a new connection is committed and answered.
    client = hostcommit.CommitterClient(path, timeout=30)
    assert client.call([bearer_job(TOKEN, CID, BLINDED, CTX)]) == [_release()]
    assert len(committed) == 1
    client.close()
    server.stop()


def test_a_dead_committer_answers_unavailable_and_the_connection_is_dropped(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "release.sock")
    listener = hostsocket.listen(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    client = hostcommit.CommitterClient(path, timeout=30)

    def accept_and_die() -> None:
        conn, _ = listener.accept()
        conn.recv(hostwire.MAX_MESSAGE)
        conn.close()  # as kill -9 closes it: the batch was read, never answered

    thread = threading.Thread(target=accept_and_die)
    thread.start()
    job = bearer_job(TOKEN, CID, BLINDED, CTX)
    with pytest.raises(UnavailableError, match="release committer is unavailable"):
        client.call([job])
    thread.join()

    # The next batch connects again and gets its answer (one per job, in order).
    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            jobs = hostwire.decode_jobs(conn.recv(hostwire.MAX_MESSAGE))
            docs = [hostwire.outcome_doc(_release(attempts_remaining=i)) for i in range(len(jobs))]
            conn.sendall(hostwire.encode_outcomes(docs))

    thread = threading.Thread(target=answer)
    thread.start()
    assert client.call([job, job]) == [_release(attempts_remaining=i) for i in range(2)]
    thread.join()

    # An answer that is not exactly the schema's is a 503 too, and drops the connection.
    def garbage() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(hostwire.MAX_MESSAGE)
            conn.sendall(MALFORMED_OUTCOMES["an opened seed"])

    thread = threading.Thread(target=garbage)
    thread.start()
    with pytest.raises(UnavailableError, match="release committer is unavailable"):
        client.call([job])
    thread.join()
    client.close()
    listener.close()


def test_an_idle_connection_to_a_dead_committer_is_replaced_without_a_503(
    tmp_path: Path,
) -> None:
    """A worker idle while its committer was killed and restarted: its next batch is
    sent to the new committer (the dead one never received it), not answered 503."""
    path = str(tmp_path / "release.sock")
    listener = hostsocket.listen(path)
    client = hostcommit.CommitterClient(path, timeout=30)
    accepted: list[object] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        with conn:
            jobs = hostwire.decode_jobs(conn.recv(hostwire.MAX_MESSAGE))
            docs = [hostwire.outcome_doc(_release(attempts_remaining=len(jobs))) for _ in jobs]
            conn.sendall(hostwire.encode_outcomes(docs))
        # Leaving the block closes the connection, as kill -9 of the committer does.

    job = bearer_job(TOKEN, CID, BLINDED, CTX)
    first = threading.Thread(target=serve)
    first.start()
    assert client.call([job]) == [_release(attempts_remaining=1)]
    first.join()  # the old committer's end is closed now; the client's is idle
    second = threading.Thread(target=serve)
    second.start()
    assert client.call([job, job]) == [_release(attempts_remaining=2)] * 2
    second.join()
    assert len(accepted) == 2
    client.close()
    listener.close()


def test_a_worker_releases_through_the_committer(
    world: World, service: KeyService, tmp_path: Path
) -> None:
    """The real batch's outcomes cross: a release the worker evaluates, refusals audited."""
    reg, _ = activate(world)
    cid = reg["container_id"]
    path, server = _server(tmp_path, service.releases.commit_for_workers)
    worker = KeyService(service.settings)
    worker.releases.use_committer(hostcommit.CommitterClient(path, timeout=30))
    try:
        auth = f"Bearer {world.tokens['reader']}"
        jobs = [
            bearer_job(auth, cid, BLINDED, CTX),
            bearer_job(TOKEN, cid, BLINDED, CTX),  # unknown token
            bearer_job(f"Bearer {world.tokens['outsider']}", cid, BLINDED, CTX),
            bearer_job(auth, "junk", BLINDED, CTX),
        ]
        outcomes = worker.releases._forward_batch(lambda: jobs)
        released, *_, junk = outcomes
        assert isinstance(released, dict) and len(released["evaluated_element"]) == 43
        assert released["challenge"] and released["attempts_remaining"] is not None
        assert [getattr(o, "slug", None) for o in outcomes[1:]] == [
            "unauthenticated",
            "not-allowed",
            "invalid-request",
        ]
        assert junk is jobs[3].input_error  # the job's own error: not counted as a refusal
        entries = world.call("auditor", "GET", "/v1/audit").json()["entries"]
        assert [(e["actor"], e["outcome"]) for e in entries[-3:]] == [
            ("reader", "ok"),
            ("(unauthenticated)", "refused"),
            ("outsider", "refused"),
        ]
    finally:
        worker.close()
        server.stop()


def _age(path: Path) -> None:
    """Make ``path`` look older than the grace a socket directory is given."""
    then = time.time() - 2 * hostsocket.GRACE_S
    os.utime(path, (then, then))


def _sockdirs(parent: Path) -> set[str]:
    return {p.name for p in parent.iterdir() if p.name.startswith(hostsocket.SOCKET_DIR_PREFIX)}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a socket's path has room for ~107 bytes, and
    tmp_path under xdist (plus the socket directory and name) can be longer."""
    path = Path(tempfile.mkdtemp(prefix="rwc-hc-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_killed_supervisors_socket_directory_is_removed_by_the_next(short_dir: Path) -> None:
    """kill -9 of a supervisor leaves its 0700 directory and socket; the next one removes
    it, and nothing that is not certainly a dead committer's."""
    tmp_path = short_dir
    code = (
        "import sys, time; from keyserver._release import hostsocket; "
        "d, _ = hostsocket.make_listener(16, sys.argv[1]); print(d, flush=True); time.sleep(600)"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert killed.stdout is not None
    dead = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    assert (dead / hostsocket.SOCKET_NAME).is_socket()
    hostsocket.make_listener(16, str(tmp_path))[1].close()  # too young to be judged
    assert dead.exists()
    for sockdir in tmp_path.iterdir():
        _age(sockdir / hostsocket.SOCKET_NAME)

    live_dir, live = hostsocket.make_listener(16, str(tmp_path))  # removes the dead ones
    assert not dead.exists()
    assert _sockdirs(tmp_path) == {Path(live_dir).name}
    _age(Path(live_dir) / hostsocket.SOCKET_NAME)

    # Left alone: a live listener, a directory not 0700, one with something else in it,
    # a symlink to a dead one, a young empty one; removed: an old empty one.
    def dead_dir(name: str) -> Path:
        path = tmp_path / (hostsocket.SOCKET_DIR_PREFIX + name)
        path.mkdir(mode=0o700)
        hostsocket.listen(str(path / hostsocket.SOCKET_NAME)).close()
        _age(path / hostsocket.SOCKET_NAME)
        return path

    dead_dir("open").chmod(0o755)
    (dead_dir("other") / "note").write_text("not ours to judge")
    target = dead_dir("target")
    target.rename(tmp_path / "elsewhere")
    (tmp_path / (hostsocket.SOCKET_DIR_PREFIX + "link")).symlink_to(tmp_path / "elsewhere")
    young = tmp_path / (hostsocket.SOCKET_DIR_PREFIX + "young")
    old = tmp_path / (hostsocket.SOCKET_DIR_PREFIX + "old")
    young.mkdir(mode=0o700)
    old.mkdir(mode=0o700)
    _age(old)
    kept = _sockdirs(tmp_path) - {old.name}

    assert hostsocket.remove_stale(str(tmp_path)) == [str(old)]
    assert _sockdirs(tmp_path) == kept
    assert (tmp_path / "elsewhere" / hostsocket.SOCKET_NAME).is_socket()
    live.close()
    assert hostsocket.remove_stale(str(tmp_path)) == [live_dir]


def test_a_socket_path_too_long_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    with pytest.raises(OSError, match="path too long"):
        hostsocket.make_listener(16, str(deep))
    assert list(deep.iterdir()) == []
