"""spec §evaluate: the committed header digest is checked before anything counts.

On both databases (the ``world`` fixture), through the HTTP fast path and its batch: a
request naming another header is refused with ``header-mismatch``, audited, and leaves
``unconfirmed`` and the challenges alone; the committed digest is released as before.
"""

from __future__ import annotations

import os
from typing import Any

from tests.support.world import World, b64, blinded_b64, oprf, register


def _commit(w: World, digest: bytes) -> str:
    reg = register(w)
    cid = str(reg["container_id"])
    oprf(w, "writer", cid, reg["public_key"])
    resp = w.call(
        "writer",
        "POST",
        f"/v1/containers/{cid}/commit",
        json={"header_digest": b64(digest), "receipt_key": b64(os.urandom(32))},
    )
    assert resp.status_code == 200, resp.text
    return cid


def _evaluate(w: World, cid: str, digest: str | None) -> tuple[int, dict[str, Any]]:
    body = {"blinded_element": blinded_b64()}
    if digest is not None:
        body["header_digest"] = digest
    resp = w.call("reader", "POST", f"/v1/containers/{cid}/evaluate", json=body)
    return resp.status_code, dict(resp.json())


def _unconfirmed(w: World, cid: str) -> int:
    resp = w.call("official", "GET", f"/v1/containers/{cid}")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["unconfirmed"])


def test_other_header_is_refused_before_counting(world: World) -> None:
    digest = os.urandom(32)
    cid = _commit(world, digest)
    for _ in range(3):
        code, doc = _evaluate(world, cid, b64(bytes(x ^ 1 for x in digest)))
        assert code == 409, doc
        assert doc["type"] == "urn:rwc:problem:header-mismatch"
        assert doc["contact"]
    assert _unconfirmed(world, cid) == 0
    audit = world.call("official", "GET", "/v1/audit", params={"container": cid}).json()
    refused = [
        e for e in audit["entries"] if e["action"] == "evaluate" and e["outcome"] == "refused"
    ]
    assert [e["details"]["reason"] for e in refused] == ["header-mismatch"] * 3
    # The committed header is released and counted as before; so is a request without one.
    code, doc = _evaluate(world, cid, b64(digest))
    assert code == 200, doc
    assert doc["challenge"] is not None
    code, doc = _evaluate(world, cid, None)
    assert code == 200, doc
    assert _unconfirmed(world, cid) == 2


def test_malformed_digest_is_an_invalid_request(world: World) -> None:
    cid = _commit(world, os.urandom(32))
    for bad in ("", "AAAA", b64(os.urandom(31)), "!" * 43):
        code, doc = _evaluate(world, cid, bad)
        assert code == 400, doc
        assert doc["type"] == "urn:rwc:problem:invalid-request"
    assert _unconfirmed(world, cid) == 0
