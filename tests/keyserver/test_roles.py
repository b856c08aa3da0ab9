"""Every route x every role, over a real socket: who gets past the role gate.

"Gets in" means the response is neither 401 nor 403; everyone else gets 403 forbidden
(authenticated) or 401 unauthenticated (no token). The table must cover every route of
the app, so a new route without a row fails this test.
"""

from __future__ import annotations

import re
from typing import Any

from ks_helpers import World, activate, b64, blinded_b64, register

from keyserver.app import create_app

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
    ("GET", "/healthz", None, None, set(ROLES)),
    ("GET", "/readyz", None, None, set(ROLES)),
    ("GET", "/metrics", None, None, set(ROLES)),
]


def test_table_covers_every_route(world: World) -> None:
    app = create_app(world.settings)
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert routes == {(m, t) for m, t, *_ in TABLE}


def test_route_by_role(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    seen = []
    for method, template, concrete, body, allowed in TABLE:
        path = (concrete or template).replace("{C}", cid)
        for role in ROLES:
            payload = body
            if body == "REGISTER":
                payload = {"label": "l", "medium": "m-roles", "readers": ["reader"]}
            elif body == "BLINDED":
                payload = {"blinded_element": blinded_b64()}
            kw = {} if payload is None else {"json": payload}
            resp = world.call(role, method, path, **kw)
            got_in = resp.status_code not in (401, 403)
            seen.append((method, path, role, resp.status_code))
            assert got_in == (role in allowed), (method, path, role, resp.status_code, resp.text)
            assert resp.status_code < 500, (method, path, role, resp.text)
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
