"""The release committer keeps its connection from one batch to the next until it is idle.

keyserver/_release/held.py: the next batch reuses the last one's connection (no pool
checkout, no PostgreSQL ping, no SQLite PRAGMA per batch); it goes back to the pool, at the
configured ``synchronous`` level, after an error, or once the committer has been idle
(keyserver/_release/group_commit.py, ``on_idle``). The batches still commit early and flush
each (tests/keyserver/test_early_release.py); here: which connection a batch gets, and what
the pool gets back. Real databases, real pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from keyserver._release.group_commit import GroupCommit
from keyserver._release.held import HeldConnection
from keyserver._service import KeyService
from tests.support.release_jobs import outcome_kind, reader_jobs
from tests.support.world import World, activate


@pytest.fixture
def checkouts(early: KeyService) -> Iterator[list[int]]:
    """One entry per connection taken from the service's pool."""
    seen: list[int] = []

    def count(*_args: Any) -> None:
        seen.append(1)

    event.listen(early.ledger.engine, "checkout", count)
    yield seen
    event.remove(early.ledger.engine, "checkout", count)


@pytest.fixture
def checkins(early: KeyService, backend: str) -> Iterator[list[tuple[int, str]]]:
    """Each connection that goes back to the pool, with its ``synchronous`` level then."""
    seen: list[tuple[int, str]] = []

    def level(raw: Any, *_args: Any) -> None:
        if raw is not None:
            seen.append((id(raw), _level_of(raw, backend)))

    event.listen(early.ledger.engine, "checkin", level)
    yield seen
    event.remove(early.ledger.engine, "checkin", level)


def _level_of(raw: Any, backend: str) -> str:
    """SQLite: the ``synchronous`` level of a DB-API connection; PostgreSQL: its plan mode."""
    if backend == "postgres":
        mode = str(raw.execute("SHOW plan_cache_mode").fetchone()[0])
        raw.rollback()  # the SHOW's transaction: the pool gets it back as it was
        return mode
    return str(raw.execute("PRAGMA synchronous").fetchone()[0])


# SQLite: 2 is FULL. PostgreSQL: the server's default plan mode (held.py sets another).
DURABLE = {"sqlite": "2", "postgres": "auto"}
HELD = {"sqlite": "1", "postgres": "force_generic_plan"}  # SQLite: 1 is NORMAL


def _alive(conn: Any) -> bool:
    """The connection answers a statement (on its DB-API connection: no BEGIN)."""
    return bool(conn.connection.dbapi_connection.execute("SELECT 1").fetchone()[0] == 1)


def _levels(checkins: list[tuple[int, str]]) -> list[str]:
    return [level for _, level in checkins]


def test_kept_until_idle_then_given_back_at_the_configured_level(
    early: KeyService, backend: str, checkouts: list[int], checkins: list[tuple[int, str]]
) -> None:
    ledger = early.ledger
    held = HeldConnection(ledger.engine, ledger.durability)
    with held.batch() as first:
        raw = first.connection.dbapi_connection
        # SQLite at FULL: the batch's commits do not sync (1 is NORMAL); the flush does.
        # PostgreSQL: its statements are planned once while the committer holds it.
        assert _level_of(raw, backend) == HELD[backend]
    assert (len(checkouts), checkins) == (1, [])  # kept, not checked in
    with held.batch() as second:
        # The next batch: same connection, nothing taken from the pool.
        assert second is first
        assert second.connection.dbapi_connection is raw
    assert (len(checkouts), checkins) == (1, [])
    held.close()  # the committer is idle: back in the pool, committing durably again
    assert _levels(checkins) == [DURABLE[backend]]
    with held.batch():
        pass
    assert len(checkouts) == 2  # given back: the next batch takes one from the pool
    held.close()
    assert _levels(checkins) == [DURABLE[backend]] * 2


def test_an_error_gives_it_back(
    early: KeyService, backend: str, checkouts: list[int], checkins: list[tuple[int, str]]
) -> None:
    ledger = early.ledger
    held = HeldConnection(ledger.engine, ledger.durability)
    with pytest.raises(RuntimeError), held.batch():
        raise RuntimeError("the batch failed")
    assert _levels(checkins) == [DURABLE[backend]]
    with held.batch():
        pass
    assert (len(checkouts), len(checkins)) == (2, 1)
    held.close()
    assert _levels(checkins) == [DURABLE[backend]] * 2


def test_an_invalidated_connection_is_not_kept(early: KeyService, checkouts: list[int]) -> None:
    ledger = early.ledger
    held = HeldConnection(ledger.engine, ledger.durability)
    with held.batch() as dropped:
        assert _alive(dropped)
        dropped.invalidate()  # what the batch does when the database went away
    with held.batch() as fresh:
        assert _alive(fresh)
    assert len(checkouts) == 2  # a new one from the pool
    held.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_forked_child_does_not_use_its_parents_connection(early: KeyService) -> None:
    ledger = early.ledger
    held = HeldConnection(ledger.engine, ledger.durability)
    with held.batch() as kept:
        pass
    pid = os.fork()
    if pid == 0:  # the child: must not get (nor close) the parent's connection
        os._exit(0 if held._take() is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with held.batch() as again:  # the parent still has it
        assert again is kept
        assert _alive(again)


def test_the_committer_gives_it_back_when_idle(
    world: World, early: KeyService, backend: str, checkins: list[tuple[int, str]]
) -> None:
    """Through the group commit: batches one after the other, then the committer idles."""
    cids = [activate(world)[0]["container_id"] for _ in range(3)]
    idle = threading.Event()
    releases = early.releases
    give_back = releases._held.close

    def observed_idle() -> None:
        give_back()
        idle.set()

    # Idle only once nothing came for a minute: the three batches below share one
    # connection (no checkin between them), whatever the machine's speed.
    releases._evaluations = GroupCommit(releases._next_batch, on_idle=observed_idle, linger=60.0)
    used: set[int] = set()
    batch = releases._held.batch

    @contextmanager
    def observed_batch() -> Iterator[Any]:
        with batch() as conn:
            used.add(id(conn.connection.dbapi_connection))
            yield conn

    releases._held.batch = observed_batch  # type: ignore[method-assign]
    for job in reader_jobs(world, cids):
        assert outcome_kind(releases._evaluations.submit(job)) == "ok"
    assert len(used) == 1  # one connection for the three batches
    kept = releases._held._conn
    assert kept is not None
    raw = kept.connection.dbapi_connection
    releases._evaluations.close()  # stopping: the committer gives it back first
    assert idle.wait(60)
    assert releases._held._conn is None
    assert (id(raw), DURABLE[backend]) in checkins


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_connection_whose_plan_mode_cannot_be_reset_is_not_pooled(
    early: KeyService, checkouts: list[int], checkins: list[tuple[int, str]]
) -> None:
    """PostgreSQL: the held connection plans generic; if it cannot be set back, it is dropped.

    Its server session ends while it is kept (the database restarted, or an administrator
    ended it): the RESET fails, and the pool never gets a connection that would plan every
    later statement of the service generic. The next batch gets a fresh one.
    """
    ledger = early.ledger
    held = HeldConnection(ledger.engine, ledger.durability)
    with held.batch() as kept:
        pid = kept.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    with ledger.engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)}, 5000)")
    checkins.clear()  # the admin connection's own
    held.close()
    assert checkins == []  # not pooled: dropped
    with held.batch() as fresh:
        raw = fresh.connection.dbapi_connection
        assert raw is not None and raw.info.backend_pid != pid
        assert _level_of(raw, "postgres") == HELD["postgres"]
    held.close()
    assert _levels(checkins) == [DURABLE["postgres"]]
