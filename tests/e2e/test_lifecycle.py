"""The officials' side: suspend, restore, destroy, loss reports, attempt budget, expiry.

Every state change goes through the ``keyserver`` command in remote mode against the live
server; every effect is observed through the installed ``rwc`` (exit code, stderr, files).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

PASSWORD = "correct horse battery staple"


def _state(story: Any, container_id: str) -> str:
    return str(story.status(container_id)["state"])


def test_suspend_and_restore(story: Any, h: ModuleType) -> None:
    src, container, _ = story.seal_for_reader()
    cid = story.container_id(container)
    official = story.people.official_token

    proc = story.server.ks(
        "suspend", "--reason", "audit of the vendor", "--yes", "--", cid, token=official
    )
    h.expect(proc, 0)
    status = story.status_cli(cid)
    assert status["state"] == "suspended"
    assert status["reason"] == "audit of the vendor"

    dest = story.work / "dest"
    opened = story.open_as_reader(container, dest)
    h.expect(opened, h.EXIT_SUSPENDED)
    h.no_traceback(opened)
    assert h.tree(dest) == {}

    proc = story.server.ks("restore", "--reason", "audit done", "--yes", "--", cid, token=official)
    h.expect(proc, 0)
    assert _state(story, cid) == "active"
    h.expect(story.open_as_reader(container, dest), h.EXIT_OK)
    assert len(h.tree(dest)) == len(h.tree(src))


def test_only_officials_change_state(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    cid = story.container_id(container)
    for token in (story.people.reader_token, story.people.writer_token, story.people.auditor_token):
        proc = story.server.ks("destroy", "--reason", "nope", "--yes", "--", cid, token=token)
        h.expect(proc, h.KS_EXIT_DENIED)
        h.no_traceback(proc)
    assert _state(story, cid) == "active"


def test_destroy_is_final(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    cid = story.container_id(container)
    official = story.people.official_token
    proc = story.server.ks(
        "destroy", "--reason", "contract ended", "--yes", "--", cid, token=official
    )
    h.expect(proc, 0)
    assert _state(story, cid) == "destroyed"

    dest = story.work / "dest"
    opened = story.open_as_reader(container, dest)
    h.expect(opened, h.EXIT_REVOKED)
    h.no_traceback(opened)
    assert h.tree(dest) == {}
    assert b"this container was revoked: its key was destroyed" in opened.stderr, opened.stderr

    # Restoring a destroyed container is refused; it stays destroyed.
    proc = story.server.ks("restore", "--reason", "oops", "--yes", "--", cid, token=official)
    h.expect(proc, h.KS_EXIT_REFUSED)
    h.no_traceback(proc)
    h.expect(story.open_as_reader(container, dest), h.EXIT_REVOKED)


def test_destroy_by_issuer(writer_story: Any, h: ModuleType) -> None:
    # A writer of its own: destroying everything of the issuer must not hit other tests.
    ps = writer_story
    _, first, _ = ps.seal_for_reader()
    _, second, _ = ps.seal_for_reader()
    proc = ps.server.ks(
        "destroy",
        "--issuer",
        ps.people.writer,
        "--reason",
        "vendor breach",
        "--yes",
        token=ps.people.official_token,
    )
    h.expect(proc, 0)
    # spec §approvals: an issuer's destroy waits for a second official.
    assert "awaiting a second official" in proc.stdout.decode()
    h.expect(ps.open_as_reader(first, ps.work / "dest"), h.EXIT_OK)
    approver = h.add_principal_http(ps.server, h.unique("off2") + "@city.example", "official")
    pending = ps.server.ks("approvals", "list", "--state", "pending", "--json", token=approver)
    h.expect(pending, 0)
    (request,) = [
        r for r in json.loads(pending.stdout)["approvals"] if r["target"] == ps.people.writer
    ]
    h.expect(ps.server.ks("approvals", "approve", str(request["id"]), "--yes", token=approver), 0)
    for container in (first, second):
        h.expect(ps.open_as_reader(container, ps.work / "dest2"), h.EXIT_REVOKED)


def test_attempt_budget_suspends(story: Any, h: ModuleType) -> None:
    budget = 3
    _, container, _ = story.seal_for_reader(extra=["--attempt-budget", str(budget)])
    cid = story.container_id(container)
    dest = story.work / "dest"
    for _ in range(budget):
        proc = story.open_as_reader(container, dest, password="guess")
        h.expect(proc, h.EXIT_WRONG_PASSWORD)
    # The budget is used up: the next attempt, even with the right password, is refused.
    proc = story.open_as_reader(container, dest)
    h.expect(proc, h.EXIT_SUSPENDED)
    assert h.tree(dest) == {}
    assert _state(story, cid) == "suspended"

    # An official restores it; the right password opens it again.
    proc = story.server.ks(
        "restore",
        "--reason",
        "clerk mistyped",
        "--yes",
        "--",
        cid,
        token=story.people.official_token,
    )
    h.expect(proc, 0)
    h.expect(story.open_as_reader(container, dest), h.EXIT_OK)


def test_successful_opens_do_not_use_the_budget(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader(extra=["--attempt-budget", "2"])
    for i in range(4):  # receipts confirm each open, so unconfirmed stays at 0
        h.expect(story.open_as_reader(container, story.work / f"d{i}"), h.EXIT_OK)


def test_loss_report_with_waiting_period_then_destroy(story: Any, h: ModuleType) -> None:
    _, container, medium = story.seal_for_reader()
    _, other, other_medium = story.seal_for_reader()
    cid = story.container_id(container)
    official = story.people.official_token

    proc = story.server.ks(
        "report-loss",
        "--medium",
        medium,
        "--reason",
        "bag lost in Amagasaki",
        "--yes",
        token=official,
    )
    h.expect(proc, 0)
    status = story.status(cid)
    assert status["state"] == "suspended"
    assert status["destroy_after"] is not None  # the waiting period runs

    dest = story.work / "dest"
    h.expect(story.open_as_reader(container, dest), h.EXIT_SUSPENDED)
    # Another medium is not affected.
    h.expect(story.open_as_reader(other, story.work / "other"), h.EXIT_OK)
    assert other_medium != medium

    # The stick is not found: the official asks to destroy the medium's containers; a
    # second official approves, and only then are the keys destroyed (spec §approvals).
    proc = story.server.ks(
        "destroy", "--medium", medium, "--reason", "not found", "--yes", "--json",
        token=official,
    )  # fmt: skip
    h.expect(proc, 0)
    request = json.loads(proc.stdout)["approval"]
    h.expect(story.open_as_reader(container, dest), h.EXIT_SUSPENDED)
    second = h.add_principal_http(story.server, h.unique("off2") + "@city.example", "official")
    proc = story.server.ks("approvals", "approve", str(request["id"]), "--yes", token=second)
    h.expect(proc, 0)
    h.expect(story.open_as_reader(container, dest), h.EXIT_REVOKED)
    assert h.tree(dest) == {}


def test_loss_report_found_again(story: Any, h: ModuleType) -> None:
    _, container, medium = story.seal_for_reader()
    official = story.people.official_token
    proc = story.server.ks(
        "report-loss", "--medium", medium, "--reason", "missing", "--yes", token=official
    )
    h.expect(proc, 0)
    proc = story.server.ks(
        "restore", "--medium", medium, "--reason", "found in the bag", "--yes", token=official
    )
    h.expect(proc, 0)
    h.expect(story.open_as_reader(container, story.work / "dest"), h.EXIT_OK)


def test_medium_report(story: Any, h: ModuleType) -> None:
    _, container, medium = story.seal_for_reader()
    official = story.people.official_token
    # Before the loss: one confirmed open by the reader.
    h.expect(story.open_as_reader(container, story.work / "before"), h.EXIT_OK)
    proc = story.server.ks(
        "report-loss", "--medium", medium, "--now", "--reason", "lost", "--yes", "--json",
        token=official,
    )  # fmt: skip
    h.expect(proc, 0)
    # After the loss: the finder tries with a stolen reader token; refused (suspended at
    # once; the keys are destroyed when a second official approves, spec §approvals).
    h.expect(story.open_as_reader(container, story.work / "after"), h.EXIT_SUSPENDED)
    number = str(json.loads(proc.stdout)["approval"]["id"])
    second = h.add_principal_http(story.server, h.unique("off2") + "@city.example", "official")
    h.expect(story.server.ks("approvals", "approve", number, "--yes", token=second), 0)

    proc = story.server.ks("report", "--medium", medium, "--json", token=official)
    h.expect(proc, 0)
    report = h.parse_json(proc)
    assert report["medium"] == medium
    [entry] = report["containers"]
    assert entry["container_id"] == story.container_id(container)
    assert entry["state"] == "destroyed"
    lost_at = entry["loss_reported_at"]
    assert lost_at is not None
    # The last confirmed open before the loss: the reader's, before the loss report.
    last = entry["last_confirmed_open_before_loss"]
    assert last is not None
    assert last["actor"] == story.people.reader
    assert last["at"] <= lost_at
    # The attempt after it: the reader's evaluation, refused; nothing was opened after.
    assert entry["answer"] == "not opened" and report["answer"] == "not opened"
    after = [a for a in entry["attempts"] if a["at"] >= lost_at]
    assert [(a["actor"], a["action"]) for a in after] == [(story.people.reader, "evaluate")]
    assert after[0]["outcome"] == "refused", after

    # The auditor may read it too; a reader may not.
    h.expect(story.server.ks("report", "--medium", medium, token=story.people.auditor_token), 0)
    proc = story.server.ks("report", "--medium", medium, token=story.people.reader_token)
    h.expect(proc, h.KS_EXIT_DENIED)


def test_audit_chain_verifies_and_holds_no_secrets(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    h.expect(story.open_as_reader(container, story.work / "dest"), h.EXIT_OK)
    h.expect(story.open_as_reader(container, story.work / "x", password="wrong"), 6)
    proc = story.server.ks("audit", "verify", "--json", token=story.people.auditor_token)
    h.expect(proc, 0)
    result = h.parse_json(proc)
    assert result["ok"] is True
    assert result["entries"] > 0
    assert result["first_bad_seq"] is None

    proc = story.server.ks("audit", "export", token=story.people.auditor_token)
    h.expect(proc, 0)
    entries = [json.loads(line) for line in proc.stdout.decode().splitlines() if line]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    cid = story.container_id(container)
    mine = [e for e in entries if cid in json.dumps(e)]
    assert any(e["actor"] == story.people.reader for e in mine)

    # Never a token or a password in the audit log or the server's log.
    secrets = [getattr(story.people, f) for f in vars(story.people) if f.endswith("_token")]
    secrets += [story.server.admin_token, PASSWORD]
    exported = proc.stdout.decode()
    log = story.server.log_text(tail=None)
    for secret in secrets:
        assert secret not in exported
        assert secret not in log


def test_loss_report_waiting_period_then_sweep(story: Any, h: ModuleType) -> None:
    _, container, medium = story.seal_for_reader()
    cid = story.container_id(container)
    # A waiting period this short from an official is an early destroy that needs a
    # second official (spec §approvals); the operator on the server host is not bound.
    proc = story.server.ks_local(
        "report-loss", "--medium", medium, "--waiting-period", "2s",
        "--reason", "lost at the station", "--yes",
    )  # fmt: skip
    h.expect(proc, 0)
    status = story.status(cid)
    assert status["state"] == "suspended"
    destroy_after = datetime.fromisoformat(str(status["destroy_after"]).replace("Z", "+00:00"))
    dest = story.work / "dest"
    h.expect(story.open_as_reader(container, dest), h.EXIT_SUSPENDED)

    # Wait (not a timing assertion) until the waiting period is over, then sweep. The server
    # and this test read the same clock and destroy_after is exact (microseconds), so the
    # sweep, started after this, sees it due: no margin needed (one second saved).
    time.sleep(max(0.0, (destroy_after - datetime.now(UTC)).total_seconds()) + 0.01)
    h.expect(story.server.ks_local("sweep"), 0)
    assert _state(story, cid) == "destroyed"
    h.expect(story.open_as_reader(container, dest), h.EXIT_REVOKED)
    assert h.tree(dest) == {}
