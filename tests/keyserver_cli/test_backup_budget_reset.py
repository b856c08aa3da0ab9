"""spec §backup: an official's attempt-count reset after a backup survives its replay
(issue 12, ops9).

A reader's attempts are counted; a backup is taken; one more attempt, then an official
resets the count (``keyserver reset-budget``, spec §receipt). The old backup is restored
and the audit export replayed. Before, the replay left the reset out (``not_reapplied``):
the row kept the backup's count and its older ``last_audit_seq``, so the reset's entry made
it stale for good (row-integrity: no release, no reset, no restore; only a destroy). Now
the reset is re-applied as it was: count 0, the budget reset time the entry's, the row
fresh and serving. SQLite, the command run in-process on the data directory.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from keyserver._domain.validation import decode_container_id
from keyserver._service import KeyService
from keyserver._store.models import Container
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, container_status


def _reset_at(data_dir: DataDir, cid: str) -> datetime | None:
    """The row's budget reset time (not in the status document)."""
    service = KeyService(data_dir.settings())
    try:
        with service.ledger.reads() as session:
            found: datetime | None = session.execute(
                select(Container.budget_reset_at).where(Container.id == decode_container_id(cid))
            ).scalar_one()
            return found
    finally:
        service.close()


def test_a_reset_after_the_backup_survives_the_replay(
    cli: Any, data_dir: DataDir, people: Any, tmp_path: Path
) -> None:
    settings = data_dir.settings()
    where = ["--data-dir", str(data_dir.path)]
    cid = h.make_container(settings, people.writer, medium="USB-RESET", attempt_budget=5)
    for _ in range(2):
        h.reader_evaluates(settings, people.reader, cid)
    backup = tmp_path / "keyserver.backup"
    assert cli("backup", backup, *where).code == 0

    h.reader_evaluates(settings, people.reader, cid)  # 3 unconfirmed
    reset = cli("reset-budget", cid, "--reason", "asked the clerk", "--yes", *where)
    assert reset.code == 0, reset
    before = container_status(settings, cid)
    reset_at = _reset_at(data_dir, cid)
    assert before["unconfirmed"] == 0 and reset_at is not None
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "-o", export, *where).code == 0
    entries = [json.loads(line) for line in export.read_text().splitlines()]
    assert entries[-1]["action"] == "budget.reset"

    assert cli("restore-backup", backup, "--force", *where).code == 0
    assert container_status(settings, cid)["unconfirmed"] == 2  # the backup's
    replayed = cli("restore-backup", "--replay", export, *where, "--json")
    assert replayed.code == 0, replayed
    summary = replayed.json()
    assert "budget.reset" not in summary["not_reapplied"], summary

    after = container_status(settings, cid)
    keys = ("state", "unconfirmed", "last_audit_seq", "reason", "public_reason", "changed_by")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}
    assert _reset_at(data_dir, cid) == reset_at
    # Fresh, not stale: it serves, and the next attempt counts from the reset.
    h.reader_evaluates(settings, people.reader, cid)
    assert container_status(settings, cid)["unconfirmed"] == 1
    verify = cli("audit", "verify", "--json", *where)
    assert verify.code == 0 and verify.json()["ok"] is True, verify
