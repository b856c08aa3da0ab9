"""spec §operations: every /v1 response carries Cache-Control: no-store."""

from __future__ import annotations

import httpx

from tests.support.world import World, activate, blinded_b64, oprf


def _no_store(resp: httpx.Response) -> None:
    assert resp.headers.get_list("cache-control") == ["no-store"], (
        resp.request.url,
        resp.status_code,
        resp.headers,
    )


def test_every_v1_response_is_no_store(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    # Evaluations (a key release) and the challenge that comes with them.
    doc = oprf(world, "reader", cid, reg["public_key"])
    assert doc["challenge"] is not None
    evaluate = f"/v1/containers/{cid}/evaluate"
    body = {"blinded_element": blinded_b64()}
    responses = [
        world.call("reader", "POST", evaluate, json=body),
        # A fresh token in the body.
        world.call("admin", "POST", "/v1/principals", json={"name": "n1", "roles": ["reader"]}),
        world.call("admin", "POST", "/v1/principals/n1/tokens", json={}),
        world.call("reader", "GET", "/v1/whoami"),
        world.call("auditor", "GET", "/v1/audit/export"),
        # Problems: unauthenticated, not-allowed, validation, unknown route, body guard.
        world.call(None, "POST", evaluate, json=body),
        world.call("outsider", "POST", evaluate, json=body),
        world.call("reader", "POST", evaluate, json={"blinded_element": 5}),
        world.call("reader", "GET", "/v1/no-such-thing"),
        world.call("reader", "POST", evaluate, content=b"x" * 2_000_000),
        world.call("reader", "POST", evaluate, content=b"{}", headers={"content-type": "text/a"}),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 201, 201, 200, 200, 401, 403, 400, 404, 413, 415]
    for resp in responses:
        _no_store(resp)


def test_outside_v1_is_left_alone(world: World) -> None:
    # Health and the OpenAPI document hold nothing secret; proxies may cache them.
    for path in ("/healthz", "/openapi.json"):
        resp = world.call(None, "GET", path)
        assert resp.status_code == 200
        assert "cache-control" not in resp.headers
