"""spec §evaluate: authorisation before state (a non-admitted caller learns no state)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64, register

CHANGE = {"reason": "medium lost on a train", "public_reason": "medium reported lost"}


def _evaluate(w: World, who: str, cid: str) -> tuple[int, dict[str, Any]]:
    resp = w.call(
        who, "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    return resp.status_code, dict(resp.json())


def _change(w: World, cid: str, op: str) -> None:
    resp = w.call("official", "POST", f"/v1/containers/{cid}/{op}", json=CHANGE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["affected"] == 1


def _assert_not_allowed(doc: dict[str, Any]) -> None:
    assert doc["type"] == "urn:rwc:problem:not-allowed"
    # Nothing about the container's state or reasons leaks to the outsider.
    assert "reason" not in doc and "revoked_at" not in doc and "not_after" not in doc
    assert doc["contact"] == "privacy@city.example"


def test_outsider_learns_no_state(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    _change(world, cid, "suspend")
    code, doc = _evaluate(world, "outsider", cid)
    assert code == 403
    _assert_not_allowed(doc)
    for who in ("reader", "groupie"):  # admitted by name and by group
        code, doc = _evaluate(world, who, cid)
        assert code == 423 and doc["reason"] == "medium reported lost", (who, doc)
    _change(world, cid, "destroy")
    # The policy survives the destroy (only the key material is erased).
    code, doc = _evaluate(world, "outsider", cid)
    assert code == 403
    _assert_not_allowed(doc)
    for who in ("reader", "groupie"):
        code, doc = _evaluate(world, who, cid)
        assert code == 410 and doc["type"] == "urn:rwc:problem:destroyed", (who, doc)
        assert doc["reason"] == "medium reported lost" and doc["revoked_at"]
    # The issuing writer sees the state of its own container.
    code, doc = _evaluate(world, "writer", cid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:destroyed"
    # Principals without the reader role stay `forbidden`, whatever the state.
    code, doc = _evaluate(world, "official", cid)
    assert code == 403 and doc["type"] == "urn:rwc:problem:forbidden"


def test_outsider_learns_no_expiry_or_pending(world: World, clock: FakeClock) -> None:
    pending = register(world)["container_id"]
    code, doc = _evaluate(world, "outsider", pending)
    assert code == 403
    _assert_not_allowed(doc)
    code, doc = _evaluate(world, "reader", pending)  # admitted: may learn it is pending
    assert code == 409 and doc["type"] == "urn:rwc:problem:pending"
    not_after = (clock() + timedelta(hours=1)).isoformat()
    reg, _ = activate(world, not_after=not_after)
    cid = reg["container_id"]
    clock.advance(hours=2)
    code, doc = _evaluate(world, "outsider", cid)
    assert code == 403
    _assert_not_allowed(doc)
    code, doc = _evaluate(world, "reader", cid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:expired" and doc["not_after"]
    code, doc = _evaluate(world, "writer", cid)  # the issuer sees its own container expire
    assert code == 410 and doc["type"] == "urn:rwc:problem:expired"


def test_refusal_is_audited_as_not_allowed(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    _change(world, cid, "destroy")
    assert _evaluate(world, "outsider", cid)[0] == 403
    resp = world.call("auditor", "GET", "/v1/audit", params={"container": cid})
    [entry] = [e for e in resp.json()["entries"] if e["actor"] == "outsider"]
    assert entry["outcome"] == "refused"
    assert entry["details"]["reason"] == "not-allowed"
