"""Early lock release: the batch commits, releases the head, THEN waits for durability.

keyserver/_store/durability.py: the release batch's COMMIT does not wait for the flush
(PostgreSQL: ``synchronous_commit`` off in its transaction; SQLite FULL: the commit at
NORMAL), so the chain head is free at COMMIT; the batch then waits for its commit to be
durable, holding nothing, and only after that is any evaluation computed (spec
§consistency, §evaluate step 7). The flush is the real one (an autocommit transaction
with an xid on PostgreSQL, an fdatasync of the -wal file on SQLite); the tests observe it
by wrapping it, and a failing one is a raised error. Over HTTP, the in-process server of
``world`` shares the class, so its batches and reads are observed the same way.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from sqlalchemy import event

from keyserver._domain import keys
from keyserver._domain.settings import Settings
from keyserver._release.hotpath import Batch
from keyserver._service import KeyService
from keyserver._store.durability import Durability, DurabilityError
from keyserver._store.engine import make_engine
from tests.support.release_jobs import outcome_kind, reader_jobs
from tests.support.world import World, activate, blinded_b64


def _level(cur: Any, backend: str) -> str:
    """The commit's durability setting as the batch's transaction sees it."""
    if backend == "postgres":
        cur.execute("SELECT current_setting('synchronous_commit')")
    else:
        cur.execute("PRAGMA synchronous")
    return str(cur.fetchone()[0])


def test_the_head_is_free_during_the_flush_and_evaluations_come_after_it(
    world: World, early: KeyService, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(3)]
    assert early.ledger.durability.early
    events: list[str] = []
    store_head = Batch.store_head

    def store_head_seen(batch: Batch, head: Any, **kw: Any) -> None:
        # Under the head, right before COMMIT (PostgreSQL: sent with the writes, kw
        # commit): the commit will not wait for the flush.
        events.append(f"commit at {_level(batch._cur, backend)}")
        store_head(batch, head, **kw)

    if backend == "postgres":
        # The tests' databases turn synchronous_commit off; turn it on for this batch's
        # transaction, so that "off" below is the batch's own doing.
        read = type(early.releases)._preread

        def preread_synchronous(releaser: Any, batch: Batch, jobs: Any) -> int:
            batch._cur.execute("SET LOCAL synchronous_commit = on")
            return read(releaser, batch, jobs)

        monkeypatch.setattr(type(early.releases), "_preread", preread_synchronous)
    flush = Durability.flush
    other: list[Any] = []

    def observed_flush(durability: Durability, conn: Any = None) -> None:
        events.append("flush")
        # Another thread's writing transaction takes the head (and SQLite's writer lock)
        # and commits now: nothing of the batch is held any more.
        worker = threading.Thread(
            target=lambda: other.append(early.issue_token(early.local_actor("ops"), "groupie"))
        )
        worker.start()
        worker.join(60)
        assert other, "a writer waited for the head while the batch flushed"
        flush(durability, conn)
        events.append("durable")

    evaluate = keys.evaluate

    def observed_evaluate(*args: Any) -> Any:
        events.append("evaluate")
        return evaluate(*args)

    monkeypatch.setattr(Batch, "store_head", store_head_seen)
    monkeypatch.setattr(Durability, "flush", observed_flush)
    monkeypatch.setattr(keys, "evaluate", observed_evaluate)
    outcomes = early.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    monkeypatch.undo()
    assert [outcome_kind(o) for o in outcomes] == ["ok"] * 3
    async_level = "off" if backend == "postgres" else "1"  # SQLite: 1 is NORMAL
    assert events == [f"commit at {async_level}", "flush", "durable", *["evaluate"] * 3]
    entries = world.call("auditor", "GET", "/v1/audit").json()["entries"]
    # The other writer went after the batch: the head was released at its COMMIT.
    assert [(e["action"], e["outcome"]) for e in entries[-4:]] == [
        *[("evaluate", "ok")] * 3,
        ("token.issue", "ok"),
    ]
    if backend == "sqlite":
        # Kept for the next batch (keyserver/_release/held.py) until the committer idles;
        # then back in the pool at FULL for every other transaction (2: FULL).
        early.releases._held.close()
        with early.ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: the test below
def test_postgres_flush_reaches_the_wal_written_by_the_batch(
    world: World, early: KeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the flush, PostgreSQL's flush position is past everything the batch wrote.

    The tests' databases turn synchronous_commit off; the batch's connection turns it on
    for its session here, as a production database has it. A flush that commits without
    a WAL record of its own (a bare xid) fails this (PostgreSQL commits it asynchronously).
    """
    cids = [activate(world)[0]["container_id"] for _ in range(2)]
    positions: list[bool] = []
    flush = Durability.flush

    def measured_flush(durability: Durability, conn: Any = None) -> None:
        raw = conn.connection.dbapi_connection
        raw.autocommit = True
        raw.execute("SET synchronous_commit = on")  # session-wide, as in production
        # Written so far (the batch's commit included), and not flushed by the batch's
        # COMMIT: the fresh message below is after it and async-committed.
        raw.execute("SELECT pg_logical_emit_message(false, 'rwc/test', 'x')")
        written = raw.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        raw.autocommit = False
        flush(durability, conn)
        reached = raw.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (written,))
        positions.append(bool(reached.fetchone()[0]))
        raw.rollback()  # the check's own read transaction

    monkeypatch.setattr(Durability, "flush", measured_flush)
    for _ in range(5):  # an unflushed WAL is caught up by the WAL writer within ~200 ms
        outcomes = early.releases._evaluate_batch(lambda: reader_jobs(world, cids))
        assert [outcome_kind(o) for o in outcomes] == ["ok"] * 2
    assert positions == [True] * 5


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: the WAL file
def test_postgres_flush_on_its_own_connection_reaches_the_written_wal(settings: Settings) -> None:
    """``Durability.flush()`` with no connection (the published reads' path) flushes too."""
    engine = make_engine(settings)

    @event.listens_for(engine, "connect")
    def _synchronous(dbapi_conn: Any, _record: Any) -> None:
        # The tests' databases turn synchronous_commit off; production has it on.
        dbapi_conn.execute("SET synchronous_commit = on")
        dbapi_conn.commit()

    durability = Durability(engine, settings)
    reached = []
    try:
        for _ in range(5):  # the WAL writer catches up within ~200 ms: several tries
            with engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.autocommit = True
                # An async-committed WAL record, then where the WAL ends.
                raw.execute("SET synchronous_commit = off")
                raw.execute("SELECT pg_logical_emit_message(false, 'rwc/test', 'x')")
                written = raw.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
                raw.execute("SET synchronous_commit = on")
                raw.autocommit = False
            durability.flush()
            with engine.connect() as conn:
                check = "SELECT pg_current_wal_flush_lsn() >= CAST(%s AS pg_lsn)"
                row = conn.exec_driver_sql(check, (written[0],)).one()
                reached.append(bool(row[0]))
    finally:
        engine.dispose()
    assert reached == [True] * 5


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL: its own WAL
def test_sqlite_flush_syncs_the_wal_file(
    world: World, early: KeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = activate(world)[0]["container_id"]
    synced: list[str] = []
    fdatasync = os.fdatasync

    def observed(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", observed)
    outcomes = early.releases._evaluate_batch(lambda: reader_jobs(world, [cid]))
    monkeypatch.undo()
    assert [outcome_kind(o) for o in outcomes] == ["ok"]
    database = early.ledger.engine.url.database
    assert database is not None
    assert synced == [os.path.realpath(database) + "-wal"]


def test_a_failed_flush_answers_unavailable_and_nothing_is_evaluated(
    world: World, early: KeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(2)]
    evaluated: list[Any] = []

    def failing_flush(_durability: Durability, _conn: Any = None) -> None:
        raise DurabilityError(OSError(5, "Input/output error"))

    monkeypatch.setattr(Durability, "flush", failing_flush)
    monkeypatch.setattr(keys, "evaluate", lambda *a: evaluated.append(a))
    outcomes = early.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    # Over HTTP: 503 unavailable, no evaluation in the answer.
    resp = world.call(
        "reader",
        "POST",
        f"/v1/containers/{cids[0]}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    monkeypatch.undo()
    assert all(isinstance(o, DurabilityError) for o in outcomes), outcomes
    assert resp.status_code == 503, resp.text
    assert resp.json()["type"] == "urn:rwc:problem:unavailable"
    assert "evaluated_element" not in resp.json()
    assert evaluated == []
    # Each release committed once (audited, never evaluated nor answered): the batch was
    # not retried job by job after its COMMIT.
    entries = world.call("auditor", "GET", "/v1/audit").json()["entries"]
    assert [(e["action"], e["outcome"], e["container"]) for e in entries[-3:]] == [
        *[("evaluate", "ok", cid) for cid in cids],
        ("evaluate", "ok", cids[0]),
    ]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/audit", 200), ("/v1/audit/export", 200), ("/v1/audit/verify", 200)],
)
def test_the_log_is_published_only_after_a_flush(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str, status: int
) -> None:
    activate(world)
    calls: list[str] = []
    flush = Durability.flush

    def observed_flush(durability: Durability, conn: Any = None) -> None:
        calls.append("flush")
        flush(durability, conn)

    monkeypatch.setattr(Durability, "flush", observed_flush)
    resp = world.call("auditor", "GET", path)
    assert resp.status_code == status, resp.text
    assert calls == ["flush"]

    def failing_flush(_durability: Durability, _conn: Any = None) -> None:
        raise DurabilityError(OSError(5, "Input/output error"))

    monkeypatch.setattr(Durability, "flush", failing_flush)
    resp = world.call("auditor", "GET", path)
    assert resp.status_code == 503, resp.text
    assert resp.json()["type"] == "urn:rwc:problem:unavailable"
