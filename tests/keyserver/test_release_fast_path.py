"""The key-release fast path answers exactly like the FastAPI route (spec §evaluate).

keyserver/_http/release.py serves ``POST /v1/containers/{id}/evaluate`` ahead of FastAPI's
router. Here one server runs the normal app (fast path on) and a second one, over the
same database, the same app with ``ReleaseFastPath`` removed (FastAPI's route answers);
both are driven over real HTTP and every observable part of the answers is compared:
status, content type, problem document, ``Cache-Control: no-store`` (§conventions) and
``WWW-Authenticate`` (§auth). The order of spec §evaluate holds both ways: authentication
first (its refusal audited even when the body is malformed too), then the request's form
(not audited).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from voprf import ristretto as r

from keyserver._domain.settings import Settings
from keyserver._http.app import create_app
from keyserver._http.release import ReleaseFastPath
from keyserver.testing import running_server
from tests.support import http_client
from tests.support.world import World, activate, b64, blinded_b64, unb64

BIG = 64 * 1024  # Settings.max_body_bytes default


def _routed_app(settings: Settings) -> Any:
    """The normal app without the fast path: FastAPI's route answers every evaluate."""
    app = create_app(settings)
    before = len(app.user_middleware)
    # The middleware stack is built on the first request: removing it now is enough.
    # m.cls is typed as a middleware-factory protocol: compare it as a plain object.
    app.user_middleware = [
        m for m in app.user_middleware if cast(object, m.cls) is not ReleaseFastPath
    ]
    assert len(app.user_middleware) == before - 1
    assert app.middleware_stack is None
    return app


@pytest.fixture
def routed(world: World) -> Iterator[str]:
    """Base URL of the second server (no fast path) over the world's database."""
    with running_server(world.settings, app=_routed_app(world.settings)) as url:
        yield url


def _both(
    world: World, routed: str, who: str | None, method: str, path: str, **kw: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The same request to the fast-path server, then to the routed one."""
    fast = world.call(who, method, path, **kw)
    headers = dict(world.client(who).headers)
    headers.update(kw.pop("headers", {}))
    with http_client.client(base_url=routed, timeout=30) as client:
        slow = client.request(method, path, headers=headers, **kw)
    return fast, slow


def _same_answer(fast: httpx.Response, slow: httpx.Response, status: int, slug: str) -> None:
    for resp in (fast, slow):
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == f"urn:rwc:problem:{slug}"
        assert "Traceback" not in resp.text
    assert fast.headers.get("cache-control") == slow.headers.get("cache-control")
    assert fast.headers["content-type"] == slow.headers["content-type"]
    assert fast.headers.get("www-authenticate") == slow.headers.get("www-authenticate")
    assert ("www-authenticate" in fast.headers) == (status == 401)
    assert fast.json() == slow.json()


def _blinded(cid: str) -> tuple[Any, str]:
    client, blinded = r.Client.blind(b"rwc/v1 oprf input" + unb64(cid) + b"pw")
    return client, b64(blinded.serialize())


def _verify(resp: httpx.Response, client: Any, public_key: str) -> bytes:
    doc = resp.json()
    out = r.VerifiableOutput.deserialize(unb64(doc["proof"]) + unb64(doc["evaluated_element"]))
    return bytes(client.finalize(out, r.PublicKey.deserialize(unb64(public_key))))


def _head(world: World) -> int:
    doc = world.call("auditor", "GET", "/v1/audit/verify").json()
    assert doc["ok"] is True
    return int(doc["head_seq"])


def _last_evaluate(world: World) -> dict[str, Any]:
    entries = world.call("auditor", "GET", "/v1/audit", params={"action": "evaluate"}).json()
    return dict(entries["entries"][-1])


def test_success_has_the_same_shape_and_both_verify(world: World, routed: str) -> None:
    reg, _ = activate(world)
    cid, ev = reg["container_id"], f"/v1/containers/{reg['container_id']}/evaluate"
    (c1, e1), (c2, e2) = _blinded(cid), _blinded(cid)
    fast = world.call("reader", "POST", ev, json={"blinded_element": e1})
    with http_client.client(
        base_url=routed, headers=dict(world.client("reader").headers)
    ) as client:
        slow = client.post(ev, json={"blinded_element": e2})
    for resp in (fast, slow):
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/json"
        assert resp.headers.get("cache-control") == "no-store"
        assert "www-authenticate" not in resp.headers
        doc = resp.json()
        assert sorted(doc) == [
            "attempts_limit",
            "attempts_remaining",
            "challenge",
            "challenge_expires_at",
            "evaluated_element",
            "password_required",
            "proof",
        ]
        assert len(unb64(doc["evaluated_element"])) == 32 and len(unb64(doc["proof"])) == 64
        assert len(unb64(doc["challenge"])) == 32
    assert fast.json()["challenge_expires_at"] == slow.json()["challenge_expires_at"]
    # Different blinds, one key: both finalize to the same OPRF output.
    assert _verify(fast, c1, reg["public_key"]) == _verify(slow, c2, reg["public_key"])
    status = world.call("writer", "GET", f"/v1/containers/{cid}").json()
    assert status["unconfirmed"] == 2


def test_failures_answer_alike(world: World, routed: str, subtests: pytest.Subtests) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    ev = f"/v1/containers/{cid}/evaluate"
    unknown = f"/v1/containers/{b64(bytes(16))}/evaluate"
    good = {"blinded_element": blinded_b64()}
    json_ct = {"content-type": "application/json"}
    cases: list[tuple[str | None, str, str, dict[str, Any], int, str]] = [
        # (who, method, path, httpx kwargs, status, slug)
        (None, "POST", ev, {"json": good}, 401, "unauthenticated"),
        (
            None,
            "POST",
            ev,
            {"json": good, "headers": {"Authorization": "Bearer rwc_" + "A" * 43}},
            401,
            "unauthenticated",
        ),
        (
            None,
            "POST",
            ev,
            {"json": good, "headers": {"Authorization": "Bearer nonsense"}},
            401,
            "unauthenticated",
        ),
        ("auditor", "POST", ev, {"json": good}, 403, "forbidden"),
        ("outsider", "POST", ev, {"json": good}, 403, "not-allowed"),
        ("reader", "POST", unknown, {"json": good}, 404, "not-found"),
        (
            "reader",
            "POST",
            "/v1/containers/not-an-id/evaluate",
            {"json": good},
            400,
            "invalid-request",
        ),
        (
            "reader",
            "POST",
            ev,
            {"content": b"{not json", "headers": json_ct},
            400,
            "invalid-request",
        ),
        ("reader", "POST", ev, {"json": {}}, 400, "invalid-request"),
        ("reader", "POST", ev, {"json": [good]}, 400, "invalid-request"),
        ("reader", "POST", ev, {"json": {**good, "extra": 1}}, 400, "invalid-request"),
        ("reader", "POST", ev, {"json": {"blinded_element": 5}}, 400, "invalid-request"),
        ("reader", "POST", ev, {"json": {"blinded_element": "!!"}}, 400, "invalid-request"),
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(bytes(31))}},
            400,
            "invalid-request",
        ),
        # The identity, and a non-canonical encoding: not group elements (spec §evaluate).
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(bytes(32))}},
            400,
            "invalid-request",
        ),
        (
            "reader",
            "POST",
            ev,
            {"json": {"blinded_element": b64(b"\xff" * 32)}},
            400,
            "invalid-request",
        ),
        (
            "reader",
            "POST",
            ev,
            {"content": b'{"blinded_element": "x"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported-media-type",
        ),
        (
            "reader",
            "POST",
            ev,
            {"content": b'{"blinded_element": "' + b"A" * BIG + b'"}', "headers": json_ct},
            413,
            "payload-too-large",
        ),
        # Not the fast path's: another method, a trailing slash, other paths.
        ("reader", "GET", ev, {}, 405, "method-not-allowed"),
        ("reader", "PUT", ev, {"json": good}, 405, "method-not-allowed"),
        # The state-change route /{id}/{op} takes this one (a validation error).
        ("reader", "POST", ev + "x", {"json": good}, 400, "invalid-request"),
        ("reader", "POST", f"/v1/containers/{cid}/x/evaluate", {"json": good}, 404, "not-found"),
        ("reader", "POST", "/v1/containers//evaluate", {"json": good}, 404, "not-found"),
        ("reader", "POST", f"/v2/containers/{cid}/evaluate", {"json": good}, 404, "not-found"),
    ]
    for who, method, path, kw, status, slug in cases:
        with subtests.test(msg=f"{who} {method} {path} {kw}"):
            fast, slow = _both(world, routed, who, method, path, **kw)
            _same_answer(fast, slow, status, slug)
            # spec §conventions: every /v1 answer is no-store (others are left alone).
            no_store = "no-store" if path.startswith("/v1/") else None
            assert fast.headers.get("cache-control") == no_store
    # A trailing slash is FastAPI's redirect either way (the fast path does not take it).
    fast, slow = _both(world, routed, "reader", "POST", ev + "/", json=good)
    assert fast.status_code == slow.status_code == 307
    assert httpx.URL(fast.headers["location"]).path == ev
    assert httpx.URL(slow.headers["location"]).path == ev
    assert fast.headers.get("cache-control") == slow.headers.get("cache-control") == "no-store"
    assert _head(world) > 0  # the refusals appended a verifiable chain


def test_unauthenticated_with_a_bad_body_is_audited_both_ways(
    world: World, routed: str, subtests: pytest.Subtests
) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    ev = f"/v1/containers/{cid}/evaluate"
    bodies: list[dict[str, Any]] = [
        {"json": {"blinded_element": blinded_b64(), "extra": 1}},
        {"json": {"blinded_element": 5}},
        {"json": []},
        {"json": {"blinded_element": "!!"}},
        {"json": {"blinded_element": b64(bytes(32))}},  # the identity
    ]
    for kw in bodies:
        with subtests.test(msg=str(kw)):
            for base in (world.url, routed):
                before = _head(world)
                with http_client.client(base_url=base, timeout=30) as client:
                    resp = client.post(ev, **kw)
                assert resp.status_code == 401, resp.text
                assert resp.json()["type"] == "urn:rwc:problem:unauthenticated"
                assert resp.headers["www-authenticate"] == "Bearer"
                assert _head(world) == before + 1, (base, kw)
                entry = _last_evaluate(world)
                assert entry["actor"] == "(unauthenticated)" and entry["outcome"] == "refused"
                assert entry["details"]["reason"] == "unauthenticated"
                assert entry["container"] == cid and entry["remote"] == "127.0.0.1"
    # A body the body guard refuses (not JSON) is answered before any route or the fast
    # path, on every endpoint, and so before authentication: not audited, either way.
    for base in (world.url, routed):
        before = _head(world)
        with http_client.client(base_url=base, timeout=30) as client:
            resp = client.post(
                ev, content=b"{not json", headers={"content-type": "application/json"}
            )
        assert resp.status_code == 400 and resp.json()["type"] == "urn:rwc:problem:invalid-request"
        assert _head(world) == before


def test_authenticated_malformed_request_is_not_audited_both_ways(
    world: World, routed: str
) -> None:
    reg, _ = activate(world)
    ev = f"/v1/containers/{reg['container_id']}/evaluate"
    for base in (world.url, routed):
        before = _head(world)
        headers = dict(world.client("reader").headers)
        with http_client.client(base_url=base, headers=headers, timeout=30) as client:
            bad_json = client.post(ev, json={"blinded_element": blinded_b64(), "extra": 1})
            identity = client.post(ev, json={"blinded_element": b64(bytes(32))})
            bad_id = client.post(
                "/v1/containers/not-an-id/evaluate", json={"blinded_element": blinded_b64()}
            )
        assert [bad_json.status_code, identity.status_code, bad_id.status_code] == [400] * 3
        # The request's form is checked after authentication and is not audited.
        assert _head(world) == before, base
