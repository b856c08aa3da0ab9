"""Register -> evaluate -> commit -> receipt over real HTTP, and the state machine."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from keyserver._service import KeyService
from keyserver._store.engine import make_engine
from keyserver._store.models import Container
from pycontainer.format.keyschedule import receipt_mac
from tests.support.clock import FakeClock
from tests.support.world import World, activate, b64, blinded_b64, oprf, register, unb64


def test_register_evaluate_commit_receipt(world: World) -> None:
    reg = register(world)
    assert reg["state"] == "pending"
    assert reg["suite"] == "ristretto255-SHA512"
    assert len(unb64(reg["container_id"])) == 16
    seal = oprf(world, "writer", reg["container_id"], reg["public_key"])
    assert seal["challenge"] is None  # no receipt key before commit
    reg2, receipt_key = activate(world)
    cid = reg2["container_id"]
    # Reader opens: the output must equal the writer's (same key, same input).
    first = oprf(world, "reader", cid, reg2["public_key"])
    again = oprf(world, "groupie", cid, reg2["public_key"])
    assert hmac.compare_digest(first["output"], again["output"])
    challenge = unb64(first["challenge"])
    mac = receipt_mac(receipt_key, unb64(cid), challenge)
    resp = world.call(
        "reader",
        "POST",
        f"/v1/containers/{cid}/receipt",
        json={"challenge": first["challenge"], "mac": b64(mac)},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"confirmed": True}
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "active"
    # spec §receipt: the receipt refunds its own evaluation only (groupie's stays counted).
    assert status["unconfirmed"] == 1
    assert status["last_confirmed_at"] is not None


def _change(
    w: World, path: str, reason: str = "test", public: str | None = "lost"
) -> dict[str, Any]:
    resp = w.call("official", "POST", path, json={"reason": reason, "public_reason": public})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _evaluate_status(w: World, who: str, cid: str) -> tuple[int, dict[str, Any]]:
    resp = w.call(
        who, "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    doc = resp.json()
    if resp.status_code != 200:
        assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.status_code, doc


def test_suspend_restore_destroy(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    assert _change(world, f"/v1/containers/{cid}/suspend") == {
        "affected": 1,
        "container_ids": [cid],
    }
    code, doc = _evaluate_status(world, "reader", cid)
    assert code == 423 and doc["type"] == "urn:rwc:problem:suspended"
    assert doc["reason"] == "lost" and doc["contact"] == "privacy@city.example"
    # Suspending again changes nothing (idempotent).
    assert _change(world, f"/v1/containers/{cid}/suspend")["affected"] == 0
    assert _change(world, f"/v1/containers/{cid}/restore")["affected"] == 1
    assert _evaluate_status(world, "reader", cid)[0] == 200
    assert _change(world, f"/v1/containers/{cid}/destroy", public="medium lost")["affected"] == 1
    code, doc = _evaluate_status(world, "reader", cid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:destroyed"
    assert doc["reason"] == "medium lost" and doc["revoked_at"] and doc["contact"]
    # Irreversible: restore refuses, destroy again affects nothing.
    resp = world.call("official", "POST", f"/v1/containers/{cid}/restore", json={"reason": "oops"})
    assert resp.status_code == 410
    assert _change(world, f"/v1/containers/{cid}/destroy")["affected"] == 0
    status = world.call("auditor", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "destroyed" and status["changed_by"] == "official"
    # The tombstone stays; the key material is gone from the row.
    with Session(make_engine(world.settings)) as s:
        row = s.get(Container, unb64(cid))
        assert row is not None
        assert row.seed_sealed is None and row.receipt_key_sealed is None
        assert row.destroyed_at is not None and row.reason == "test"


def test_pending_expiry_and_not_after(world: World, clock: FakeClock) -> None:
    reg = register(world)
    cid = reg["container_id"]
    clock.advance(hours=25)  # pending_ttl is 24 h
    code, doc = _evaluate_status(world, "writer", cid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:expired"
    resp = world.call(
        "writer",
        "POST",
        f"/v1/containers/{cid}/commit",
        json={"header_digest": b64(b"\1" * 32), "receipt_key": b64(b"\2" * 32)},
    )
    assert resp.status_code == 410
    # A reader cannot use a pending container either.
    code, doc = _evaluate_status(world, "reader", cid)
    assert code == 409 and doc["type"] == "urn:rwc:problem:pending"
    # not_after: refused once passed, destroyed by the sweep.
    not_after = (clock() + timedelta(hours=1)).isoformat()
    active, _ = activate(world, not_after=not_after)
    aid = active["container_id"]
    assert _evaluate_status(world, "reader", aid)[0] == 200
    clock.advance(hours=2)
    code, doc = _evaluate_status(world, "reader", aid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:expired" and doc["not_after"]
    svc = KeyService(world.settings)
    try:
        counts = svc.sweep()
    finally:
        svc.close()
    assert counts["pending_expired"] == 1 and counts["not_after"] == 1
    for c in (cid, aid):
        assert world.call("official", "GET", f"/v1/containers/{c}").json()["state"] == "destroyed"
    code, doc = _evaluate_status(world, "reader", aid)
    assert code == 410 and doc["type"] == "urn:rwc:problem:destroyed"


def test_commit_rules(world: World) -> None:
    reg = register(world)
    cid = reg["container_id"]
    body = {"header_digest": b64(b"\1" * 32), "receipt_key": b64(b"\2" * 32)}
    # A principal without the writer role is refused by role...
    resp = world.call("admin", "POST", f"/v1/containers/{cid}/commit", json=body)
    assert resp.status_code == 403
    # ...and another writer is not the issuer.
    made = world.call("admin", "POST", "/v1/principals", json={"name": "w2", "roles": ["writer"]})
    world.tokens["w2"] = made.json()["token"]
    resp = world.call("w2", "POST", f"/v1/containers/{cid}/commit", json=body)
    assert resp.status_code == 403 and resp.json()["type"] == "urn:rwc:problem:not-allowed"
    assert (
        world.call("writer", "POST", f"/v1/containers/{cid}/commit", json=body).status_code == 200
    )
    resp = world.call("writer", "POST", f"/v1/containers/{cid}/commit", json=body)
    assert resp.status_code == 409 and resp.json()["type"] == "urn:rwc:problem:conflict"
    # The issuing writer cannot evaluate its container once active (no reader role).
    assert _evaluate_status(world, "writer", cid)[0] == 403
    # Every refused commit is in the audit log, with its reason, the role refusal
    # included (spec §audit).
    entries = world.call(
        "auditor", "GET", "/v1/audit", params={"container": cid, "action": "commit"}
    ).json()["entries"]
    outcomes = [(e["actor"], e["outcome"], e["details"].get("reason")) for e in entries]
    assert outcomes == [
        ("admin", "refused", "forbidden"),
        ("w2", "refused", "not-allowed"),
        ("writer", "ok", None),
        ("writer", "refused", "conflict"),
    ]


def test_registration_validation(world: World) -> None:
    base = {"label": "l", "medium": "m", "readers": ["reader"]}
    changes: tuple[dict[str, Any], ...] = (
        {"readers": ["ghost"]},
        {"readers": [], "reader_groups": []},
        {"attempt_budget": 0},
        {"not_after": "2020-01-01T00:00:00Z"},
        {"not_after": "2030-01-01T00:00:00"},
        {"label": "a\x00b"},
        {"medium": ""},
        {"readers": ["bad name"]},
    )
    for change in changes:
        resp = world.call("writer", "POST", "/v1/containers", json={**base, **change})
        assert resp.status_code == 400, (change, resp.text)
        assert resp.json()["type"] == "urn:rwc:problem:invalid-request"


def test_search_and_issuer_scope(world: World) -> None:
    a, _ = activate(world, medium="usb-A", label="alpha")
    b, _ = activate(world, medium="usb-B", label="beta")
    found = world.call("auditor", "GET", "/v1/containers", params={"medium": "usb-A"}).json()
    assert [c["container_id"] for c in found["containers"]] == [a["container_id"]]
    found = world.call(
        "official",
        "GET",
        "/v1/containers",
        params={"issuer": "writer", "state": "active", "limit": 1},
    ).json()
    assert len(found["containers"]) == 1 and found["next"]
    rest = world.call(
        "official", "GET", "/v1/containers", params={"issuer": "writer", "after": found["next"]}
    ).json()
    ids = {found["containers"][0]["container_id"]} | {c["container_id"] for c in rest["containers"]}
    assert ids == {a["container_id"], b["container_id"]}
    assert _change(world, "/v1/issuers/writer/suspend")["affected"] == 2
    for c in (a, b):
        assert _evaluate_status(world, "reader", c["container_id"])[0] == 423
    # spec §lifecycle: a bulk restore lifts loss reports by default; these were suspended
    # by an official, so they stay until the restore names that cause.
    kept = _change(world, "/v1/issuers/writer/restore")
    assert kept["affected"] == 0 and kept["left_suspended"] == {"official": 2}
    resp = world.call(
        "official",
        "POST",
        "/v1/issuers/writer/restore",
        json={"reason": "test", "cause": "official"},
    )
    assert resp.json()["affected"] == 2 and resp.json()["left_suspended"] == {}


def test_issuer_sees_only_the_public_reason(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    _change(
        world,
        f"/v1/containers/{cid}/suspend",
        reason="internal: lost by J. Doe",
        public="medium reported lost",
    )
    mine = world.call("writer", "GET", f"/v1/containers/{cid}").json()
    assert mine["reason"] == "medium reported lost"
    assert "J. Doe" not in str(mine)
    official = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert official["reason"] == "internal: lost by J. Doe"


def test_status_of_another_writers_container_is_refused_and_audited(world: World) -> None:
    reg = register(world)
    cid = reg["container_id"]
    made = world.call("admin", "POST", "/v1/principals", json={"name": "w3", "roles": ["writer"]})
    world.tokens["w3"] = made.json()["token"]
    resp = world.call("w3", "GET", f"/v1/containers/{cid}")
    assert resp.status_code == 403 and resp.json()["type"] == "urn:rwc:problem:not-allowed"
    assert world.call("writer", "GET", f"/v1/containers/{cid}").status_code == 200
    # spec §audit: every refusal is recorded; the issuer's own read is not.
    entries = world.call(
        "auditor", "GET", "/v1/audit", params={"container": cid, "action": "status"}
    ).json()["entries"]
    assert [(e["actor"], e["outcome"], e["details"]["reason"]) for e in entries] == [
        ("w3", "refused", "not-allowed")
    ]
