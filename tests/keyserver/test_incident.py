"""Issue 10, an incident an official can trust: over a real socket, SQLite and PostgreSQL.

Media that match (canonical ids, not-found with suggestions), loss reports that cover
pending containers, the three-way medium report from the time of loss, an attempt budget
only the right password refunds (per container, per principal, per medium), suspension
causes and cause-scoped restores, complete audit entries.

Length: the incident's cases run on one live server per backend (the `world` and `capped`
fixtures); the clock, the media and the budgets they set up are shared by every case here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from keyserver._domain import budget
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver.testing import running_server
from pycontainer.format.keyschedule import receipt_mac
from tests.support.clock import FakeClock
from tests.support.world import (
    World,
    activate,
    b64,
    blinded_b64,
    make_world,
    oprf,
    register,
    unb64,
)

LOSS = {"reason": "stick lost on the train", "public_reason": "medium lost"}


def _evaluate(w: World, who: str, cid: str) -> httpx.Response:
    return w.call(
        who, "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )


def _status(w: World, cid: str) -> dict[str, Any]:
    return dict(w.call("official", "GET", f"/v1/containers/{cid}").json())


def _receipt(w: World, who: str, cid: str, key: bytes, doc: dict[str, Any]) -> httpx.Response:
    mac = receipt_mac(key, unb64(cid), unb64(doc["challenge"]))
    return w.call(
        who,
        "POST",
        f"/v1/containers/{cid}/receipt",
        json={"challenge": doc["challenge"], "mac": b64(mac)},
    )


def _head(w: World) -> int:
    return int(w.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"])


@pytest.fixture
def capped(settings: Settings) -> Iterator[World]:
    """A server with small window caps: 4 per principal, 6 per medium."""
    small = settings.replace(principal_attempt_cap=4, medium_attempt_cap=6)
    with running_server(small) as url:
        w = make_world(small, url)
        yield w
        w.close()


# -- 1. media are first-class and canonical --------------------------------------------------


def test_a_typo_fails_with_a_suggestion_and_changes_nothing(world: World) -> None:
    reg, _ = activate(world, medium="USB-2022-06-AMA")
    cid = reg["container_id"]
    before = _head(world)
    for typo in ("USB-2022-06-AMX", "USB-2022-O6-AMA"):
        for path, method, body in (
            (f"/v1/media/{typo}/loss-report", "POST", LOSS),
            (f"/v1/media/{typo}/suspend", "POST", LOSS),
            (f"/v1/media/{typo}/report", "GET", None),
            (f"/v1/media/{typo}", "GET", None),
        ):
            resp = world.call("official", method, path, json=body)
            assert resp.status_code == 404, (path, resp.text)
            doc = resp.json()
            assert doc["type"] == "urn:rwc:problem:not-found"
            assert doc["suggestions"] == ["USB-2022-06-AMA"]
            # Said once, by the client in its reader's language (not also in detail).
            assert doc["detail"] == f"no medium {typo!r}"
    resp = world.call("official", "GET", "/v1/containers", params={"issuer": "writr"})
    assert resp.status_code == 404 and resp.json()["suggestions"] == ["writer"]
    # Nothing changed, nothing was recorded (not-found is not audited).
    assert _status(world, cid)["state"] == "active"
    assert _head(world) == before


def test_case_blanks_and_full_width_name_the_same_medium(world: World) -> None:
    reg, _ = activate(world, medium="USB-2022-06-AMA")
    # A later registration with another spelling joins the medium under its first name.
    other = register(world, medium="  usb\u20142022\u201406\u2014ama ")
    assert _status(world, other["container_id"])["medium"] == "USB-2022-06-AMA"
    wide = "\uff35\uff33\uff22-2022-06-ama"  # full-width USB
    resp = world.call("official", "POST", f"/v1/media/{quote(wide + ' ')}/loss-report", json=LOSS)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["medium"] == "USB-2022-06-AMA"
    assert doc["affected"] == 2 and doc["suspended"] == 1 and doc["pending_locked"] == 1
    assert _status(world, reg["container_id"])["state"] == "suspended"
    media = world.call("auditor", "GET", "/v1/media").json()["media"]
    assert [(m["medium"], m["containers"]) for m in media] == [("USB-2022-06-AMA", 2)]
    assert media[0]["states"] == {"pending": 1, "suspended": 1}
    assert media[0]["loss_reported_at"] is not None


@pytest.mark.parametrize(
    "medium",
    ["usb/1", "\u0410BC-1", "50%", "what?", "-lead", " ", "x" * 101, "USB-2026-0417 経理課"],
)
def test_media_that_cannot_be_made_safe_are_refused(world: World, medium: str) -> None:
    body = {"label": "l", "medium": medium, "readers": ["reader"]}
    resp = world.call("writer", "POST", "/v1/containers", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"] == "urn:rwc:problem:invalid-request"
    # spec §problems: the client tells its user the rule, not "update rwc".
    assert resp.json()["field"] == "medium"
    assert world.call("auditor", "GET", "/v1/media").json()["media"] == []


def test_the_server_can_require_media(settings: Settings) -> None:
    strict = settings.replace(require_medium=True)
    with running_server(strict) as url:
        w = make_world(strict, url)
        try:
            body = {"label": "l", "readers": ["reader"]}
            resp = w.call("writer", "POST", "/v1/containers", json=body)
            assert resp.status_code == 400 and "requires a medium" in resp.json()["detail"]
        finally:
            w.close()


# -- 2. a loss report covers everything on the medium ----------------------------------------


def test_pending_containers_of_a_reported_medium_never_open(world: World, clock: FakeClock) -> None:
    pending = register(world, medium="USB-P")
    cid = pending["container_id"]
    active, _ = activate(world, medium="USB-P")
    # A one-hour waiting period (shorter than the pending lifetime): from an official that
    # is an early destroy needing a second one (spec §approvals); the operator is not bound.
    svc = KeyService(world.settings)
    try:
        done = svc.report_loss(
            svc.local_actor("ops"), "USB-P", LOSS["reason"], LOSS["public_reason"],
            waiting_period=timedelta(hours=1),
        )  # fmt: skip
    finally:
        svc.close()
    assert done["pending_locked"] == 1
    # Neither the writer's evaluation nor the commit goes through.
    resp = _evaluate(world, "writer", cid)
    assert resp.status_code == 423 and resp.json()["reason"] == "medium lost"
    resp = world.call(
        "writer",
        "POST",
        f"/v1/containers/{cid}/commit",
        json={"header_digest": b64(os.urandom(32)), "receipt_key": b64(os.urandom(32))},
    )
    assert resp.status_code == 423
    status = _status(world, cid)
    assert status["state"] == "pending" and status["suspend_cause"] == "loss-report"
    # The waiting period ends (before its pending lifetime): the sweep destroys it too.
    clock.advance(hours=2)
    svc = KeyService(world.settings)
    try:
        assert svc.sweep()["loss_waiting_period"] == 2
    finally:
        svc.close()
    assert _status(world, cid)["state"] == "destroyed"
    assert _status(world, active["container_id"])["state"] == "destroyed"


def test_loss_report_entry_lists_every_affected_container(world: World) -> None:
    a, _ = activate(world, medium="USB-E")
    b, _ = activate(world, medium="USB-E")
    p = register(world, medium="USB-E")
    world.call("official", "POST", f"/v1/containers/{b['container_id']}/suspend", json=LOSS)
    resp = world.call("official", "POST", "/v1/media/usb-e/loss-report", json=LOSS)
    doc = resp.json()
    assert (doc["suspended"], doc["already_suspended"], doc["pending_locked"]) == (1, 1, 1)
    every = sorted([a["container_id"], b["container_id"], p["container_id"]])
    assert sorted(doc["container_ids"]) == every and doc["affected"] == 3
    entry = world.call("auditor", "GET", "/v1/audit", params={"action": "suspend"}).json()[
        "entries"
    ][-1]
    assert entry["details"]["loss_report"] is True and entry["details"]["target"] == "USB-E"
    assert sorted(entry["details"]["container_ids"]) == every
    # Each affected row points at that entry.
    assert {_status(world, c)["last_audit_seq"] for c in every} == {entry["seq"]}


@pytest.mark.parametrize("seconds", [400 * 86400, -5, 10**20, -(10**20)])
def test_waiting_period_bounds_are_stated(world: World, seconds: int) -> None:
    # Beyond what a duration holds too (durations.waiting_period_of): the same refusal
    # with the range, never an overflow.
    activate(world, medium="USB-W")
    body = {**LOSS, "waiting_period_seconds": seconds}
    resp = world.call("official", "POST", "/v1/media/USB-W/loss-report", json=body)
    assert resp.status_code == 400
    assert resp.json()["detail"] == "the waiting period must be between 0 seconds and 365 days"


# -- 3. the time of loss and the three-way report --------------------------------------------


def test_report_is_three_way_from_the_time_of_loss(world: World, clock: FakeClock) -> None:
    opened, key = activate(world, medium="USB-R", label="opened")
    guessed, _ = activate(world, medium="USB-R", label="guessed")
    untouched, _ = activate(world, medium="USB-R", label="untouched")
    lost_at = clock()
    clock.advance(hours=1)
    # After the loss, before its report: a thief with the password releases a key and
    # sends no receipt; the clerk opens another container and confirms.
    oprf(world, "reader", guessed["container_id"], guessed["public_key"])
    doc = oprf(world, "reader", opened["container_id"], opened["public_key"])
    assert _receipt(world, "reader", opened["container_id"], key, doc).status_code == 200
    # An official suspends and restores one container in between.
    cid = untouched["container_id"]
    world.call("official", "POST", f"/v1/containers/{cid}/suspend", json=LOSS)
    world.call("official", "POST", f"/v1/containers/{cid}/restore", json=LOSS)
    clock.advance(hours=5)
    body = {**LOSS, "lost_at": lost_at.isoformat()}
    assert world.call("official", "POST", "/v1/media/USB-R/loss-report", json=body).is_success
    report = world.call("auditor", "GET", "/v1/media/usb-r/report").json()
    assert report["answer"] == "opened"
    assert report["window_start"] == report["lost_at"] != report["loss_reported_at"]
    answers = {c["label"]: c["answer"] for c in report["containers"]}
    assert answers == {
        "opened": "opened",
        "guessed": "possibly opened",
        "untouched": "not opened",
    }
    by_label = {c["label"]: c for c in report["containers"]}
    assert by_label["guessed"]["releases_after_loss"] == 1
    assert by_label["guessed"]["confirmed_after_loss"] == 0
    changes = [(x["action"], x["actor"]) for x in by_label["untouched"]["state_changes"]]
    assert changes == [("suspend", "official"), ("restore", "official"), ("suspend", "official")]
    # Without the opened container the headline is the next worst.
    report = world.call(
        "auditor",
        "GET",
        "/v1/media/USB-R/report",
        params={"since": (lost_at + timedelta(hours=7)).isoformat()},
    ).json()
    assert report["answer"] == "not opened"


def test_thief_without_receipt_makes_it_possibly_opened(world: World, clock: FakeClock) -> None:
    reg, _ = activate(world, medium="USB-T")
    assert world.call("official", "POST", "/v1/media/USB-T/loss-report", json=LOSS).is_success
    report = world.call("auditor", "GET", "/v1/media/USB-T/report").json()
    assert report["answer"] == "not opened"
    # A restore by mistake, then a thief who knows the password opens without a receipt.
    world.call("official", "POST", "/v1/media/USB-T/restore", json=LOSS)
    oprf(world, "reader", reg["container_id"], reg["public_key"])
    report = world.call("auditor", "GET", "/v1/media/USB-T/report").json()
    assert report["answer"] == "possibly opened"


def test_sealing_after_the_loss_is_creation_not_an_opening(world: World, clock: FakeClock) -> None:
    """spec §report, kind: the writer's seal-mode release is listed as creation.

    A newcomer read "not opened" next to a succeeded key request by the contractor (the
    writer sealing a container after the time of loss): each row now says what it is, and
    only a reader's release moves the answer.
    """
    lost_at = clock()
    clock.advance(hours=1)
    sealed, _ = activate(world, medium="USB-K", label="made after the loss")
    clock.advance(hours=1)
    body = {**LOSS, "lost_at": lost_at.isoformat()}
    assert world.call("official", "POST", "/v1/media/USB-K/loss-report", json=body).is_success
    report = world.call("auditor", "GET", "/v1/media/USB-K/report").json()
    (container,) = report["containers"]
    assert report["answer"] == container["answer"] == "not opened"
    rows = [(a["actor"], a["action"], a["outcome"], a["kind"]) for a in container["attempts"]]
    assert rows == [("writer", "evaluate", "ok", "creation")]
    assert container["releases_after_loss"] == 0
    # A reader's release after a mistaken restore is a release, and the answer says so.
    world.call("official", "POST", "/v1/media/USB-K/restore", json=LOSS)
    oprf(world, "reader", sealed["container_id"], sealed["public_key"])
    report = world.call("auditor", "GET", "/v1/media/USB-K/report").json()
    (container,) = report["containers"]
    assert report["answer"] == "possibly opened"
    assert [a["kind"] for a in container["attempts"]] == ["creation", "release"]
    assert container["releases_after_loss"] == 1


def test_lost_at_in_the_future_or_out_of_range_is_refused(world: World) -> None:
    activate(world, medium="USB-F")
    for when in ("2999-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "yesterday"):
        body = {**LOSS, "lost_at": when}
        resp = world.call("official", "POST", "/v1/media/USB-F/loss-report", json=body)
        assert resp.status_code == 400, (when, resp.text)
    resp = world.call(
        "auditor", "GET", "/v1/media/USB-F/report", params={"since": "9999-12-31T23:59:59-23:59"}
    )
    assert resp.status_code == 400
    for params in ({"limit": 10**30}, {"limit": 0}, {"after": "a/b"}):
        resp = world.call("auditor", "GET", "/v1/media", params=params)
        assert resp.status_code == 400, (params, resp.text)


# -- 4. an attempt budget only the right password refunds -----------------------------------


def test_receipt_reset_attack_is_bounded_by_the_budget(world: World, clock: FakeClock) -> None:
    reg, key = activate(world, medium="USB-B", attempt_budget=5)
    cid = reg["container_id"]
    thief = 0
    receipts = []
    for _ in range(20):
        clock.advance(seconds=1)
        resp = _evaluate(world, "groupie", cid)  # a stolen token guessing
        if resp.status_code == 200:
            thief += 1
        clock.advance(seconds=1)
        clerk = _evaluate(world, "reader", cid)
        if clerk.status_code != 200:
            break
        # The clerk opens with the right password and confirms.
        resp = _receipt(world, "reader", cid, key, clerk.json())
        receipts.append(resp.status_code)
    assert thief <= 5
    # The clerk's fourth release is the fifth unconfirmed one (the thief's four and its own):
    # the budget suspends the container with it, and its receipt lifts that suspension
    # (spec §receipt: the right password on the last attempt), refunding the clerk's
    # release alone. The thief's fifth guess then uses up the budget: its receipt never
    # comes, and the clerk's next release is refused, which ends the loop.
    assert (thief, receipts) == (5, [200, 200, 200, 200]), receipts
    status = _status(world, cid)
    assert status["state"] == "suspended" and status["suspend_cause"] == "budget"
    # Receipts are refused while suspended.
    assert _evaluate(world, "reader", cid).status_code == 423


def test_receipt_refunds_only_its_own_evaluation(world: World) -> None:
    reg, key = activate(world, medium="USB-O", attempt_budget=10)
    cid, pk = reg["container_id"], reg["public_key"]
    first = oprf(world, "reader", cid, pk)
    for _ in range(3):
        _evaluate(world, "groupie", cid)
    assert _status(world, cid)["unconfirmed"] == 4
    # The receipt for the first evaluation confirms it alone, not the three after it.
    assert _receipt(world, "reader", cid, key, first).status_code == 200
    assert _status(world, cid)["unconfirmed"] == 3
    doc = _evaluate(world, "reader", cid).json()
    assert doc["attempts_remaining"] == 10 - 4  # the budget is the smallest allowance
    assert doc["password_required"] is True


def test_per_principal_cap_holds_across_containers(capped: World, clock: FakeClock) -> None:
    # K containers sealed with one password: a stolen token gets the principal cap in
    # total per window, not K x budget.
    regs = [activate(capped, medium=f"USB-K{i}", attempt_budget=3)[0] for i in range(5)]
    released = 0
    for reg in regs:
        for _ in range(3):
            resp = _evaluate(capped, "groupie", reg["container_id"])
            if resp.status_code == 200:
                released += 1
            else:
                assert resp.status_code == 429
                assert resp.json()["type"] == "urn:rwc:problem:attempts-exhausted"
    assert released == 4
    refused = capped.call(
        "auditor", "GET", "/v1/audit", params={"actor_name": "groupie", "action": "evaluate"}
    ).json()["entries"]
    assert {e["details"].get("reason") for e in refused if e["outcome"] == "refused"} == {
        "attempts-exhausted"
    }
    # Another principal is not affected; the window slides.
    assert _evaluate(capped, "reader", regs[4]["container_id"]).status_code == 200
    clock.advance(hours=25)
    assert _evaluate(capped, "groupie", regs[4]["container_id"]).status_code == 200


def test_attempts_limit_names_what_running_out_does(capped: World) -> None:
    """spec §receipt `attempts_limit`: the allowance `attempts_remaining` counts down.

    A reader told "0 left" must know whether the container is now suspended (its budget)
    or only its next try is refused for a while (a window cap; issue 12).
    """
    small, _ = activate(capped, medium="USB-L1", attempt_budget=2)
    big, _ = activate(capped, medium="USB-L2", attempt_budget=100)

    def evaluate(cid: str) -> tuple[int, str]:
        resp = _evaluate(capped, "reader", cid)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        return doc["attempts_remaining"], doc["attempts_limit"]

    def access(cid: str) -> tuple[int, str]:
        doc = capped.call("reader", "GET", f"/v1/containers/{cid}/access").json()
        return doc["attempts_remaining"], doc["attempts_limit"]

    small_id, big_id = small["container_id"], big["container_id"]
    # The budget (2) is below the reader's cap (4): the container's budget runs out first,
    # and the evaluation that answers 0 has suspended it.
    assert access(small_id) == (2, "container")
    assert evaluate(small_id) == (1, "container")
    assert evaluate(small_id) == (0, "container")
    assert _status(capped, small_id)["state"] == "suspended"
    # The reader has spent 2 of its 4 in the window: its cap runs out before the budget.
    assert access(big_id) == (2, "principal")
    assert evaluate(big_id) == (1, "principal")
    assert evaluate(big_id) == (0, "principal")
    # Running out of it refuses the next try and leaves the container active.
    resp = _evaluate(capped, "reader", big_id)
    assert resp.status_code == 429
    assert resp.json()["type"] == "urn:rwc:problem:attempts-exhausted"
    assert _status(capped, big_id)["state"] == "active"


@pytest.mark.parametrize(
    ("container", "principal", "medium", "expected"),
    [
        (8, 0, 0, "container"),  # 2 left of the budget, 4 of the cap, 6 of the medium's
        (0, 3, 0, "principal"),
        (0, 0, 5, "medium"),
        (6, 0, 0, "container"),  # a tie with the reader's cap: the lasting consequence
        (0, 2, 4, "principal"),  # a tie between the caps: the caller's own
        (10, 4, 6, "container"),  # all spent: still the one that suspends
    ],
)
def test_attempts_limit_is_the_smallest_allowance(
    container: int, principal: int, medium: int, expected: str
) -> None:
    counts = budget.Counts(
        container=container,
        budget=10,
        principal=principal,
        principal_cap=4,
        medium=medium,
        medium_cap=6,
    )
    assert budget.limit(counts) == expected


def test_per_medium_cap_holds_across_principals(capped: World) -> None:
    regs = [activate(capped, medium="USB-M", attempt_budget=100)[0] for _ in range(2)]
    released = 0
    for i in range(12):
        who = "reader" if i % 2 else "groupie"
        resp = _evaluate(capped, who, regs[i % 2]["container_id"])
        released += resp.status_code == 200
    # 4 per principal would allow 8; the medium cap (6) stops both together.
    assert released == 6


def test_access_says_whether_a_password_is_needed(world: World) -> None:
    reg, _ = activate(world, medium="USB-A1", password_required=False, attempt_budget=4)
    cid = reg["container_id"]
    doc = world.call("reader", "GET", f"/v1/containers/{cid}/access").json()
    assert doc == {
        "container_id": cid,
        "state": "active",
        "password_required": False,
        "attempts_remaining": 4,
        "attempts_limit": "container",
    }
    ev = _evaluate(world, "reader", cid).json()
    assert ev["password_required"] is False and ev["attempts_remaining"] == 3
    assert ev["attempts_limit"] == "container"
    assert (
        world.call("reader", "GET", f"/v1/containers/{cid}/access").json()["attempts_remaining"]
        == 3
    )
    # Not admitted: refused like an evaluation, and audited as access.
    resp = world.call("outsider", "GET", f"/v1/containers/{cid}/access")
    assert resp.status_code == 403 and resp.json()["type"] == "urn:rwc:problem:not-allowed"
    entries = world.call(
        "auditor", "GET", "/v1/audit", params={"action": "access", "actor_name": "outsider"}
    ).json()["entries"]
    assert len(entries) == 1 and entries[0]["container"] == cid


# -- 5. suspensions remember why ----------------------------------------------------------


def test_bulk_restore_leaves_a_budget_suspension(world: World) -> None:
    guessed, _ = activate(world, medium="USB-G", attempt_budget=2)
    kept, _ = activate(world, medium="USB-G")
    for _ in range(2):
        _evaluate(world, "groupie", guessed["container_id"])
    assert _status(world, guessed["container_id"])["suspend_cause"] == "budget"
    assert world.call("official", "POST", "/v1/media/USB-G/loss-report", json=LOSS).is_success
    # Found again: the restore lifts the loss report only.
    resp = world.call("official", "POST", "/v1/media/usb-g/restore", json=LOSS)
    doc = resp.json()
    assert doc["affected"] == 1 and doc["container_ids"] == [kept["container_id"]]
    assert doc["left_suspended"] == {"budget": 1}
    status = _status(world, guessed["container_id"])
    assert status["state"] == "suspended" and status["suspend_cause"] == "budget"
    assert status["destroy_after"] is None  # the loss report's deadline went
    assert status["unconfirmed"] == 2  # the thief's count is not reset
    # Naming the cause lifts it, and resets the count.
    body = {**LOSS, "cause": "budget"}
    resp = world.call("official", "POST", "/v1/media/USB-G/restore", json=body)
    assert resp.json()["affected"] == 1
    assert _status(world, guessed["container_id"])["unconfirmed"] == 0
    resp = world.call("official", "POST", "/v1/media/USB-G/restore", json={**LOSS, "cause": "x"})
    assert resp.status_code == 400
    resp = world.call("official", "POST", "/v1/media/USB-G/suspend", json={**LOSS, "cause": "any"})
    assert resp.status_code == 400
