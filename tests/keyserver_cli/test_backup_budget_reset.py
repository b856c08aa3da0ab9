"""spec §backup: an official's attempt-count reset after a backup survives its replay
(issue 12, ops9).

A reader's attempts are counted; a backup is taken; one more attempt, then an official
resets the count (``keyserver reset-budget``, spec §receipt). The old backup is restored
and the audit export replayed. Before, the replay left the reset out (``not_reapplied``):
the row kept the backup's count and its older ``last_audit_seq``, so the reset's entry made
it stale for good (row-integrity: no release, no reset, no restore; only a destroy). Now
the reset is re-applied as it was: count 0, the budget reset time the entry's, the row
fresh and serving. SQLite, the command run in-process on the data directory.

Issue 12 (ops10): the rule re-applies an official's grant of attempts on the export's
word, so it holds only under three conditions (spec §backup), each pinned below: the entry
verifies under the audit key (a forged entry, or a genuine one moved to another
container, is refused and nothing is replayed); it is applied only to a row the replay
left active (a container restored after the backup stays suspended, at the backup's
count, and stale); and the restored server grants no more than the live one did (the
receipt of an evaluation issued before the reset refunds nothing on either).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from keyserver._domain.validation import decode_container_id
from keyserver._service import KeyService
from keyserver._store.models import Container
from pycontainer.format.keyschedule import receipt_mac
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, container_status
from tests.support.world import unb64


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


def _where(data_dir: DataDir) -> list[str]:
    return ["--data-dir", str(data_dir.path)]


def _lines(export: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export.read_text().splitlines()]


def _write(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries))
    return path


def _counts(data_dir: DataDir, *cids: str) -> list[int]:
    return [int(container_status(data_dir.settings(), cid)["unconfirmed"]) for cid in cids]


def test_a_forged_or_moved_reset_is_refused_and_nothing_replayed(
    cli: Any, data_dir: DataDir, people: Any, tmp_path: Path
) -> None:
    settings, where = data_dir.settings(), _where(data_dir)
    spent = h.make_container(settings, people.writer, medium="USB-A", attempt_budget=5)
    other = h.make_container(settings, people.writer, medium="USB-B", attempt_budget=5)
    for cid, n in ((spent, 2), (other, 3)):
        for _ in range(n):
            h.reader_evaluates(settings, people.reader, cid)
    backup = tmp_path / "keyserver.backup"
    assert cli("backup", backup, *where).code == 0
    h.reader_evaluates(settings, people.reader, spent)
    assert cli("reset-budget", spent, "--reason", "asked", "--yes", *where).code == 0
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "-o", export, *where).code == 0
    genuine = _lines(export)
    assert genuine[-1]["action"] == "budget.reset" and genuine[-1]["container"] == spent

    assert cli("restore-backup", backup, "--force", *where).code == 0
    at_backup = _counts(data_dir, spent, other)
    assert at_backup == [2, 3]
    # Forged: one more reset, of the other container, chained after the last entry, its
    # hash made without the master key (the audit key is derived from it).
    forged_entry = {
        **genuine[-1],
        "seq": genuine[-1]["seq"] + 1,
        "container": other,
        "prev_hash": genuine[-1]["hash"],
        "hash": secrets.token_hex(32),
    }
    forged = _write(tmp_path / "forged.jsonl", [*genuine, forged_entry])
    # Moved: the official's genuine reset, its container id changed to the other one.
    moved = _write(tmp_path / "moved.jsonl", [*genuine[:-1], {**genuine[-1], "container": other}])
    for edited, seq in ((forged, forged_entry["seq"]), (moved, genuine[-1]["seq"])):
        result = cli("restore-backup", "--replay", edited, *where)
        assert result.code == 6, result
        assert f"audit export entry {seq} does not verify under this master key" in result.err
        assert "nothing was replayed" in result.err and "Traceback" not in result.err
        # Nothing applied: still held, both counts the backup's, no entry added.
        assert cli("restore-backup", *where, "--json").json()["restore_pending"] is True
        assert _counts(data_dir, spent, other) == at_backup, edited.name
        assert len(h.audit_entries(data_dir.path)) < len(genuine)

    replayed = cli("restore-backup", "--replay", export, *where, "--json")
    assert replayed.code == 0, replayed
    assert _counts(data_dir, spent, other) == [0, 3]


def test_a_reset_of_a_row_the_replay_left_suspended_is_not_applied(
    cli: Any, data_dir: DataDir, people: Any, tmp_path: Path
) -> None:
    settings, where = data_dir.settings(), _where(data_dir)
    cid = h.make_container(settings, people.writer, medium="USB-HELD", attempt_budget=5)
    for _ in range(2):
        h.reader_evaluates(settings, people.reader, cid)
    assert cli("suspend", cid, "--reason", "check", *where).code == 0
    backup = tmp_path / "keyserver.backup"
    assert cli("backup", backup, *where).code == 0
    # After the backup the official restores it, then resets its count: restores are not
    # re-applied (spec §backup), so the replay leaves the row suspended.
    assert cli("restore", cid, "--reason", "checked", *where).code == 0
    assert cli("reset-budget", cid, "--reason", "asked", "--yes", *where).code == 0
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "-o", export, *where).code == 0

    assert cli("restore-backup", backup, "--force", *where).code == 0
    replayed = cli("restore-backup", "--replay", export, *where, "--json")
    assert replayed.code == 0, replayed
    assert replayed.json()["not_reapplied"] == {"budget.reset": 1, "restore": 1}
    status = container_status(settings, cid)
    assert (status["state"], status["unconfirmed"]) == ("suspended", 2)
    # Still stale (spec §row-integrity): an official decides, nothing is restored on the
    # reset's word.
    restored = cli("restore", cid, "--reason", "again", *where)
    assert restored.code == 6 and "row-integrity" in restored.err, restored
    assert container_status(settings, cid)["state"] == "suspended"


def test_the_restored_server_grants_what_the_live_one_did(
    cli: Any, data_dir: DataDir, people: Any, tmp_path: Path
) -> None:
    settings, where = data_dir.settings(), _where(data_dir)
    key = secrets.token_bytes(32)
    cid = h.make_container(
        settings, people.writer, medium="USB-GRANT", attempt_budget=5, receipt_key=key
    )
    before_reset = h.reader_evaluates(settings, people.reader, cid)  # its challenge: backed up
    backup = tmp_path / "keyserver.backup"
    assert cli("backup", backup, *where).code == 0
    h.reader_evaluates(settings, people.reader, cid)
    assert cli("reset-budget", cid, "--reason", "asked", "--yes", *where).code == 0
    h.reader_evaluates(settings, people.reader, cid)  # 1 since the reset
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "-o", export, *where).code == 0

    def receipt() -> int:
        """The receipt of the release before the reset; the count it leaves."""
        challenge = unb64(before_reset["challenge"])
        mac = receipt_mac(key, decode_container_id(cid), challenge)
        service = KeyService(settings)
        try:
            reader = service.authenticate(people.reader)
            service.receipt(reader, cid, challenge=challenge, mac=mac)
        finally:
            service.close()
        return int(container_status(settings, cid)["unconfirmed"])

    # spec §receipt: an evaluation issued before the reset no longer counts, so its receipt
    # refunds nothing: the live server leaves 1.
    live = receipt()
    assert live == 1
    assert cli("restore-backup", backup, "--force", *where).code == 0
    assert cli("restore-backup", "--replay", export, *where).code == 0
    # The backup holds that challenge unused: the same receipt, on the restored server.
    assert receipt() == live
