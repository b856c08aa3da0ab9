"""``keyserver`` in local mode: suspend, restore, destroy, loss reports, status and sweep.

In-process, on SQLite; every state change is checked in the database through the service
layer, not only in the command's output.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime
from types import ModuleType
from typing import Any


def test_suspend_restore_destroy(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer)
    dd = data_dir.path

    result = cli(
        "suspend", cid, "--reason", "vendor audit", "--public-reason", "ask IT", "--data-dir", dd
    )
    assert result.code == 0, result
    assert "suspend: 1 container changed" in result.out and cid in result.out
    status = h.container_status(data_dir.settings(), cid)
    assert (status["state"], status["reason"], status["public_reason"]) == (
        "suspended",
        "vendor audit",
        "ask IT",
    )

    result = cli("restore", cid, "--reason", "audit done", "--json", "--data-dir", dd)
    assert result.json() == {"affected": 1, "container_ids": [cid], "left_suspended": {}}
    assert h.container_status(data_dir.settings(), cid)["state"] == "active"

    # Destructive: no TTY and no --yes is a usage error, and nothing changes.
    result = cli("destroy", cid, "--reason", "contract ended", "--data-dir", dd)
    assert result.code == 2
    assert "keyserver: hint: pass --yes" in result.err
    assert h.container_status(data_dir.settings(), cid)["state"] == "active"

    result = cli("destroy", cid, "--reason", "contract ended", "--yes", "--data-dir", dd)
    assert result.code == 0, result
    assert h.container_status(data_dir.settings(), cid)["state"] == "destroyed"
    with sqlite3.connect(dd / "keyserver.db") as db:
        row = db.execute("select seed_sealed, receipt_key_sealed from containers").fetchone()
    assert row == (None, None)  # crypto-erasure

    result = cli("restore", cid, "--reason", "oops", "--data-dir", dd)
    assert result.code == 6
    assert "(destroyed)" in result.err
    result = cli("suspend", "A" * 22, "--reason", "x", "--data-dir", dd)
    assert result.code == 5
    result = cli("suspend", "not-an-id", "--reason", "x", "--data-dir", dd)
    assert result.code == 6 and "(invalid-request)" in result.err

    actions = [
        (e["action"], e["actor"]) for e in h.audit_entries(data_dir.path) if e["container"] == cid
    ]
    assert ("suspend", h.OPERATOR) in actions and ("destroy", h.OPERATOR) in actions


def test_confirmation_prompt(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    result = cli(
        "destroy", cid, "--reason", "r", "--data-dir", data_dir.path, stdin=h.TtyInput("no\n")
    )
    assert result.code == 8
    assert "Type 'yes' to confirm" in result.err
    assert "aborted; nothing was changed" in result.err
    assert h.container_status(data_dir.settings(), cid)["state"] == "active"
    result = cli(
        "destroy", cid, "--reason", "r", "--data-dir", data_dir.path, stdin=h.TtyInput("yes\n")
    )
    assert result.code == 0, result
    assert h.container_status(data_dir.settings(), cid)["state"] == "destroyed"


def test_bulk_by_medium_and_issuer(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    a = h.make_container(settings, people.writer, medium="USB-A")
    b = h.make_container(settings, people.writer, medium="USB-A")
    c = h.make_container(settings, people.writer, medium="USB-B")
    result = cli(
        "suspend", "--medium", "USB-A", "--reason", "r", "--json", "--data-dir", data_dir.path
    )
    assert result.code == 0
    assert sorted(result.json()["container_ids"]) == sorted([a, b])
    assert h.container_status(data_dir.settings(), c)["state"] == "active"
    result = cli(
        "destroy",
        "--issuer",
        "writer",
        "--reason",
        "breach",
        "--yes",
        "--json",
        "--data-dir",
        data_dir.path,
    )
    assert result.json()["affected"] == 3
    result = cli("suspend", "--issuer", "nobody", "--reason", "r", "--data-dir", data_dir.path)
    assert result.code == 5
    result = cli("suspend", a, "--medium", "USB-A", "--reason", "r", "--data-dir", data_dir.path)
    assert result.code == 2 and "not allowed with argument" in result.err
    result = cli("suspend", "--medium", "USB-A", "--data-dir", data_dir.path)
    assert result.code == 2 and "--reason" in result.err


def test_report_loss(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="LOST-1")

    def report_loss(*args: str) -> Any:
        return cli("report-loss", "--medium", "LOST-1", *args, "--data-dir", data_dir.path)

    # spec §cli: under short_waiting_period (24 h) it asks, like --now
    result = report_loss("--reason", "bag lost", "--waiting-period", "2h", "--json", "--yes")
    assert result.code == 0, result
    status = h.container_status(data_dir.settings(), cid)
    assert status["state"] == "suspended"
    lost = datetime.fromisoformat(status["loss_reported_at"])
    assert (datetime.fromisoformat(status["destroy_after"]) - lost).total_seconds() == 7200
    assert result.json()["destroy_after"] == status["destroy_after"]

    refused = [
        (("--now", "--reason", "stolen"), 2, "--yes"),
        (("--now", "--waiting-period", "1h", "--reason", "x", "--yes"), 2, "exclude each other"),
        (("--waiting-period", "3x", "--reason", "x"), 2, "--waiting-period"),
        (("--waiting-period", "9999d", "--reason", "x"), 6, "waiting period"),
    ]
    for args, code, said in refused:
        result = report_loss(*args)
        assert result.code == code and said in result.err, (args, result)
        assert h.container_status(data_dir.settings(), cid)["state"] == "suspended"
    result = report_loss("--now", "--reason", "stolen", "--yes")
    assert result.code == 0, result
    assert h.container_status(data_dir.settings(), cid)["state"] == "destroyed"


def test_status_search_report(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="REP-1")
    pending = h.make_container(settings, people.writer, medium="REP-1", commit=False)
    h.reader_evaluates(settings, people.reader, cid)
    dd = data_dir.path

    status = cli("status", cid, "--json", "--data-dir", dd)
    assert status.code == 0
    assert status.json()["state"] == "active" and status.json()["unconfirmed"] == 1
    people_view = cli("status", cid, "--data-dir", dd).out
    assert "State" in people_view and "Active" in people_view and cid in people_view

    found = cli("search", "--medium", "REP-1", "--json", "--data-dir", dd).json()
    assert {c["container_id"] for c in found["containers"]} == {cid, pending}
    found = cli(
        "search", "--medium", "REP-1", "--state", "pending", "--json", "--data-dir", dd
    ).json()
    assert [c["container_id"] for c in found["containers"]] == [pending]
    page = cli("search", "--limit", "1", "--json", "--data-dir", dd).json()
    assert len(page["containers"]) == 1 and page["next"] is not None
    table = cli("search", "--limit", "1", "--data-dir", dd)
    assert "more: --after" in table.err
    assert cli("search", "--limit", "0", "--data-dir", dd).code == 2
    assert cli("search", "--state", "lost", "--data-dir", dd).code == 2

    cli("report-loss", "--medium", "REP-1", "--reason", "lost", "--data-dir", dd)
    report = cli("report", "--medium", "REP-1", "--json", "--data-dir", dd)
    assert report.code == 0
    doc = report.json()
    assert doc["medium"] == "REP-1"
    assert {c["container_id"] for c in doc["containers"]} == {cid, pending}
    text = cli("report", "--medium", "REP-1", "--data-dir", dd)
    assert text.code == 0 and "REP-1" in text.out
    # spec §media: a medium that matches nothing is not-found (exit 5) with suggestions.
    empty = cli("report", "--medium", "NOTHING", "--data-dir", dd)
    assert empty.code == 5 and "no medium 'NOTHING'" in empty.err
    typo = cli("report", "--medium", "REP-2", "--data-dir", dd)
    assert typo.code == 5 and "did you mean REP-1?" in typo.err


def test_sweep_destroys_expired_pending(
    cli: Any, h: ModuleType, data_dir: Any, people: Any
) -> None:
    # Registered "two days ago": its pending lifetime (24 h) is over.
    old = h.make_container(h.backdated(data_dir.settings(), 2), people.writer, commit=False)
    fresh = h.make_container(data_dir.settings(), people.writer, commit=False)
    result = cli("sweep", "--json", "--data-dir", data_dir.path, "--as", "cron@ks1")
    assert result.code == 0, result
    assert result.json()["pending_expired"] == 1
    assert h.container_status(data_dir.settings(), old)["state"] == "destroyed"
    assert h.container_status(data_dir.settings(), fresh)["state"] == "pending"
    sweeps = [e for e in h.audit_entries(data_dir.path) if e["action"] == "destroy"]
    assert sweeps[-1]["actor"] == "cron@ks1"


def test_stdin_is_not_read_without_destructive_action(cli: Any, data_dir: Any) -> None:
    stdin = io.StringIO("yes\n")
    assert cli("principal", "list", "--data-dir", data_dir.path, stdin=stdin).code == 0
    assert stdin.read() == "yes\n"


def test_container_ids_starting_with_a_dash(cli: Any, data_dir: Any) -> None:
    """One id in 64 starts with '-': it is an id, not an option (exit 5, not usage 2)."""
    dashed = "-" + "A" * 21
    dd = data_dir.path
    assert cli("status", dashed, "--data-dir", dd).code == 5
    assert cli("suspend", dashed, "--reason", "r", "--data-dir", dd).code == 5
    assert cli("destroy", "--data-dir", dd, dashed, "--yes", "--reason", "r").code == 5
    listed = cli("audit", "list", "--container", dashed, "--json", "--data-dir", dd)
    assert listed.code == 0 and listed.json()["entries"] == []
    # A real option of the same shape stays an option.
    assert cli("principal", "list", "--data-dir", dd, "--audit-inline-ids-max", "5").code == 0
