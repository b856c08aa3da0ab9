"""Two officials for the irreversible (spec §approvals), over HTTP, on SQLite and PostgreSQL.

The default rule set gates bulk destroys (a medium, an issuer, a loss report with now):
the first official's request changes nothing and answers 202 with what it would affect;
the requester can never approve it (not with a second token either); a second official
approves (the destroy happens then, atomically, if the targets are still those listed) or
rejects; a request expires after ``approval_ttl`` (clock moved, not waited for). Every
step is in the audit log with both names.
"""

from __future__ import annotations

from typing import Any

import pytest

from keyserver._domain.errors import InvalidRequestError, NotAllowedError
from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.world import World, activate

DESTROY = {"reason": "stick not found", "public_reason": "medium lost"}


def _principal(world: World, name: str, roles: list[str]) -> str:
    """A further principal (made by a local operator, who is not gated); its token."""
    service = KeyService(world.settings)
    try:
        actor = Actor(name="bootstrap", roles=ROLES, local=True)
        token = str(service.add_principal(actor, name, roles)["token"])
    finally:
        service.close()
    world.tokens[name] = token
    return token


def _states(world: World, ids: list[str]) -> set[str]:
    return {world.call("official", "GET", f"/v1/containers/{c}").json()["state"] for c in ids}


def _audit(world: World, action: str) -> list[dict[str, Any]]:
    page = world.call("auditor", "GET", "/v1/audit", params={"action": action, "limit": 1000})
    assert page.status_code == 200, page.text
    return list(page.json()["entries"])


def _request_medium_destroy(world: World, medium: str) -> tuple[list[str], dict[str, Any]]:
    ids = [activate(world, medium=medium, label=f"export-{i}")[0]["container_id"] for i in range(2)]
    resp = world.call("official", "POST", f"/v1/media/{medium}/destroy", json=DESTROY)
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert doc["approval_required"] is True
    return ids, dict(doc["approval"])


def test_bulk_destroy_needs_a_second_official(world: World) -> None:
    ids, req = _request_medium_destroy(world, "usb-2022-06")
    # Nothing was destroyed; the request shows what it will affect.
    assert _states(world, ids) == {"active"}
    assert req["state"] == "pending" and req["action"] == "destroy"
    assert req["rule"] == "destroy-medium" and req["approver_role"] == "official"
    assert req["affects"]["count"] == 2
    assert sorted(req["affects"]["container_ids"]) == sorted(ids)
    assert sorted(req["affects"]["labels"]) == ["export-0", "export-1"]
    assert req["requested_by"] == "official"
    listed = world.call("auditor", "GET", "/v1/approvals", params={"state": "pending"}).json()
    assert [a["id"] for a in listed["approvals"]] == [req["id"]]

    # The requester cannot approve: not with the token used, not with a second one.
    second_token = world.call("admin", "POST", "/v1/principals/official/tokens", json={})
    assert second_token.status_code == 201, second_token.text
    world.tokens["official-again"] = second_token.json()["token"]
    for who in ("official", "official-again"):
        resp = world.call(who, "POST", f"/v1/approvals/{req['id']}/approve")
        assert resp.status_code == 403, resp.text
        assert resp.json()["type"].endswith(":not-allowed")
    assert _states(world, ids) == {"active"}
    refused = _audit(world, "approval.approve")
    assert [e["outcome"] for e in refused] == ["refused", "refused"]
    assert {e["actor"] for e in refused} == {"official"}

    # An admin is not an official: a destroy needs the official role to approve it.
    resp = world.call("admin", "POST", f"/v1/approvals/{req['id']}/approve")
    assert resp.status_code == 403 and resp.json()["type"].endswith(":forbidden")

    _principal(world, "suzuki", ["official"])
    resp = world.call("suzuki", "POST", f"/v1/approvals/{req['id']}/approve")
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert done["approval"]["state"] == "approved"
    assert done["approval"]["decided_by"] == "suzuki"
    assert done["result"]["affected"] == 2
    assert _states(world, ids) == {"destroyed"}

    # The audit log names both people at each step.
    (request_entry,) = _audit(world, "approval.request")
    assert request_entry["actor"] == "official"
    assert request_entry["details"]["approval"] == req["id"]
    assert request_entry["details"]["affected"] == 2
    (destroy_entry,) = _audit(world, "destroy")
    assert destroy_entry["actor"] == "suzuki"
    assert destroy_entry["details"]["requested_by"] == "official"
    assert destroy_entry["details"]["approval"] == req["id"]
    approved = [e for e in _audit(world, "approval.approve") if e["outcome"] == "ok"]
    assert len(approved) == 1
    assert approved[0]["actor"] == "suzuki"
    assert approved[0]["details"]["requested_by"] == "official"
    assert approved[0]["seq"] == destroy_entry["seq"] + 1

    # Decided once: a second approval is a conflict and changes nothing.
    _principal(world, "tanaka", ["official"])
    again = world.call("tanaka", "POST", f"/v1/approvals/{req['id']}/approve")
    assert again.status_code == 409, again.text


def test_reject(world: World) -> None:
    ids, req = _request_medium_destroy(world, "usb-reject")
    _principal(world, "suzuki", ["official"])
    resp = world.call(
        "suzuki", "POST", f"/v1/approvals/{req['id']}/reject", json={"reason": "it was found"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["approval"]["state"] == "rejected"
    assert resp.json()["approval"]["decision_reason"] == "it was found"
    assert _states(world, ids) == {"active"}
    (entry,) = _audit(world, "approval.reject")
    assert entry["actor"] == "suzuki" and entry["details"]["requested_by"] == "official"
    late = world.call("suzuki", "POST", f"/v1/approvals/{req['id']}/approve")
    assert late.status_code == 409
    assert _states(world, ids) == {"active"}
    # The requester may withdraw a request of their own.
    _, mine = _request_medium_destroy(world, "usb-withdraw")
    withdrawn = world.call(
        "official", "POST", f"/v1/approvals/{mine['id']}/reject", json={"reason": "typo"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["approval"]["state"] == "rejected"


def test_expiry(world: World, clock: FakeClock) -> None:
    ids, req = _request_medium_destroy(world, "usb-expire")
    _principal(world, "suzuki", ["official"])
    clock.advance(hours=24)  # approval_ttl: 24 h by default
    shown = world.call("official", "GET", f"/v1/approvals/{req['id']}").json()
    assert shown["state"] == "expired"
    assert (
        world.call("auditor", "GET", "/v1/approvals", params={"state": "pending"}).json()[
            "approvals"
        ]
        == []
    )
    resp = world.call("suzuki", "POST", f"/v1/approvals/{req['id']}/approve")
    assert resp.status_code == 409 and "expired" in resp.json()["detail"]
    assert _states(world, ids) == {"active"}


def test_changed_targets_are_not_destroyed(world: World) -> None:
    ids, req = _request_medium_destroy(world, "usb-changed")
    later, _ = activate(world, medium="usb-changed", label="sealed after the request")
    _principal(world, "suzuki", ["official"])
    resp = world.call("suzuki", "POST", f"/v1/approvals/{req['id']}/approve")
    assert resp.status_code == 409, resp.text
    assert "3 would be destroyed" in resp.json()["detail"]
    assert _states(world, [*ids, later["container_id"]]) == {"active"}
    assert world.call("official", "GET", f"/v1/approvals/{req['id']}").json()["state"] == "pending"


def test_loss_report_now_and_issuer_destroy_are_gated(world: World) -> None:
    reg, _ = activate(world, medium="usb-now")
    resp = world.call(
        "official", "POST", "/v1/media/usb-now/loss-report", json={**DESTROY, "now": True}
    )
    assert resp.status_code == 202, resp.text
    req = resp.json()["approval"]
    assert req["action"] == "loss-report" and req["affects"]["count"] == 1
    # What one official may do alone is done at once: the loss is recorded and the
    # container suspended, with the default waiting period; only the early destroy waits.
    loss = resp.json()["loss_report"]
    assert loss["suspended"] == 1 and loss["destroy_after"] is not None
    assert _states(world, [reg["container_id"]]) == {"suspended"}
    medium = world.call("official", "GET", "/v1/media/usb-now").json()
    assert medium["loss_reported_at"] is not None
    _principal(world, "suzuki", ["official"])
    done = world.call("suzuki", "POST", f"/v1/approvals/{req['id']}/approve")
    assert done.status_code == 200, done.text
    assert done.json()["result"]["affected"] == 1
    assert _states(world, [reg["container_id"]]) == {"destroyed"}
    # A waiting period shorter than short_waiting_period (24 h) is an early destroy too.
    short, _ = activate(world, medium="usb-short")
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-short/loss-report",
        json={**DESTROY, "waiting_period_seconds": 0},
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["approval"]["params"]["waiting_period_seconds"] == 0
    status = world.call("official", "GET", f"/v1/containers/{short['container_id']}").json()
    assert status["state"] == "suspended"
    assert status["destroy_after"] > status["suspended_at"]  # the default, not zero

    other, _ = activate(world, medium="usb-issuer")
    resp = world.call("official", "POST", "/v1/issuers/writer/destroy", json=DESTROY)
    assert resp.status_code == 202 and resp.json()["approval"]["rule"] == "destroy-issuer"
    assert _states(world, [other["container_id"]]) == {"active"}
    # Suspending and a loss report with a waiting period stay one official's decision.
    resp = world.call("official", "POST", "/v1/media/usb-issuer/suspend", json=DESTROY)
    assert resp.status_code == 200 and resp.json()["affected"] == 1
    # One container's destroy is not gated by default.
    resp = world.call(
        "official", "POST", f"/v1/containers/{other['container_id']}/destroy", json=DESTROY
    )
    assert resp.status_code == 200 and resp.json()["affected"] == 1


def test_privileged_tokens_and_single_destroys_when_configured(
    settings: Any,
) -> None:
    """approval_required chooses the actions; the gate is in the service (console too)."""
    gated = settings.replace(approval_required="destroy-container,privileged-token")
    service = KeyService(gated)
    try:
        root = Actor(name="bootstrap", roles=ROLES, local=True)
        tokens = {
            name: service.add_principal(root, name, roles)["token"]
            for name, roles in (
                ("sato", ["admin"]),
                ("ito", ["admin"]),
                ("kato", ["official"]),
                ("writer", ["writer"]),
                ("reader", ["reader"]),
            )
        }
        sato, ito = service.authenticate(tokens["sato"]), service.authenticate(tokens["ito"])
        # A token for an official: a request; the second admin approves and gets the token.
        asked = service.issue_token(sato, "kato")
        assert asked["approval_required"] is True
        assert asked["approval"]["affects"] == {
            "principal": "kato",
            "roles": ["official"],
            "exists": True,
        }
        assert "token" not in asked
        with pytest.raises(NotAllowedError, match="second, different admin"):
            service.approve(sato, asked["approval"]["id"])
        done = service.approve(ito, asked["approval"]["id"])
        assert service.authenticate(done["result"]["token"]).name == "kato"
        # A reader's token needs nobody else.
        assert "token" in service.issue_token(sato, "reader")
        # A new admin: a request; approved, the principal exists with its token.
        new_admin = service.add_principal(sato, "watanabe", ["admin"])
        assert new_admin["approval_required"] is True
        made = service.approve(ito, new_admin["approval"]["id"])
        assert service.authenticate(made["result"]["token"]).roles == frozenset({"admin"})
        # One container's destroy, configured: a request.
        writer = service.authenticate(tokens["writer"])
        reg = service.register(
            writer, label="one", medium=None, readers=["reader"], reader_groups=[]
        )
        kato = service.authenticate(done["result"]["token"])
        asked = service.change_state(kato, "destroy", "container", reg["container_id"], "gone")
        assert asked["approval_required"] is True
        assert service.status(kato, reg["container_id"])["state"] == "pending"
        # A local operator is not bound (it holds the database and the master key).
        direct = service.change_state(root, "destroy", "container", reg["container_id"], "gone")
        assert direct["affected"] == 1
    finally:
        service.close()


def test_an_unknown_scope_is_refused_alike_gated_or_not(settings: Any) -> None:
    """The gate and the operation read one list of scopes (lifecycle.SCOPES).

    A destroy under every destroy rule passes the gate first: a scope the gate did not
    know would reach ``destroy_rule`` and fail there instead of being refused (400).
    """
    gated = settings.replace(approval_required="destroy-container,destroy-medium,destroy-issuer")
    service = KeyService(gated)
    try:
        root = Actor(name="bootstrap", roles=ROLES, local=True)
        kato = service.authenticate(service.add_principal(root, "kato", ["official"])["token"])
        for op in ("destroy", "suspend"):
            with pytest.raises(
                InvalidRequestError, match="scope must be container, medium or issuer"
            ):
                service.change_state(kato, op, "shelf", "usb-1", "gone")
        assert service.list_approvals(kato)["approvals"] == []
    finally:
        service.close()


def test_malformed_requests_are_4xx(world: World, subtests: pytest.Subtests) -> None:
    cases = [
        ("POST", "/v1/approvals/abc/approve", None, 400),
        ("POST", "/v1/approvals/0/approve", None, 400),
        ("POST", "/v1/approvals/-3/approve", None, 400),
        ("POST", f"/v1/approvals/{2**64}/approve", None, 400),
        ("POST", f"/v1/approvals/{2**62}/approve", None, 404),
        ("GET", "/v1/approvals/99", None, 404),
        ("GET", "/v1/approvals", {"state": "maybe"}, 400),
        ("GET", "/v1/approvals", {"limit": 0}, 400),
        ("GET", "/v1/approvals", {"after": 2**70}, 400),
        ("POST", "/v1/approvals/1/reject", {}, 400),
        ("POST", "/v1/approvals/1/reject", {"reason": "x", "extra": 1}, 400),
        ("POST", "/v1/approvals/1/reject", {"reason": 5}, 400),
        ("POST", "/v1/approvals/1/reject", {"reason": ""}, 400),
    ]
    for method, path, payload, status in cases:
        with subtests.test(msg=f"{method} {path} {payload}"):
            kw: dict[str, Any] = {}
            if method == "GET" and payload is not None:
                kw["params"] = payload
            elif payload is not None:
                kw["json"] = payload
            resp = world.call("official", method, path, **kw)
            assert resp.status_code == status, resp.text
            assert resp.headers["content-type"].startswith("application/problem+json")
