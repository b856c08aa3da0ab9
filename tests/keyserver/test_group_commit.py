"""Group commit: concurrent key releases share transactions and keep every guarantee.

spec §evaluate: each release is returned only after its audit entry committed; the
attempt budget holds under concurrency; the audit chain stays one verifiable chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from voprf import ristretto as r

from keyserver._domain.settings import Settings
from keyserver._release.group_commit import GroupCommit
from keyserver._store.engine import make_engine
from tests.support import http_client
from tests.support.world import World, activate, b64, unb64

THREADS = 12


def _evaluate(w: World, who: str, cid: str, public_key: str) -> int:
    """One real VOPRF round trip on a fresh connection; the proof must verify on 200."""
    client, blinded = r.Client.blind(b"rwc/v1 oprf input" + unb64(cid) + b"pw")
    headers = {"Authorization": f"Bearer {w.tokens[who]}"}
    with http_client.client(base_url=w.url, headers=headers, timeout=60) as session:
        resp = session.post(
            f"/v1/containers/{cid}/evaluate", json={"blinded_element": b64(blinded.serialize())}
        )
    if resp.status_code == 200:
        doc = resp.json()
        out = r.VerifiableOutput.deserialize(unb64(doc["proof"]) + unb64(doc["evaluated_element"]))
        client.finalize(out, r.PublicKey.deserialize(unb64(public_key)))
    return resp.status_code


def test_concurrent_releases_are_each_audited_and_counted(world: World) -> None:
    a, _ = activate(world, attempt_budget=1000)
    b, _ = activate(world, attempt_budget=1000)
    jobs = [
        (who, reg) for _ in range(4) for who in ("reader", "groupie", "outsider") for reg in (a, b)
    ]
    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(
            pool.map(
                lambda j: _evaluate(world, j[0], j[1]["container_id"], j[1]["public_key"]), jobs
            )
        )
    expected = [403 if who == "outsider" else 200 for who, _ in jobs]
    assert codes == expected
    for reg in (a, b):
        cid = reg["container_id"]
        status = world.call("official", "GET", f"/v1/containers/{cid}").json()
        assert status["unconfirmed"] == 8
        entries = world.call(
            "auditor", "GET", "/v1/audit", params={"container": cid, "action": "evaluate"}
        ).json()["entries"]
        ok = [e for e in entries if e["outcome"] == "ok" and e["details"]["mode"] == "read"]
        refused = [e for e in entries if e["outcome"] == "refused"]
        # Each release has its own entry, numbered 1..8 in chain order.
        assert sorted(e["details"]["unconfirmed"] for e in ok) == list(range(1, 9))
        assert [e["details"]["unconfirmed"] for e in ok] == list(range(1, 9))
        assert len(refused) == 4 and {e["actor"] for e in refused} == {"outsider"}
    verify = world.call("auditor", "GET", "/v1/audit/verify").json()
    assert verify["ok"] is True


def test_budget_holds_under_concurrency(world: World) -> None:
    reg, _ = activate(world, attempt_budget=5)
    cid = reg["container_id"]
    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(
            pool.map(lambda _: _evaluate(world, "reader", cid, reg["public_key"]), range(12))
        )
    # Exactly the budget is released; the fifth release suspends the container.
    assert sorted(codes) == [200] * 5 + [423] * 7
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "suspended" and status["unconfirmed"] == 5
    entries = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()["entries"]
    assert len([e for e in entries if e["action"] == "suspend"]) == 1
    assert len([e for e in entries if e["outcome"] == "refused"]) == 7
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_jobs_queued_during_a_batch_share_the_next_one() -> None:
    batches: list[list[int]] = []
    entered, release = threading.Event(), threading.Event()

    def runner(take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        jobs = take()
        batches.append(list(jobs))
        if len(batches) == 1:
            entered.set()
            release.wait(10)
        return [j * 10 if j != 3 else ValueError("job 3 failed") for j in jobs]

    gc: GroupCommit[int, int] = GroupCommit(runner)
    results: dict[int, object] = {}

    def call(j: int) -> None:
        try:
            results[j] = gc.submit(j)
        except ValueError as exc:
            results[j] = exc

    threads = [threading.Thread(target=call, args=(1,))]
    threads[0].start()
    assert entered.wait(10)
    threads += [threading.Thread(target=call, args=(j,)) for j in (2, 3, 4, 5)]
    for t in threads[1:]:
        t.start()
    _wait_for(lambda: len(gc._queue) == 4)  # the queue is what is tested
    release.set()
    for t in threads:
        t.join(10)
    assert batches[0] == [1] and sorted(batches[1]) == [2, 3, 4, 5] and len(batches) == 2
    assert {j: v for j, v in results.items() if j != 3} == {1: 10, 2: 20, 4: 40, 5: 50}
    assert isinstance(results[3], ValueError)


def test_jobs_queued_while_the_runner_waits_for_its_lock_join_its_batch() -> None:
    # The runner takes its batch once it holds the writers' lock (group_commit.py): what
    # queued up while another writer held that lock goes into this transaction, not the
    # one after it.
    writers_lock = threading.Lock()
    waiting = threading.Event()
    batches: list[list[int]] = []

    def runner(take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        waiting.set()
        with writers_lock:
            jobs = take()
            assert take() is jobs  # taking again is harmless
            batches.append(list(jobs))
            return [j * 10 for j in jobs]

    gc: GroupCommit[int, int] = GroupCommit(runner)
    results: dict[int, int] = {}
    threads = [
        threading.Thread(target=lambda j=j: results.__setitem__(j, gc.submit(j)))
        for j in range(1, 6)
    ]
    with writers_lock:  # another writer holds the lock
        threads[0].start()
        assert waiting.wait(10)  # the committer runs job 1's transaction, waiting for the lock
        for t in threads[1:]:
            t.start()
        _wait_for(lambda: len(gc._queue) == 5)  # nothing taken yet
    for t in threads:
        t.join(10)
    assert batches == [[1, 2, 3, 4, 5]]
    assert results == {j: j * 10 for j in range(1, 6)}
    gc.close()


def test_a_runner_that_fails_before_taking_fails_the_queued_jobs() -> None:
    calls = 0

    def runner(take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database down")  # before take(): nothing was taken
        if calls == 2:
            return []  # a runner that forgets to take fails its jobs, it cannot hang them
        return [j * 10 for j in take()]

    gc: GroupCommit[int, int] = GroupCommit(runner)
    with pytest.raises(ConnectionError, match="database down"):
        gc.submit(1)
    with pytest.raises(RuntimeError, match="without taking"):
        gc.submit(2)
    assert gc.submit(3) == 30  # the committer survived both
    gc.close()


def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def runner(take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        raise RuntimeError("database down")

    gc: GroupCommit[int, int] = GroupCommit(runner)
    with pytest.raises(RuntimeError, match="database down"):
        gc.submit(1)
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(runner, max_batch=0)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # a PostgreSQL storage parameter
def test_postgres_containers_leave_room_for_hot_updates(settings: Settings, backend: str) -> None:
    # Bulk suspensions rely on HOT updates (migration 0001): half of each page stays free.
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'containers'")
            ).scalar()
    finally:
        engine.dispose()
    assert options == ["fillfactor=50"]
