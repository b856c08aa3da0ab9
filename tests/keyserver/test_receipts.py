"""Attempt budget and receipts: valid, replayed, expired, wrong MAC, wrong principal."""

from __future__ import annotations

from typing import Any

from keyserver._domain import keys
from pycontainer.format.keyschedule import receipt_mac
from tests.support.clock import FakeClock
from tests.support.world import (
    World,
    activate,
    b64,
    blinded_b64,
    oprf,
    refused_as_suspended,
    register,
    unb64,
)

# The tests answer challenges with the client's code (pycontainer), never the server's own
# function, so that a fault the two share cannot pass. Both are pinned to this fixed vector:
# spec format.md §Receipts: HMAC-SHA-256(receipt_key, "rwc/v1 receipt" || container_id ||
# challenge), with receipt_key = 00..1f, container_id = 00..0f, challenge = 32 x ff.
RECEIPT_VECTOR = (
    bytes(range(32)),
    bytes(range(16)),
    b"\xff" * 32,
    "e657a1969c6ecbd89510a2bcf0c7453ae239f139b170a5b50d3cd702ad49a37e",
)


def test_client_and_server_receipt_macs_match_the_fixed_vector() -> None:
    key, container_id, challenge, expected = RECEIPT_VECTOR
    assert receipt_mac(key, container_id, challenge).hex() == expected
    assert keys.receipt_mac(key, container_id, challenge).hex() == expected


def _receipt(
    w: World, who: str, cid: str, challenge: str, mac: bytes
) -> tuple[int, dict[str, Any]]:
    resp = w.call(
        who, "POST", f"/v1/containers/{cid}/receipt", json={"challenge": challenge, "mac": b64(mac)}
    )
    return resp.status_code, resp.json()


def _status(w: World, cid: str) -> dict[str, Any]:
    return dict(w.call("official", "GET", f"/v1/containers/{cid}").json())


def _audit(w: World, cid: str) -> list[dict[str, Any]]:
    return list(w.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()["entries"])


def test_budget_suspends_after_n_unconfirmed(world: World) -> None:
    reg, key = activate(world, attempt_budget=3)
    cid, pk = reg["container_id"], reg["public_key"]
    # A receipt refunds its own evaluation only: 2 - 1 + 1 stays active.
    first = oprf(world, "reader", cid, pk)
    oprf(world, "reader", cid, pk)
    assert _status(world, cid)["unconfirmed"] == 2
    mac = receipt_mac(key, unb64(cid), unb64(first["challenge"]))
    assert _receipt(world, "reader", cid, first["challenge"], mac)[0] == 200
    assert _status(world, cid)["unconfirmed"] == 1
    oprf(world, "groupie", cid, pk)
    assert _status(world, cid)["state"] == "active"
    # The third unconfirmed evaluation is released, then the container suspends.
    oprf(world, "reader", cid, pk)
    status = _status(world, cid)
    assert status["state"] == "suspended" and status["reason"] == "attempt budget exhausted"
    assert status["changed_by"] == "system"
    resp = world.call(
        "reader", "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert resp.status_code == 423
    assert resp.json()["reason"] == "attempt budget exhausted"
    entries = _audit(world, cid)
    suspend = [e for e in entries if e["action"] == "suspend"]
    assert len(suspend) == 1 and suspend[0]["actor"] == "system"
    assert suspend[0]["details"]["reason"] == "attempt budget exhausted"
    refused = [e for e in entries if e["outcome"] == "refused"]
    assert refused and refused[-1]["details"]["reason"] == "suspended"
    # An official restores; the counter starts again from zero.
    resp = world.call(
        "official",
        "POST",
        f"/v1/containers/{cid}/restore",
        json={"reason": "reader confirmed by phone"},
    )
    assert resp.json()["affected"] == 1
    assert _status(world, cid)["unconfirmed"] == 0
    oprf(world, "reader", cid, pk)


def test_writer_sealing_does_not_count(world: World) -> None:
    reg = register(world, attempt_budget=2)
    cid = reg["container_id"]
    for _ in range(5):
        doc = oprf(world, "writer", cid, reg["public_key"])
        assert doc["challenge"] is None
    assert _status(world, cid)["state"] == "pending"
    assert _status(world, cid)["unconfirmed"] == 0
    modes = [e["details"].get("mode") for e in _audit(world, cid) if e["action"] == "evaluate"]
    assert modes == ["seal"] * 5


def test_receipt_cases(world: World, clock: FakeClock) -> None:
    reg, key = activate(world)
    cid, pk = reg["container_id"], reg["public_key"]
    good = oprf(world, "reader", cid, pk)
    mac = receipt_mac(key, unb64(cid), unb64(good["challenge"]))
    # Another principal cannot use the reader's challenge.
    code, doc = _receipt(world, "groupie", cid, good["challenge"], mac)
    assert code == 400 and doc["type"] == "urn:rwc:problem:invalid-receipt"
    assert _receipt(world, "reader", cid, good["challenge"], mac) == (200, {"confirmed": True})
    # Replay.
    code, doc = _receipt(world, "reader", cid, good["challenge"], mac)
    assert code == 409 and doc["type"] == "urn:rwc:problem:conflict"
    # Wrong MAC: refused, and the challenge is consumed by the attempt.
    bad = oprf(world, "reader", cid, pk)
    code, doc = _receipt(world, "reader", cid, bad["challenge"], b"\0" * 32)
    assert code == 400 and doc["type"] == "urn:rwc:problem:invalid-receipt"
    right = receipt_mac(key, unb64(cid), unb64(bad["challenge"]))
    assert _receipt(world, "reader", cid, bad["challenge"], right)[0] == 409
    # MAC computed for another container id does not verify.
    other = oprf(world, "reader", cid, pk)
    wrong_id = receipt_mac(key, b"\1" * 16, unb64(other["challenge"]))
    assert _receipt(world, "reader", cid, other["challenge"], wrong_id)[0] == 400
    # Expired challenge.
    late = oprf(world, "reader", cid, pk)
    clock.advance(minutes=6)
    mac = receipt_mac(key, unb64(cid), unb64(late["challenge"]))
    code, doc = _receipt(world, "reader", cid, late["challenge"], mac)
    assert code == 400 and "expired" in doc["detail"]
    # Unknown challenge.
    code, _ = _receipt(world, "reader", cid, b64(b"\7" * 32), mac)
    assert code == 400
    # Another container's challenge, with the right MAC for this container: unknown here
    # (challenges are looked up by container and hash, migration 0015).
    other_reg, _ = activate(world)
    theirs = oprf(world, "reader", other_reg["container_id"], other_reg["public_key"])
    mac = receipt_mac(key, unb64(cid), unb64(theirs["challenge"]))
    code, doc = _receipt(world, "reader", cid, theirs["challenge"], mac)
    assert (code, doc["type"]) == (400, "urn:rwc:problem:invalid-receipt")
    assert doc["detail"] == "unknown challenge"
    outcomes = [
        (e["outcome"], e["details"].get("reason"))
        for e in _audit(world, cid)
        if e["action"] == "receipt"
    ]
    assert outcomes[0] == ("refused", "invalid-receipt")
    assert ("ok", None) in outcomes and ("refused", "conflict") in outcomes
    assert _status(world, cid)["unconfirmed"] == 3  # bad, other, late: none confirmed


# -- spec §receipt: the receipt of the evaluation that used up the budget lifts it ------------

LIFT_REASON = "confirmed by the reader's receipt"


def reg_medium(w: World, cid: str) -> str:
    return str(_status(w, cid)["medium"])


def _spend(
    w: World, clock: FakeClock, who: str, cid: str, pk: str, n: int = 1
) -> list[dict[str, Any]]:
    """``n`` released evaluations without a receipt (wrong passwords, as the server sees them).

    One second apart, as a person's attempts are: evaluations of one instant (one batch)
    cannot be told apart, and then no receipt lifts the suspension (the last test).
    """
    out = []
    for _ in range(n):
        clock.advance(seconds=1)
        out.append(oprf(w, who, cid, pk))
    return out


def test_the_right_password_on_the_last_attempt_lifts_the_budget_suspension(
    world: World, clock: FakeClock
) -> None:
    reg, key = activate(world, attempt_budget=3)
    cid, pk = reg["container_id"], reg["public_key"]
    _spend(world, clock, "reader", cid, pk, 2)
    (last,) = _spend(world, clock, "reader", cid, pk)
    assert last["attempts_remaining"] == 0 and last["attempts_limit"] == "container"
    assert _status(world, cid)["state"] == "suspended"
    mac = receipt_mac(key, unb64(cid), unb64(last["challenge"]))
    assert _receipt(world, "reader", cid, last["challenge"], mac) == (200, {"confirmed": True})
    status = _status(world, cid)
    assert (status["state"], status["suspend_cause"], status["unconfirmed"]) == (
        "active",
        None,
        2,
    )
    assert (status["changed_by"], status["reason"]) == ("system", LIFT_REASON)
    entries = _audit(world, cid)
    tail = [(e["actor"], e["action"], e["outcome"]) for e in entries[-4:]]
    assert tail == [
        ("reader", "evaluate", "ok"),
        ("system", "suspend", "ok"),
        ("reader", "receipt", "ok"),
        ("system", "restore", "ok"),
    ]
    lift = entries[-1]["details"]
    assert (lift["cause"], lift["reason"], lift["principal"], lift["affected"]) == (
        "budget",
        LIFT_REASON,
        "reader",
        1,
    )
    assert (lift["scope"], lift["target"], lift["container_ids"]) == ("container", cid, [cid])
    assert entries[-2]["details"]["refunded"] is True
    # The medium report lists the lift with the suspension, as any restore (spec §report).
    report = world.call("auditor", "GET", f"/v1/media/{reg_medium(world, cid)}/report").json()
    (container,) = [c for c in report["containers"] if c["container_id"] == cid]
    changes = [
        (c["actor"], c["action"], c["cause"], c["reason"]) for c in container["state_changes"]
    ]
    assert changes == [
        ("system", "suspend", "budget", "attempt budget exhausted"),
        ("system", "restore", "budget", LIFT_REASON),
    ]
    # The two wrong ones stay counted: the next wrong one suspends the container again, and
    # then the right password is refused until an official restores it.
    _spend(world, clock, "reader", cid, pk)
    assert _status(world, cid)["state"] == "suspended"
    refused_as_suspended(world, "reader", cid)


def test_only_the_triggering_evaluation_lifts(world: World, clock: FakeClock) -> None:
    reg, key = activate(world, attempt_budget=3)
    cid, pk = reg["container_id"], reg["public_key"]
    # The clerk's earlier opening, whose receipt has not arrived yet, then a thief's
    # guesses with a stolen token use up the budget.
    (early,) = _spend(world, clock, "reader", cid, pk)
    (_, trigger) = _spend(world, clock, "groupie", cid, pk, 2)
    assert _status(world, cid)["state"] == "suspended"
    # A valid receipt, but for another evaluation: refused, the challenge kept.
    mac = receipt_mac(key, unb64(cid), unb64(early["challenge"]))
    code, doc = _receipt(world, "reader", cid, early["challenge"], mac)
    assert (code, doc["type"], doc["cause"]) == (423, "urn:rwc:problem:suspended", "budget")
    # The trigger's challenge belongs to the thief's token: another principal's receipt is
    # unknown to it, and the thief's own cannot carry the MAC without the password.
    right = receipt_mac(key, unb64(cid), unb64(trigger["challenge"]))
    code, doc = _receipt(world, "reader", cid, trigger["challenge"], right)
    assert (code, doc["type"]) == (400, "urn:rwc:problem:invalid-receipt")
    code, doc = _receipt(world, "groupie", cid, trigger["challenge"], b"\1" * 32)
    assert (code, doc["type"]) == (400, "urn:rwc:problem:invalid-receipt")
    status = _status(world, cid)
    assert (status["state"], status["suspend_cause"], status["unconfirmed"]) == (
        "suspended",
        "budget",
        3,
    )
    assert [e for e in _audit(world, cid) if e["action"] == "restore"] == []


def test_an_official_after_the_budget_keeps_it_suspended(world: World, clock: FakeClock) -> None:
    """An official's suspension (or a loss report) after the budget's: an official decides."""
    reason = {"reason": "the clerk's laptop was stolen", "public_reason": "medium lost"}
    for act in ("container", "medium", "issuer", "loss-report"):
        medium = f"USB-LIFT-{act}"
        reg, key = activate(world, attempt_budget=2, medium=medium)
        cid, pk = reg["container_id"], reg["public_key"]
        (_, last) = _spend(world, clock, "reader", cid, pk, 2)
        assert _status(world, cid)["state"] == "suspended"
        # Each changes nothing on this row (it is suspended already): only the log says.
        path = {
            "container": f"/v1/containers/{cid}/suspend",
            "medium": f"/v1/media/{medium}/suspend",
            "issuer": "/v1/issuers/writer/suspend",
            "loss-report": f"/v1/media/{medium}/loss-report",
        }[act]
        resp = world.call("official", "POST", path, json=reason)
        assert resp.status_code == 200, resp.text
        mac = receipt_mac(key, unb64(cid), unb64(last["challenge"]))
        code, doc = _receipt(world, "reader", cid, last["challenge"], mac)
        assert (code, doc["type"]) == (423, "urn:rwc:problem:suspended"), act
        assert _status(world, cid)["state"] == "suspended", act


def test_evaluations_of_one_instant_keep_the_suspension(world: World) -> None:
    """One batch's evaluations share its time: which one used up the budget is not known.

    The clock stands still here, as it does for the evaluations of one batch: the receipt
    of the last one might confirm an earlier one, so it lifts nothing (an official does).
    """
    reg, key = activate(world, attempt_budget=2)
    cid, pk = reg["container_id"], reg["public_key"]
    oprf(world, "reader", cid, pk)
    last = oprf(world, "reader", cid, pk)
    mac = receipt_mac(key, unb64(cid), unb64(last["challenge"]))
    code, doc = _receipt(world, "reader", cid, last["challenge"], mac)
    assert (code, doc["type"]) == (423, "urn:rwc:problem:suspended")
    assert _status(world, cid)["state"] == "suspended"


def test_a_clock_stepped_back_still_lifts(world: World, clock: FakeClock) -> None:
    """After the clock steps back, audit times stay at the newest entry's (spec §audit).

    The lift is decided on the batch's own clock reading (the challenge's and the
    suspension's), so a clerk is not locked out until the clock catches up again.
    """
    reg, key = activate(world, attempt_budget=2)
    cid, pk = reg["container_id"], reg["public_key"]
    clock.advance(hours=1)
    _spend(world, clock, "reader", cid, pk)  # an entry an hour ahead
    clock.advance(hours=-1)  # an NTP correction: every entry from now on is at that hour
    (last,) = _spend(world, clock, "reader", cid, pk)
    assert _status(world, cid)["state"] == "suspended"
    assert _audit(world, cid)[-1]["at"] == _audit(world, cid)[-3]["at"]  # held, not the clock
    mac = receipt_mac(key, unb64(cid), unb64(last["challenge"]))
    assert _receipt(world, "reader", cid, last["challenge"], mac) == (200, {"confirmed": True})
    assert _status(world, cid)["state"] == "active"
