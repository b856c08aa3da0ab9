"""One batch transaction behaves like its jobs run one after another (spec §evaluate).

The release batch defers its writes (keyserver/_release/hotpath.py, ``Batch``) and looks each
token up once. These tests put several requests for ONE container, and a mix of good and
bad tokens, into a single batch and check that every job saw the jobs before it: the
attempt budget counts each release, the budget suspension refuses the rest of the batch,
and the audit log holds one entry per job, in order, in one verifiable chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from keyserver._release import batch as batch_module
from keyserver._release.jobs import EvalJob, bearer_job
from keyserver._service import KeyService
from keyserver._store.audit_verify import verify
from tests.support.release_jobs import CTX, blinded, outcome_kind
from tests.support.world import World, activate, b64, confirm


@pytest.fixture(autouse=True)
def _no_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test whose batch fell back to one-by-one retries.

    A batch that raises is rolled back and each job run alone (keyserver/_release/batch.py),
    which gives the same answers: without this, a broken batch path would pass every test
    here on the retry path.
    """

    def fell_back(job: EvalJob) -> Any:
        raise AssertionError(f"the batch failed and was retried job by job ({job.cid_text})")

    monkeypatch.setattr(batch_module, "_only", fell_back)


def _jobs(world: World, cid: str, count: int, token: str = "reader") -> list[EvalJob]:
    auth = f"Bearer {world.tokens[token]}"
    return [bearer_job(auth, cid, blinded(), CTX) for _ in range(count)]


def _run(service: KeyService, jobs: list[EvalJob]) -> list[Any]:
    """Run ``jobs`` as ONE batch transaction (what the committer thread does)."""
    return service.releases._evaluate_batch(lambda: jobs)


def test_one_batch_counts_every_release_and_suspends_at_the_budget(
    world: World, service: KeyService
) -> None:
    reg, _ = activate(world, attempt_budget=3)
    cid = reg["container_id"]
    outcomes = _run(service, _jobs(world, cid, 5))
    kinds = [outcome_kind(o) for o in outcomes]
    # Releases 1..3 count 1..3 unconfirmed; the third reaches the budget and suspends,
    # so the 4th and 5th of the same batch are refused as suspended.
    assert kinds == ["ok", "ok", "ok", "suspended", "suspended"]
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "suspended" and status["unconfirmed"] == 3

    entries = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()["entries"]
    tail = [(e["action"], e["outcome"], e["details"].get("unconfirmed")) for e in entries[-6:]]
    assert tail == [
        ("evaluate", "ok", 1),
        ("evaluate", "ok", 2),
        ("evaluate", "ok", 3),
        ("suspend", "ok", 3),  # the budget suspension records the count that reached it
        ("evaluate", "refused", None),
        ("evaluate", "refused", None),
    ]
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def test_good_and_bad_tokens_in_one_batch(world: World, service: KeyService) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    good = _jobs(world, cid, 2)
    bad = [bearer_job("Bearer rwc_" + "A" * 43, cid, blinded(), CTX)]
    outsider = _jobs(world, cid, 1, token="outsider")
    outcomes = _run(service, [good[0], *bad, *outsider, good[1]])
    kinds = [outcome_kind(o) for o in outcomes]
    assert kinds == ["ok", "unauthenticated", "not-allowed", "ok"]
    released = [o for o in outcomes if isinstance(o, dict)]
    assert all(len(o["evaluated_element"]) == 43 and o["challenge"] for o in released)
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["unconfirmed"] == 2
    entries = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()["entries"]
    actors = [(e["actor"], e["outcome"]) for e in entries[-4:]]
    assert actors == [
        ("reader", "ok"),
        ("(unauthenticated)", "refused"),
        ("outsider", "refused"),
        ("reader", "ok"),
    ]
    assert all(e["remote"] == "192.0.2.7" for e in entries[-4:])


def test_challenges_of_one_batch_are_each_usable(world: World, service: KeyService) -> None:
    reg, receipt_key = activate(world)
    cid = reg["container_id"]
    outcomes = _run(service, _jobs(world, cid, 3))
    for o in outcomes:
        assert isinstance(o, dict)
        confirm(world, "reader", cid, receipt_key, o)
    assert world.call("official", "GET", f"/v1/containers/{cid}").json()["unconfirmed"] == 0


@pytest.mark.own_server  # reads /metrics, which a server keeps in memory
def test_release_latency_histogram_over_http(world: World) -> None:
    """spec §operations: /metrics has the key-release latency histogram, by outcome."""
    reg, _ = activate(world)
    cid = reg["container_id"]
    body = {"blinded_element": b64(blinded())}
    for who in ("reader", "reader", "outsider"):
        world.call(who, "POST", f"/v1/containers/{cid}/evaluate", json=body)
    text = world.call(None, "GET", "/metrics").text
    # The writer's sealing evaluation (activate) plus two reads: 3 ok; the outsider: 1.
    assert 'rwc_evaluate_seconds_count{outcome="ok"} 3' in text
    assert 'rwc_evaluate_seconds_count{outcome="refused"} 1' in text
    assert 'rwc_evaluate_seconds_bucket{outcome="ok",le="+Inf"} 3' in text
    assert "# TYPE rwc_evaluate_seconds histogram" in text


def test_a_batch_over_several_containers_prefetched_at_once(
    world: World, service: KeyService
) -> None:
    """Several containers in one batch: their rows are read in one statement
    (``Batch.prefetch``), and each job still sees the jobs before it."""
    a, _ = activate(world, attempt_budget=2)
    b, _ = activate(world)
    c, _ = activate(world, readers=[], reader_groups=["team-a"])
    unknown = b64(b"\x01" * 16)
    jobs = [
        *_jobs(world, a["container_id"], 1),
        *_jobs(world, b["container_id"], 1),
        *_jobs(world, a["container_id"], 1),  # reaches A's budget: A suspends
        *_jobs(world, unknown, 1),
        *_jobs(world, a["container_id"], 1),  # refused: A is suspended by now
        *_jobs(world, c["container_id"], 1, token="groupie"),  # allowed by group
        *_jobs(world, c["container_id"], 1),  # "reader" is not in team-a
        *_jobs(world, b["container_id"], 1, token="outsider"),
    ]
    kinds = [outcome_kind(o) for o in _run(service, jobs)]
    assert kinds == [
        "ok",
        "ok",
        "ok",
        "not-found",
        "suspended",
        "ok",
        "not-allowed",
        "not-allowed",
    ]
    status = {
        name: world.call("official", "GET", f"/v1/containers/{reg['container_id']}").json()
        for name, reg in (("a", a), ("b", b), ("c", c))
    }
    assert (status["a"]["state"], status["a"]["unconfirmed"]) == ("suspended", 2)
    assert (status["b"]["state"], status["b"]["unconfirmed"]) == ("active", 1)
    assert (status["c"]["state"], status["c"]["unconfirmed"]) == ("active", 1)
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def test_one_batch_counts_the_windows_across_containers(world: World, settings: Any) -> None:
    # spec §receipt: the per-medium and per-principal windows count the batch's own
    # attempts in job order, across several containers (the prefetch path).
    small = settings.replace(medium_attempt_cap=3, principal_attempt_cap=100)
    service = KeyService(small)
    try:
        a, _ = activate(world, medium="USB-WIN")
        b, _ = activate(world, medium="USB-WIN")
        c, _ = activate(world, medium="USB-ELSE")
        jobs: list[EvalJob] = []
        for _ in range(3):
            for reg, who in ((a, "reader"), (b, "groupie"), (c, "reader")):
                jobs += _jobs(world, reg["container_id"], 1, token=who)
        outcomes = _run(service, jobs)
        kinds = [outcome_kind(o) for o in outcomes]
        # USB-WIN: the first three of its six jobs are released; USB-ELSE counts apart.
        assert kinds == [
            "ok", "ok", "ok",
            "ok", "attempts-exhausted", "ok",
            "attempts-exhausted", "attempts-exhausted", "ok",
        ]  # fmt: skip
        # Each release says what is left: the medium cap is the smallest allowance.
        assert [o["attempts_remaining"] for o in outcomes if isinstance(o, dict)] == [
            2, 1, 2, 0, 1, 0,
        ]  # fmt: skip
        with service.ledger.reads() as session:
            assert verify(session, service.keyring.audit_key).ok
    finally:
        service.close()


def test_the_head_is_held_through_four_statements(
    world: World, service: KeyService, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """A batch over several containers holds the chain head through FOUR statements.

    Issue 15: on PostgreSQL each statement under the head lock is a round trip the head
    is held through. Lock the head; lock the rows; read the facts (windows, newer log
    entries, policy not read before the lock); write everything. Then COMMIT (PostgreSQL:
    sent with the writes, in their round trip: test_release_round_trips.py).
    """
    regs = [activate(world)[0]["container_id"] for _ in range(3)]
    # The first release of a container in a process reads its register entry once (one
    # more statement, cached: keyserver/_release/rowcheck.py); count the steady state.
    _run(service, [job for cid in regs for job in _jobs(world, cid, 1)])
    taken: list[list[EvalJob]] = [_jobs(world, regs[0], 1) + _jobs(world, regs[1], 1)]
    # The third container's job arrives while the batch holds the lock (group_commit.py):
    # its policy is read under the lock, in the facts statement.
    late = _jobs(world, regs[2], 1)
    statements = _recorded(service, monkeypatch)

    def take() -> list[EvalJob]:
        if len(taken) == 1:
            statements.append("<take>")
            taken.append(taken[0] + late)
            return taken[0]
        statements.append("<locked take>")
        return taken[1]

    outcomes = service.releases._evaluate_batch(take)
    assert [outcome_kind(o) for o in outcomes] == ["ok", "ok", "ok"]
    locked = statements[statements.index("<locked take>") - 1 :]
    assert locked[0].lstrip().upper().startswith("SELECT AUDIT_HEAD.SEQ, AUDIT_HEAD.HASH")
    sent = [s for s in locked if not s.startswith("<")]
    if backend == "postgres":
        assert len(sent) == 4 + 1, sent
        assert sent[-2].startswith("WITH w0 AS (INSERT INTO challenges"), sent[-2]
        assert sent[-1] == "COMMIT"
    else:  # no network: the writes are one executemany per table (and the head)
        assert len(sent) == 3 + 4, sent
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def test_the_tokens_of_a_batch_are_read_in_one_statement(
    world: World, service: KeyService, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the lock: the batch's tokens (any number) and the head's seq in ONE statement,
    then the policy in one more (register entries once per container and process)."""
    regs = [activate(world)[0]["container_id"] for _ in range(2)]
    jobs = [
        *_jobs(world, regs[0], 1),
        *_jobs(world, regs[1], 1, token="outsider"),
        *_jobs(world, regs[1], 1),
    ]
    _run(service, [job for cid in regs for job in _jobs(world, cid, 1)])  # registers read
    statements = _recorded(service, monkeypatch)

    def take() -> list[EvalJob]:
        statements.append("<take>")
        return jobs

    outcomes = service.releases._evaluate_batch(take)
    assert [outcome_kind(o) for o in outcomes] == ["ok", "not-allowed", "ok"]
    head = next(i for i, sql in enumerate(statements) if sql.startswith("SELECT audit_head.seq"))
    before = statements[1:head]  # after the first take, until the head is locked
    if backend == "postgres":
        # The transaction's BEGIN, sent with the tokens read (test_release_round_trips.py).
        assert before[0] == "BEGIN", before
        before = before[1:]
    assert len(before) == 2, before
    # PostgreSQL binds the digests as one array (keyserver/_release/facts.py, member).
    match = "tokens.token_hash = ANY" if backend == "postgres" else "tokens.token_hash IN"
    assert match in " ".join(before[0].split()), before[0]


def test_a_batch_checks_out_one_connection(
    world: World, service: KeyService, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads before the head run on the connection the batch then writes on.

    Issue 15: each pooled checkout costs the pool's Python (and on PostgreSQL a liveness
    ping, a round trip), once per batch, and two processes run twice as many batches per
    release. PostgreSQL reads in the batch's own transaction; SQLite before that
    connection's BEGIN IMMEDIATE, which takes the writer lock of every process: the reads
    must not hold it (nor any transaction).
    """
    regs = [activate(world)[0]["container_id"] for _ in range(2)]
    _run(service, [job for cid in regs for job in _jobs(world, cid, 1)])  # registers read
    # As when the committer idles: the connection it kept goes back to the pool
    # (keyserver/_release/held.py), so the batch below checks one out.
    service.releases._held.close()
    checkouts: list[object] = []
    in_transaction: list[bool] = []
    preread = type(service.releases)._preread

    def counted(dbapi_conn: Any, *_rest: Any) -> None:
        checkouts.append(dbapi_conn)

    def watched(self: Any, batch: Any, jobs: Any) -> int:
        if backend == "sqlite":
            in_transaction.append(batch._cur.connection.in_transaction)
        return preread(self, batch, jobs)

    monkeypatch.setattr(type(service.releases), "_preread", watched)
    engine = service.ledger.engine
    event.listen(engine, "checkout", counted)
    try:
        outcomes = _run(service, [job for cid in regs for job in _jobs(world, cid, 2)])
    finally:
        event.remove(engine, "checkout", counted)
    assert [outcome_kind(o) for o in outcomes] == ["ok"] * 4
    assert len(checkouts) == 1, checkouts
    # SQLite: outside any transaction, so outside the writer lock. (PostgreSQL's first
    # read begins the batch's transaction: tests above pin the statements.)
    assert in_transaction == ([False] if backend == "sqlite" else [])
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def _recorded(service: KeyService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL the release batch sends from now on, in order (a live list)."""
    statements: list[str] = []
    cursor = type(service.releases)._cursor

    @contextmanager
    def counting(self: Any, conn: Any) -> Iterator[Any]:
        with cursor(self, conn) as cur:
            yield _Counting(cur, statements)

    monkeypatch.setattr(type(service.releases), "_cursor", counting)
    return statements


class _Counting:
    """A DB-API cursor that records the SQL it executes."""

    def __init__(self, cur: Any, log: list[str]) -> None:
        self._cur, self._log = cur, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        self._log.append(sql)
        return self._cur.execute(sql, *args, **kw)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return self._cur.executemany(sql, *args)
