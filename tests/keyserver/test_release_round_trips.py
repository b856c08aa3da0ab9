"""A PostgreSQL release batch in seven round trips: BEGIN and COMMIT ride with a statement.

keyserver/_release/together.py (issue 15): psycopg sends BEGIN on its own and waits for
it, and the batch's COMMIT followed its writes in a round trip of its own: two of a batch's
nine round trips, each a fixed cost per batch for the backend and the committer, which two
processes pay twice as often per release. Now the batch's BEGIN goes with its first read
and its COMMIT with its writes (psycopg's pipeline mode): the same statements, in the
same order, in one transaction. Observed with libpq's own trace of the committer's
connection (psycopg ``PGconn.trace``) against the real server: a round trip is what the
client sends until the server's first answer to it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store.audit_verify import verify
from tests.support.release_jobs import outcome_kind, reader_jobs
from tests.support.world import World, activate

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def _round_trips(trace: str) -> list[list[str]]:
    """The trace's messages ("F" client, "B" server) grouped per round trip."""
    trips: list[list[str]] = []
    answered = True
    for line in trace.splitlines():
        direction, _, message = line.partition("\t")
        if direction == "F" and answered:
            trips.append([])
            answered = False
        elif direction == "B":
            answered = True
        if trips and direction in ("F", "B"):
            trips[-1].append(f"{direction} {message}")
    return trips


def _traced_batch(service: KeyService, jobs: list[Any], tmp_path: Path) -> tuple[list[Any], str]:
    """Run ``jobs`` as one batch on the committer's kept connection, traced by libpq."""
    from psycopg import pq  # noqa: PLC0415

    held = service.releases._held._conn  # kept by the batch before (held.py)
    assert held is not None
    raw: Any = held.connection.dbapi_connection
    path = tmp_path / "trace"
    with path.open("w") as out:
        raw.pgconn.trace(out.fileno())
        raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            outcomes = service.releases._evaluate_batch(lambda: jobs)
        finally:
            raw.pgconn.untrace()
    return outcomes, path.read_text()


def _statements(trip: list[str]) -> int:
    """Statements the client sent in ``trip`` (extended protocol: Execute; simple: Query)."""
    return sum(m.split("\t")[1] in ("Execute", "Query") for m in trip if m.startswith("F "))


def test_a_batch_takes_seven_round_trips_with_begin_and_commit_riding_along(
    world: World, service: KeyService, tmp_path: Path
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(2)]
    # The first batch reads each container's register entry (once per process) and
    # leaves the committer its connection; the second is the steady state.
    assert [
        outcome_kind(o) for o in service.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    ] == ["ok", "ok"]
    outcomes, trace = _traced_batch(service, reader_jobs(world, cids), tmp_path)
    assert [outcome_kind(o) for o in outcomes] == ["ok", "ok"]
    trips = _round_trips(trace)
    # Once a second the restore gate reads its marker first, outside the transaction
    # (keyserver/_store/restore_state.py): not the batch's own; from its BEGIN on.
    begun = next(i for i, t in enumerate(trips) if any('"BEGIN"' in m for m in t))
    assert begun <= 1, trips[:begun]
    trips = trips[begun:]
    # BEGIN + tokens; policy; head; rows; facts; writes + COMMIT; the flush (its own
    # transaction, after COMMIT returned: keyserver/_store/durability.py).
    shown = "\n\n".join("\n".join(t) for t in trips)
    assert len(trips) == 7, shown
    first, commit = "\n".join(trips[0]), "\n".join(trips[5])
    assert '"BEGIN"' in first and _statements(trips[0]) == 2, first
    assert 'CommandComplete\t "BEGIN"' in first, first
    assert '"COMMIT"' in commit and _statements(trips[5]) == 2, commit
    assert 'CommandComplete\t "COMMIT"' in commit, commit
    assert all(_statements(t) == 1 for t in trips[1:5] + trips[6:]), shown
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def test_the_kept_connection_goes_back_to_the_pool_out_of_autocommit(
    world: World, service: KeyService
) -> None:
    """While kept, the committer's connection is in autocommit (its batches BEGIN)."""
    cid = activate(world)[0]["container_id"]
    service.releases._evaluate_batch(lambda: reader_jobs(world, [cid]))
    held = service.releases._held._conn
    assert held is not None
    raw: Any = held.connection.dbapi_connection
    assert raw.autocommit
    service.releases._held.close()  # the committer idles (group_commit.py, on_idle)
    assert not raw.autocommit


def test_a_failed_write_commits_nothing_of_its_batch(world: World, settings: Settings) -> None:
    """The COMMIT sent with the writes never runs when they fail (the pipeline aborts).

    Every challenge the same bytes (an injected rng): two releases of one container in
    one batch write the same challenge key, so the batch's writes fail. Nothing of that
    batch may commit (no audit entry, no challenge); each job is then retried alone
    (batch.py): the first commits, the second fails again on the first's challenge.
    """
    cid = activate(world)[0]["container_id"]
    same = KeyService(dataclasses.replace(settings, rng=lambda n: b"\x07" * n))
    try:
        with same.ledger.reads() as session:
            before = verify(session, same.keyring.audit_key).entries
        jobs = reader_jobs(world, [cid, cid])
        outcomes = same.releases._evaluate_batch(lambda: jobs)
        assert outcome_kind(outcomes[0]) == "ok"
        assert isinstance(outcomes[1], IntegrityError)
        with same.ledger.reads() as session:
            report = verify(session, same.keyring.audit_key)
        assert report.ok
        # One release entry: the first job's, retried alone; the failed batch left none.
        assert report.entries == before + 1
    finally:
        same.close()
