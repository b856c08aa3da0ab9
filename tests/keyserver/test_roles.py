"""Every route x every role, over a real socket: who gets past the role gate.

"Gets in" means the response is neither 401 nor 403; everyone else gets 403 forbidden
(authenticated) or 401 unauthenticated (no token). The table must cover every route of
the app, so a new route without a row fails this test.

Every 403 forbidden is audited (spec §audit): exactly one entry per refused request, under
the action the route records (AUDITED), with the container the route names and the
medium, issuer or token it names.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from keyserver._domain.lifecycle import ROLES as ALL_ROLES
from keyserver._domain.lifecycle import Actor
from keyserver._http.app import create_app
from keyserver._service import KeyService
from tests.support.world import World, activate, b64, blinded_b64, register

ROLES = ["admin", "writer", "reader", "official", "auditor", None]
NOBODY = "AAAAAAAAAAAAAAAAAAAAAA"  # a well-formed container id that does not exist
CHANGE = {"reason": "role test", "public_reason": None}

# (method, route template, concrete path or None, body, roles that get in)
TABLE: list[tuple[str, str, str | None, Any, set[str | None]]] = [
    ("POST", "/v1/containers", None, "REGISTER", {"writer"}),
    ("GET", "/v1/containers", None, None, {"official", "auditor"}),
    (
        "GET",
        "/v1/containers/{container_id}",
        "/v1/containers/{C}",
        None,
        {"official", "auditor", "writer"},
    ),
    (
        "POST",
        "/v1/containers/{container_id}/evaluate",
        "/v1/containers/{C}/evaluate",
        "BLINDED",
        {"reader"},
    ),
    (
        "GET",
        "/v1/containers/{container_id}/access",
        "/v1/containers/{C}/access",
        None,
        {"reader"},
    ),
    (
        "POST",
        "/v1/containers/{container_id}/commit",
        f"/v1/containers/{NOBODY}/commit",
        {"header_digest": b64(b"\1" * 32), "receipt_key": b64(b"\2" * 32)},
        {"writer"},
    ),
    (
        "POST",
        "/v1/containers/{container_id}/receipt",
        f"/v1/containers/{NOBODY}/receipt",
        {"challenge": b64(b"\3" * 32), "mac": b64(b"\4" * 32)},
        {"writer", "reader"},
    ),
    (
        "POST",
        "/v1/containers/{container_id}/{op}",
        f"/v1/containers/{NOBODY}/suspend",
        CHANGE,
        {"official"},
    ),
    (
        "POST",
        "/v1/containers/{container_id}/reset-budget",
        f"/v1/containers/{NOBODY}/reset-budget",
        {"reason": "role test"},
        {"official"},
    ),
    (
        "POST",
        "/v1/media/{medium}/loss-report",
        "/v1/media/nothing-here/loss-report",
        {"reason": "role test"},
        {"official"},
    ),
    (
        "GET",
        "/v1/media/{medium}/report",
        "/v1/media/usb-0001/report",
        None,
        {"official", "auditor"},
    ),
    ("POST", "/v1/media/{medium}/{op}", "/v1/media/nothing-here/destroy", CHANGE, {"official"}),
    ("GET", "/v1/media", None, None, {"official", "auditor"}),
    ("GET", "/v1/media/{medium}", "/v1/media/usb-0001", None, {"official", "auditor"}),
    ("POST", "/v1/issuers/{principal}/{op}", "/v1/issuers/nobody/restore", CHANGE, {"official"}),
    ("GET", "/v1/audit", None, None, {"official", "auditor"}),
    ("GET", "/v1/audit/export", None, None, {"official", "auditor"}),
    ("GET", "/v1/audit/verify", None, None, {"official", "auditor"}),
    ("POST", "/v1/principals", None, {"name": "newbie", "roles": ["reader"]}, {"admin"}),
    ("GET", "/v1/principals", None, None, {"admin"}),
    ("POST", "/v1/principals/{name}/tokens", "/v1/principals/reader/tokens", {}, {"admin"}),
    ("GET", "/v1/tokens", None, None, {"admin"}),
    (
        "POST",
        "/v1/tokens/{token_id}/revoke",
        "/v1/tokens/tk_AAAAAAAAAAAAAAAA/revoke",
        None,
        {"admin"},
    ),
    ("GET", "/v1/whoami", None, None, {"admin", "writer", "reader", "official", "auditor"}),
    # spec §transparency (this world has no log key: the permitted get a 404).
    ("GET", "/.well-known/rwc-log-key", None, None, set(ROLES)),
    ("GET", "/v1/tlog", None, None, set(ROLES)),
    ("GET", "/v1/tlog/checkpoint", None, None, set(ROLES)),
    ("POST", "/v1/tlog/checkpoint", None, None, {"official", "auditor"}),
    ("GET", "/v1/tlog/checkpoints/{size}", "/v1/tlog/checkpoints/1", None, set(ROLES)),
    (
        "GET",
        "/v1/tlog/proof/consistency",
        "/v1/tlog/proof/consistency?old=1&new=2",
        None,
        set(ROLES),
    ),
    (
        "GET",
        "/v1/tlog/proof/inclusion",
        "/v1/tlog/proof/inclusion?seq=1",
        None,
        set(ROLES) - {None},
    ),
    ("POST", "/v1/tlog/cosignatures", None, {"checkpoint": "x"}, set(ROLES)),
    (
        "GET",
        "/v1/media/{medium}/report/signed",
        "/v1/media/usb-0001/report/signed",
        None,
        {"official", "auditor"},
    ),
    (
        "GET",
        "/v1/media/{medium}/destruction-certificate",
        "/v1/media/usb-0001/destruction-certificate",
        None,
        {"official", "auditor"},
    ),
    # spec §approvals: readers of requests, and the two roles that decide them.
    ("GET", "/v1/approvals", None, None, {"official", "admin", "auditor"}),
    (
        "GET",
        "/v1/approvals/{approval_id}",
        "/v1/approvals/999",
        None,
        {"official", "admin", "auditor"},
    ),
    (
        "POST",
        "/v1/approvals/{approval_id}/approve",
        "/v1/approvals/999/approve",
        None,
        {"official", "admin"},
    ),
    (
        "POST",
        "/v1/approvals/{approval_id}/reject",
        "/v1/approvals/999/reject",
        {"reason": "role test"},
        {"official", "admin"},
    ),
    ("GET", "/healthz", None, None, set(ROLES)),
    ("GET", "/readyz", None, None, set(ROLES)),
    ("GET", "/metrics", None, None, set(ROLES)),
]


# (method, route template) -> (audit action of a role refusal, the container it names:
# "C" the activated container, NOBODY, or None; what else the refusal's details record of
# the request, under the keys the operation's own entry uses). Routes anyone may call
# have no row.
AUDITED: dict[tuple[str, str], tuple[str, str | None, dict[str, Any]]] = {
    ("POST", "/v1/containers"): ("register", None, {}),
    ("GET", "/v1/containers"): ("search", None, {}),
    ("GET", "/v1/containers/{container_id}"): ("status", "C", {}),
    ("POST", "/v1/containers/{container_id}/evaluate"): ("evaluate", "C", {}),
    ("GET", "/v1/containers/{container_id}/access"): ("access", "C", {}),
    ("POST", "/v1/containers/{container_id}/commit"): ("commit", NOBODY, {}),
    ("POST", "/v1/containers/{container_id}/receipt"): ("receipt", NOBODY, {}),
    ("POST", "/v1/containers/{container_id}/{op}"): (
        "suspend",
        NOBODY,
        {"scope": "container", "target": NOBODY},
    ),
    ("POST", "/v1/containers/{container_id}/reset-budget"): ("budget.reset", NOBODY, {}),
    ("POST", "/v1/media/{medium}/loss-report"): (
        "suspend",
        None,
        {"scope": "medium", "target": "nothing-here"},
    ),
    ("GET", "/v1/media/{medium}/report"): ("medium.report", None, {"medium": "usb-0001"}),
    ("POST", "/v1/media/{medium}/{op}"): (
        "destroy",
        None,
        {"scope": "medium", "target": "nothing-here"},
    ),
    ("POST", "/v1/issuers/{principal}/{op}"): (
        "restore",
        None,
        {"scope": "issuer", "target": "nobody"},
    ),
    ("GET", "/v1/media"): ("media.list", None, {}),
    ("GET", "/v1/media/{medium}"): ("media.list", None, {"medium": "usb-0001"}),
    ("GET", "/v1/audit"): ("audit.list", None, {}),
    ("GET", "/v1/audit/export"): ("audit.export", None, {}),
    ("GET", "/v1/audit/verify"): ("audit.verify", None, {}),
    ("POST", "/v1/principals"): ("principal.add", None, {"name": "newbie"}),
    ("GET", "/v1/principals"): ("principal.list", None, {}),
    ("POST", "/v1/principals/{name}/tokens"): ("token.issue", None, {"name": "reader"}),
    ("GET", "/v1/tokens"): ("token.list", None, {}),
    ("POST", "/v1/tlog/checkpoint"): ("tlog.checkpoint", None, {}),
    ("GET", "/v1/media/{medium}/report/signed"): ("medium.report", None, {"medium": "usb-0001"}),
    ("GET", "/v1/media/{medium}/destruction-certificate"): (
        "medium.certificate",
        None,
        {"medium": "usb-0001"},
    ),
    ("POST", "/v1/tokens/{token_id}/revoke"): (
        "token.revoke",
        None,
        {"token_id": "tk_AAAAAAAAAAAAAAAA"},
    ),
    ("GET", "/v1/approvals"): ("approval.list", None, {}),
    ("GET", "/v1/approvals/{approval_id}"): ("approval.list", None, {"approval": 999}),
    ("POST", "/v1/approvals/{approval_id}/approve"): ("approval.approve", None, {"approval": 999}),
    ("POST", "/v1/approvals/{approval_id}/reject"): ("approval.reject", None, {"approval": 999}),
}


def test_table_covers_every_route(world: World) -> None:
    app = create_app(world.settings)
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert routes == {(m, t) for m, t, *_ in TABLE}
    # Every route some authenticated role is refused on says how the refusal is audited.
    refusing = {(m, t) for m, t, _, _, allowed in TABLE if set(ROLES) - {None} - allowed}
    assert refusing == set(AUDITED)


def _new_entries(service: KeyService, after: int) -> list[dict[str, Any]]:
    operator = Actor(name="test", roles=ALL_ROLES, local=True)
    return list(service.audit_list(operator, after_seq=after, limit=100)["entries"])


@pytest.mark.own_server  # reads /metrics, which a server keeps in memory
def test_route_by_role(world: World, subtests: pytest.Subtests) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    service = KeyService(world.settings)
    try:
        _route_by_role(world, service, cid, subtests)
    finally:
        service.close()


def _route_by_role(world: World, service: KeyService, cid: str, subtests: pytest.Subtests) -> None:
    head = service.audit_verify(Actor(name="test", roles=ALL_ROLES, local=True))["head_seq"]
    seen = []
    for method, template, concrete, body, allowed in TABLE:
        path = (concrete or template).replace("{C}", cid)
        for role in ROLES:
            with subtests.test(msg=f"{method} {path}", role=role):
                payload = body
                if body == "REGISTER":
                    payload = {"label": "l", "medium": "m-roles", "readers": ["reader"]}
                elif body == "BLINDED":
                    payload = {"blinded_element": blinded_b64()}
                kw = {} if payload is None else {"json": payload}
                resp = world.call(role, method, path, **kw)
                got_in = role in allowed
                seen.append((method, path, role, resp.status_code))
                if got_in:  # past the gate: what the route answers is another test's matter
                    assert resp.status_code not in (401, 403), (method, path, role, resp.text)
                else:  # no token: 401; a token without the role: 403
                    refused = 401 if role is None else 403
                    assert resp.status_code == refused, (method, path, role, resp.text)
                assert resp.status_code < 500, (method, path, role, resp.text)
                new = _new_entries(service, head)
                head = new[-1]["seq"] if new else head
                where = (method, path, role, new)
                if role is not None and not got_in:
                    # The one refusal, audited before the 403 was answered.
                    action, container, target = AUDITED[(method, template)]
                    assert len(new) == 1, where
                    [entry] = new
                    assert entry["actor"] == role and entry["action"] == action, where
                    assert entry["outcome"] == "refused", where
                    assert entry["details"]["reason"] == "forbidden", where
                    # The medium, issuer or token asked about, so the refusal is found with
                    # that medium's other entries; nothing else of the request.
                    assert entry["details"] == {
                        "reason": "forbidden",
                        "detail": entry["details"]["detail"],
                        **target,
                    }, where
                    assert entry["container"] == (cid if container == "C" else container), where
                    assert entry["remote"] == "127.0.0.1", where
                elif role is None:
                    # A 401 is audited on evaluate only (spec §evaluate), as unauthenticated.
                    assert len(new) == int(template.endswith("/evaluate")), where
                    assert all(e["details"]["reason"] == "unauthenticated" for e in new), where
                else:
                    # A permitted call adds no refusal.
                    assert all(e["outcome"] == "ok" for e in new), where
                if not got_in:
                    doc = resp.json()
                    assert resp.headers["content-type"].startswith("application/problem+json")
                    expected = "unauthenticated" if role is None else "forbidden"
                    assert doc["type"] == f"urn:rwc:problem:{expected}"
                    assert doc["contact"] == "privacy@city.example"
    assert len(seen) == len(TABLE) * len(ROLES)
    # The policy gate inside the reader role: a reader not on the policy is refused.
    resp = world.call(
        "outsider",
        "POST",
        f"/v1/containers/{cid}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    assert resp.status_code == 403
    assert resp.json()["type"] == "urn:rwc:problem:not-allowed"
    # Another writer (not the issuer) may not see the status of this container.
    other = register(world)  # same writer: allowed
    assert world.call("writer", "GET", f"/v1/containers/{other['container_id']}").status_code == 200
    metrics = world.call(None, "GET", "/metrics").text
    assert not re.search(r"rwc_internal_errors_total \d", metrics)
    assert 'rwc_refusals_total{action="token.list",reason="forbidden"} 4' in metrics
    # The refusals are links of the keyed chain like every other entry.
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True


def test_a_refusal_records_only_well_formed_targets(world: World) -> None:
    # A value that would not pass validation never reaches the audit log, even when the
    # role gate refuses before validation runs.
    bad_medium = "m" * 300  # longer than any medium name may be
    resp = world.call("reader", "POST", f"/v1/media/{bad_medium}/suspend", json=CHANGE)
    assert resp.status_code == 403
    resp = world.call("reader", "POST", "/v1/tokens/not-a-token-id/revoke")
    assert resp.status_code == 403
    entries = world.call("auditor", "GET", "/v1/audit", params={"actor_name": "reader"}).json()
    refused = [e["details"] for e in entries["entries"] if e["outcome"] == "refused"]
    assert [d.get("scope") for d in refused] == ["medium", None]
    assert all("target" not in d and "token_id" not in d for d in refused)
