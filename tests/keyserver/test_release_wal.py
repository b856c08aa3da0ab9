"""SQLite: the release batch's checkpoint runs after its flush, not in COMMIT under the lock.

keyserver/_store/release_wal.py: while the release batches hold their connection
(keyserver/_release/held.py) it does not checkpoint at COMMIT and keeps temporary files in
memory; after a batch's flush, with the writer lock free, it runs a passive checkpoint
once enough rows have changed. Real SQLite file, real WAL: the database file itself is
what a checkpoint writes (in WAL mode nothing else does), so its contents are read
before COMMIT (under the lock) and at the flush (after COMMIT, lock released).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from keyserver._domain.settings import Settings
from keyserver._release.held import HeldConnection
from keyserver._release.hotpath import Batch
from keyserver._service import KeyService
from keyserver._store import release_wal
from keyserver._store.durability import Durability
from tests.support.release_jobs import outcome_kind, reader_jobs
from tests.support.world import World, activate

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _file_state(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pragmas(raw: Any) -> tuple[int, int]:
    return (
        int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
        int(raw.execute("PRAGMA temp_store").fetchone()[0]),
    )


@pytest.mark.own_database
def test_the_checkpoint_runs_after_the_flush_not_in_commit(
    world: World, early: KeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(3)]
    engine = early.ledger.engine
    database = Path(str(engine.url.database))
    # More than SQLite's automatic checkpoint (1000 pages) in the WAL, written by a
    # connection that does not checkpoint: the release batch's COMMIT is the first to
    # find it there, and before this change checkpointed it in COMMIT, under the lock.
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA wal_autocheckpoint=0")
        raw.execute("CREATE TABLE scratch (b BLOB)")
        raw.execute("INSERT INTO scratch VALUES (zeroblob(5000000))")
        raw.execute("PRAGMA wal_autocheckpoint=1000")
    # Due after every batch, so that one batch shows where it runs.
    monkeypatch.setattr(release_wal, "CHECKPOINT_ROWS", 1)
    seen: dict[str, str] = {}
    store_head, flush = Batch.store_head, Durability.flush

    def before_commit(batch: Batch, head: Any) -> None:
        seen["under the lock, before COMMIT"] = _file_state(database)
        store_head(batch, head)

    def at_flush(durability: Durability, conn: Any = None) -> None:
        seen["after COMMIT, lock released"] = _file_state(database)
        flush(durability, conn)

    monkeypatch.setattr(Batch, "store_head", before_commit)
    monkeypatch.setattr(Durability, "flush", at_flush)
    outcomes = early.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    monkeypatch.undo()
    assert [outcome_kind(o) for o in outcomes] == ["ok"] * 3
    # COMMIT left the database file alone (no checkpoint under the lock) ...
    assert seen["after COMMIT, lock released"] == seen["under the lock, before COMMIT"]
    # ... and the checkpoint after the flush copied the WAL into it.
    assert _file_state(database) != seen["after COMMIT, lock released"]
    early.releases.close()


def test_the_batches_connection_does_not_checkpoint_in_commit_until_given_back(
    early: KeyService,
) -> None:
    ledger = early.ledger
    with ledger.engine.connect() as pooled:
        assert pooled.connection.dbapi_connection is not None
        configured = _pragmas(pooled.connection.dbapi_connection)
    assert configured[0] > 0  # the pool's connections checkpoint at COMMIT
    held = HeldConnection(ledger.engine, ledger.durability)
    with held.batch() as conn:
        raw = conn.connection.dbapi_connection
        # 2 is MEMORY: a batch's statement journal never goes to a temporary file.
        assert _pragmas(raw) == (0, 2)
    held.close()
    # Back in the pool as it was.
    assert _pragmas(raw) == configured


@pytest.mark.own_database
def test_two_workers_checkpointing_after_every_batch_leave_one_valid_chain(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services on one file (as ``serve --workers 2``), each checkpointing while the
    other commits: every release answered is in the chain, and the chain verifies."""
    cids = [activate(world, attempt_budget=1000)[0]["container_id"] for _ in range(4)]
    monkeypatch.setattr(release_wal, "CHECKPOINT_ROWS", 1)
    full = settings.replace(
        sqlite_synchronous="FULL", principal_attempt_cap=1_000_000, medium_attempt_cap=1_000_000
    )
    workers = [KeyService(full) for _ in range(2)]
    answered: list[list[str]] = [[], []]

    def run(i: int) -> None:
        for _ in range(15):
            outcomes = workers[i].releases._evaluate_batch(lambda: reader_jobs(world, cids))
            answered[i].extend(outcome_kind(o) for o in outcomes)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert answered == [["ok"] * 60, ["ok"] * 60]
        verified = workers[0].audit_verify(workers[0].local_actor("ops"))
        assert verified["ok"] is True, verified
        released = workers[0].audit_export(workers[0].local_actor("ops"))
        assert sum('"action":"evaluate","actor":"reader' in line for line in released) == 120
    finally:
        for w in workers:
            w.close()
