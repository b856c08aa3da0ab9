"""Malformed requests get 4xx problem documents, never 500, and the server keeps serving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import http_client
from tests.support.world import World, activate, b64

BIG = 64 * 1024  # Settings.max_body_bytes default


def _problem(resp: httpx.Response, status: int, slug: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["type"] == f"urn:rwc:problem:{slug}" and doc["status"] == status
    assert "Traceback" not in resp.text


def _chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 4096):
        yield data[i : i + 4096]


@pytest.mark.own_server  # reads /metrics, which a server keeps in memory
def test_malformed_requests(world: World, subtests: pytest.Subtests) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    ev = f"/v1/containers/{cid}/evaluate"
    cases: list[tuple[str | None, str, str, dict[str, Any], int, str]] = [
        # (who, method, path, httpx kwargs, status, slug)
        (
            "writer",
            "POST",
            "/v1/containers",
            {"json": {"label": 5, "medium": "m"}},
            400,
            "invalid-request",
        ),
        ("writer", "POST", "/v1/containers", {"json": {"label": "l"}}, 400, "invalid-request"),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"json": {"label": "l", "medium": "m", "readers": ["reader"], "evil": 1}},
            400,
            "invalid-request",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"json": {"label": "l", "medium": "m", "readers": ["reader"], "attempt_budget": "10"}},
            400,
            "invalid-request",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {
                "json": {
                    "label": "l",
                    "medium": "m",
                    "readers": ["reader"],
                    "attempt_budget": 10**40,
                }
            },
            400,
            "invalid-request",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {
                "content": b'{"label": "\\ud800", "medium": "m", "readers": ["reader"]}',
                "headers": {"content-type": "application/json"},
            },
            400,
            "invalid-request",
        ),
        ("writer", "POST", "/v1/containers", {"json": [1, 2]}, 400, "invalid-request"),
        ("writer", "POST", "/v1/containers", {"json": "string"}, 400, "invalid-request"),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid-request",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"content": b"[" * 50000, "headers": {"content-type": "application/json"}},
            400,
            "invalid-request",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"content": b'{"label": "l"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported-media-type",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"data": {"label": "l"}},
            415,
            "unsupported-media-type",
        ),
        ("writer", "POST", "/v1/containers", {}, 400, "invalid-request"),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"content": b" " * (BIG + 1), "headers": {"content-type": "application/json"}},
            413,
            "payload-too-large",
        ),
        (
            "writer",
            "POST",
            "/v1/containers",
            {"content": _chunks(b" " * (BIG * 2)), "headers": {"content-type": "application/json"}},
            413,
            "payload-too-large",
        ),
        ("reader", "POST", ev, {"json": {"blinded_element": "!!!!"}}, 400, "invalid-request"),
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(b"\1" * 32) + "="}},
            400,
            "invalid-request",
        ),
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(b"\1" * 31)}},
            400,
            "invalid-request",
        ),
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(b"\0" * 32)}},
            400,
            "invalid-request",
        ),  # the identity element
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(b"\xff" * 32)}},
            400,
            "invalid-request",
        ),  # not a canonical encoding
        ("reader", "POST", ev, {"json": {"blinded_element": 12}}, 400, "invalid-request"),
        ("reader", "POST", ev, {"json": {"blinded_element": None}}, 400, "invalid-request"),
        (
            "reader",
            "POST",
            "/v1/containers/AAAAAAAAAAAAAAAAAAAAAA/evaluate",
            {
                "json": {
                    "blinded_element": b64(
                        bytes.fromhex(
                            "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
                        )
                    )
                }
            },
            404,
            "not-found",
        ),
        (
            "reader",
            "POST",
            "/v1/containers/short/evaluate",
            {"json": {"blinded_element": b64(b"\1" * 32)}},
            400,
            "invalid-request",
        ),
        ("official", "GET", "/v1/containers/" + "A" * 21 + "B", {}, 400, "invalid-request"),
        ("official", "GET", "/v1/containers", {"params": {"limit": "abc"}}, 400, "invalid-request"),
        (
            "official",
            "GET",
            "/v1/containers",
            {"params": {"limit": str(10**30)}},
            400,
            "invalid-request",
        ),
        (
            "official",
            "GET",
            "/v1/containers",
            {"params": {"label": "a\x00b"}},
            400,
            "invalid-request",
        ),
        (
            "official",
            "GET",
            "/v1/containers",
            {"params": {"state": "melted"}},
            400,
            "invalid-request",
        ),
        ("auditor", "GET", "/v1/audit", {"params": {"after_seq": "-1"}}, 400, "invalid-request"),
        # Beyond the 64-bit column: an answer, not the driver's OverflowError (a 500).
        (
            "auditor",
            "GET",
            "/v1/audit",
            {"params": {"after_seq": str(2**63)}},
            400,
            "invalid-request",
        ),
        ("auditor", "GET", "/v1/audit", {"params": {"container": "zz"}}, 400, "invalid-request"),
        (
            "auditor",
            "GET",
            "/v1/audit",
            {"params": {"actor_name": "x\x00"}},
            400,
            "invalid-request",
        ),
        (
            "official",
            "POST",
            "/v1/media/%00/suspend",
            {"json": {"reason": "r"}},
            400,
            "invalid-request",
        ),
        ("official", "POST", "/v1/media/m/melt", {"json": {"reason": "r"}}, 400, "invalid-request"),
        (
            "official",
            "POST",
            "/v1/media/m/suspend",
            {"json": {"reason": ""}},
            400,
            "invalid-request",
        ),
        (
            "official",
            "POST",
            "/v1/issuers/ghost/suspend",
            {"json": {"reason": "r"}},
            404,
            "not-found",
        ),
        (
            "official",
            "POST",
            "/v1/media/m/loss-report",
            {"json": {"reason": "r", "waiting_period_seconds": 10**20}},
            400,
            "invalid-request",
        ),
        (
            "official",
            "POST",
            "/v1/media/m/loss-report",
            {"json": {"reason": "r", "now": "yes"}},
            400,
            "invalid-request",
        ),
        (
            "admin",
            "POST",
            "/v1/principals",
            {"json": {"name": "x", "roles": ["god"]}},
            400,
            "invalid-request",
        ),
        (
            "admin",
            "POST",
            "/v1/principals",
            {"json": {"name": "reader", "roles": ["reader"]}},
            409,
            "conflict",
        ),
        ("admin", "POST", "/v1/principals/ghost/tokens", {"json": {}}, 404, "not-found"),
        (
            "admin",
            "POST",
            "/v1/principals/reader/tokens",
            {"json": {"expires_at": "soon"}},
            400,
            "invalid-request",
        ),
        ("admin", "POST", "/v1/tokens/%00/revoke", {}, 404, "not-found"),
        ("admin", "GET", "/v1/nothing", {}, 404, "not-found"),
        ("admin", "DELETE", "/v1/containers", {}, 405, "method-not-allowed"),
        (None, "GET", "/v1/whoami", {}, 401, "unauthenticated"),
        (None, "POST", ev, {"json": {"blinded_element": b64(b"\1" * 32)}}, 401, "unauthenticated"),
    ]
    for who, method, path, kw, status, slug in cases:
        with subtests.test(msg=f"{who} {method} {path} {kw}"):
            resp = world.call(who, method, path, **kw)
            _problem(resp, status, slug)
    # Authentication variants.
    for header in (
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer rwc_short",
        "Bearer rwc_" + "A" * 43,
        "bearer " + "x" * 47,
    ):
        with subtests.test(msg=header):
            resp = http_client.get(world.url + "/v1/whoami", headers={"Authorization": header})
            _problem(resp, 401, "unauthenticated")
            assert resp.headers["www-authenticate"] == "Bearer"
    resp = http_client.get(
        world.url + "/v1/whoami", headers=[(b"Authorization", b"Bearer \xc3\xa9\xff")]
    )
    _problem(resp, 401, "unauthenticated")
    assert resp.headers["www-authenticate"] == "Bearer"
    # A control character (DEL) in a field value is not HTTP (RFC 9110 §5.5): uvicorn's
    # httptools parser refuses the request with a bare 400 before the application runs.
    resp = http_client.get(
        world.url + "/v1/whoami", headers=[(b"Authorization", b"Bearer rwc_\x7f")]
    )
    assert resp.status_code == 400
    # The server is still healthy, nothing reached the last-resort handler, and no input
    # slipped past validation into the database.
    assert world.call(None, "GET", "/healthz").json() == {"status": "ok"}
    assert world.call("reader", "GET", "/v1/whoami").json()["name"] == "reader"
    metrics = world.call(None, "GET", "/metrics").text
    assert not re.search(r"^rwc_internal_errors_total", metrics, re.M)
    assert not re.search(r"^rwc_database_rejected_input_total", metrics, re.M)


def test_revoked_and_expired_tokens(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    resp = world.call(
        "admin",
        "POST",
        "/v1/principals/reader/tokens",
        json={"expires_at": (clock() + __import__("datetime").timedelta(hours=1)).isoformat()},
    )
    assert resp.status_code == 201
    doc = resp.json()
    token, token_id = doc["token"], doc["token_id"]
    assert token.startswith("rwc_") and len(token) == 47
    headers = {"Authorization": f"Bearer {token}"}
    assert http_client.get(world.url + "/v1/whoami", headers=headers).status_code == 200
    listed = world.call("admin", "GET", "/v1/tokens").json()["tokens"]
    assert token_id in {t["token_id"] for t in listed}
    assert token not in world.call("admin", "GET", "/v1/tokens").text  # never shown again
    clock.advance(hours=2)
    _problem(http_client.get(world.url + "/v1/whoami", headers=headers), 401, "unauthenticated")
    # Revocation of the reader's main token works on the next request.
    main = next(t for t in listed if t["name"] == "reader" and t["expires_at"] is None)
    resp = world.call("admin", "POST", f"/v1/tokens/{main['token_id']}/revoke")
    assert resp.status_code == 200 and resp.json()["revoked_at"]
    _problem(world.call("reader", "GET", "/v1/whoami"), 401, "unauthenticated")


@pytest.mark.parametrize("n", [3])
def test_many_bad_requests_then_service(world: World, n: int) -> None:
    """A burst of garbage on one connection does not wedge the server."""
    for _ in range(n):
        for body in (b"\x00" * 100, b"\xff\xfe", b"{}" * 1000, b'{"label": "\\u0000"}'):
            resp = world.call(
                "writer",
                "POST",
                "/v1/containers",
                content=body,
                headers={"content-type": "application/json"},
            )
            assert 400 <= resp.status_code < 500
    reg, _ = activate(world)
    assert reg["container_id"]
