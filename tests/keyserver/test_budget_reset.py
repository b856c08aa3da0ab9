"""Containers at their attempt limit, and an official's reset of the count (issue 12, console20).

spec §receipt: the right password on the last attempt lifts the budget suspension and
refunds that one evaluation, so the count stays at ``attempt_budget - 1`` and the clerk's
next mistyped password suspends the container again. The console's overview lists such
containers with whose attempts they hold; ``POST /v1/containers/{id}/reset-budget`` (the
console's button calls the same service method) sets the count of an active container to
0, audited ``budget.reset`` with the official as actor. Over HTTP with real VOPRF, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from keyserver._service import KeyService, attempt_limits
from tests.support.clock import FakeClock
from tests.support.world import World, activate, confirm, oprf

BUDGET = 4


def _status(w: World, cid: str) -> dict[str, Any]:
    return dict(w.call("official", "GET", f"/v1/containers/{cid}").json())


def _at_limit(service: KeyService) -> list[dict[str, Any]]:
    return list(service.console_overview(service.local_actor("auditor"))["at_limit"])


def _reset(w: World, who: str, cid: str, reason: str = "clerk mistyped; checked by phone") -> Any:
    return w.call(who, "POST", f"/v1/containers/{cid}/reset-budget", json={"reason": reason})


def _to_the_limit(w: World, clock: FakeClock) -> tuple[str, str, bytes]:
    """A container whose budget ran out on its last attempt, the right password: lifted by
    its receipt, left at BUDGET - 1 (one wrong attempt by groupie, two by reader, after
    an opening reader confirmed)."""
    reg, key = activate(w, medium="USB-LIMIT-01", label="ledger", attempt_budget=BUDGET)
    cid, pk = reg["container_id"], reg["public_key"]
    clock.advance(seconds=1)
    confirm(w, "reader", cid, key, oprf(w, "reader", cid, pk))  # an ordinary opening
    for who in ("groupie", "reader", "reader"):  # wrong passwords, a second apart
        clock.advance(seconds=1)
        oprf(w, who, cid, pk)
    clock.advance(seconds=1)
    last = oprf(w, "reader", cid, pk)
    assert _status(w, cid)["state"] == "suspended"
    clock.advance(seconds=1)
    confirm(w, "reader", cid, key, last)  # lifts the suspension (spec §receipt)
    status = _status(w, cid)
    assert (status["state"], status["unconfirmed"]) == ("active", BUDGET - 1)
    return cid, pk, key


def test_the_overview_lists_a_container_at_its_limit_with_whose_attempts(
    world: World, service: KeyService, clock: FakeClock
) -> None:
    far, _ = activate(world, medium="USB-LIMIT-01", label="far", attempt_budget=BUDGET)
    oprf(world, "reader", far["container_id"], far["public_key"])  # 1 of 4: not at the limit
    assert _at_limit(service) == []
    cid, _, _ = _to_the_limit(world, clock)
    assert _at_limit(service) == [
        {
            "container_id": cid,
            "label": "ledger",
            "medium": "USB-LIMIT-01",
            "unconfirmed": BUDGET - 1,
            "attempt_budget": BUDGET,
            "attempts_by": [
                {"actor": "reader", "attempts": 2},
                {"actor": "groupie", "attempts": 1},
            ],
        }
    ]


def test_an_official_resets_the_count_audited(
    world: World, service: KeyService, clock: FakeClock
) -> None:
    cid, pk, _ = _to_the_limit(world, clock)
    clock.advance(minutes=5)
    answer = _reset(world, "official", cid)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "container_id": cid,
        "unconfirmed_before": BUDGET - 1,
        "unconfirmed": 0,
    }
    status = _status(world, cid)
    assert (status["state"], status["unconfirmed"], status["changed_by"]) == (
        "active",
        0,
        "official",
    )
    assert _at_limit(service) == []
    entries = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()
    last = entries["entries"][-1]
    assert (last["actor"], last["action"], last["outcome"]) == ("official", "budget.reset", "ok")
    assert last["details"] == {
        "reason": "clerk mistyped; checked by phone",
        "unconfirmed_before": BUDGET - 1,
        "attempt_budget": BUDGET,
    }
    # The clerk's next wrong password no longer suspends the container: BUDGET - 1 left.
    clock.advance(seconds=1)
    assert oprf(world, "reader", cid, pk)["attempts_remaining"] == BUDGET - 1
    assert _status(world, cid)["state"] == "active"


def test_a_receipt_of_an_evaluation_before_the_reset_refunds_nothing(
    world: World, clock: FakeClock
) -> None:
    """As after a restore (spec §receipt): the count the reset left is not lowered."""
    cid, pk, key = _to_the_limit(world, clock)
    clock.advance(seconds=1)
    oprf(world, "reader", cid, pk)  # a wrong password at the limit: suspended
    assert _status(world, cid)["state"] == "suspended"
    restored = world.call(
        "official", "POST", f"/v1/containers/{cid}/restore", json={"reason": "phoned"}
    )
    assert restored.status_code == 200, restored.text
    clock.advance(seconds=1)
    early = oprf(world, "reader", cid, pk)  # issued before the reset below
    clock.advance(seconds=1)
    assert _reset(world, "official", cid).status_code == 200
    clock.advance(seconds=1)
    oprf(world, "reader", cid, pk)  # after the reset: counted
    confirm(world, "reader", cid, key, early)  # accepted (200), refunds nothing
    assert _status(world, cid)["unconfirmed"] == 1


@pytest.mark.parametrize(
    ("who", "state", "status", "slug"),
    [
        ("reader", "active", 403, "forbidden"),
        ("auditor", "active", 403, "forbidden"),
        ("official", "suspended", 409, "conflict"),
        ("official", "destroyed", 410, "destroyed"),
    ],
)
def test_refusals(
    world: World, clock: FakeClock, who: str, state: str, status: int, slug: str
) -> None:
    cid, _, _ = _to_the_limit(world, clock)
    if state != "active":
        op = {"suspended": "suspend", "destroyed": "destroy"}[state]
        changed = world.call("official", "POST", f"/v1/containers/{cid}/{op}", json={"reason": "x"})
        assert changed.status_code == 200, changed.text
    refused = _reset(world, who, cid)
    assert (refused.status_code, refused.json()["type"]) == (
        status,
        f"urn:rwc:problem:{slug}",
    ), refused.text
    assert _status(world, cid)["unconfirmed"] == BUDGET - 1  # nothing changed
    if slug == "forbidden":  # every role refusal is audited (spec §audit)
        entries = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()
        last = entries["entries"][-1]
        assert (last["actor"], last["action"], last["outcome"]) == (who, "budget.reset", "refused")


def test_unknown_container_and_empty_reason(world: World, clock: FakeClock) -> None:
    cid, _, _ = _to_the_limit(world, clock)
    unknown = _reset(world, "official", "A" * 22)
    assert unknown.json()["type"] == "urn:rwc:problem:not-found", unknown.text
    empty = _reset(world, "official", cid, reason="")
    assert empty.json()["type"] == "urn:rwc:problem:invalid-request", empty.text
    assert _status(world, cid)["unconfirmed"] == BUDGET - 1


def test_whose_attempts_are_found_behind_later_openings(
    world: World, service: KeyService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wrong passwords came first, the clerk's confirmed openings after (each one
    suspending the container and lifting it by its receipt, spec §receipt): the audit log
    is read newest first a few entries at a time, past the openings, to the three."""
    monkeypatch.setattr(attempt_limits, "_PAGE", 3)  # pages of 3 entries, not 200
    reg, key = activate(world, medium="USB-LIMIT-01", label="ledger", attempt_budget=BUDGET)
    cid, pk = reg["container_id"], reg["public_key"]
    for who in ("groupie", "reader", "reader"):
        clock.advance(seconds=1)
        oprf(world, who, cid, pk)
    for _ in range(3):
        clock.advance(seconds=1)
        confirm(world, "reader", cid, key, oprf(world, "reader", cid, pk))
    (row,) = _at_limit(service)
    assert (row["unconfirmed"], row["attempts_by"]) == (
        BUDGET - 1,
        [{"actor": "reader", "attempts": 2}, {"actor": "groupie", "attempts": 1}],
    )
