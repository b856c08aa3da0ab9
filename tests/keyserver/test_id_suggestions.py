"""A mistyped container or token id (issue 10): not-found, nothing changed, the nearest ids.

Only ids the caller may see are offered: every container for officials and auditors, a
writer's own containers to a writer, nothing to a reader (who is not told which
containers exist); token ids to admins, who list them all anyway.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World, activate, blinded_b64, register


def _typo(cid: str, at: int = 10) -> str:
    """``cid`` with one character changed after the first four (a slip of the pen)."""
    swapped = "B" if cid[at] != "B" else "C"
    return cid[:at] + swapped + cid[at + 1 :]


def _head(world: World) -> int:
    return int(world.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"])


def _not_found(resp: Any) -> list[str]:
    assert resp.status_code == 404, resp.text
    doc = resp.json()
    assert doc["type"] == "urn:rwc:problem:not-found" and doc["detail"] == "no such container"
    return list(doc["suggestions"])


def test_official_gets_the_nearest_container_and_nothing_changes(
    world: World, subtests: pytest.Subtests
) -> None:
    box, _ = activate(world, medium="USB-ID")
    cid = box["container_id"]
    typo = _typo(cid)
    before = _head(world)
    for method, path, body in (
        ("POST", f"/v1/containers/{typo}/suspend", {"reason": "lost"}),
        ("POST", f"/v1/containers/{typo}/destroy", {"reason": "lost"}),
        ("GET", f"/v1/containers/{typo}", None),
    ):
        with subtests.test(msg=f"{method} {path}"):
            assert _not_found(world.call("official", method, path, json=body)) == [cid], path
    assert _not_found(world.call("auditor", "GET", f"/v1/containers/{typo}")) == [cid]
    # Far from every id (the first characters differ too): no suggestion, still not-found.
    other = ("A" if cid[0] != "A" else "B") + cid[1:4] + "A" * 18
    assert _not_found(world.call("official", "GET", f"/v1/containers/{other}")) == []
    assert world.call("official", "GET", f"/v1/containers/{cid}").json()["state"] == "active"
    assert _head(world) == before  # nothing changed, nothing recorded


def test_writers_are_offered_their_own_containers_only(world: World) -> None:
    mine = register(world)["container_id"]
    resp = world.call(
        "admin", "POST", "/v1/principals", json={"name": "writer2", "roles": ["writer"]}
    )
    assert resp.status_code == 201, resp.text
    world.tokens["writer2"] = resp.json()["token"]
    theirs = register(world, who="writer2")["container_id"]
    assert _not_found(world.call("writer", "GET", f"/v1/containers/{_typo(mine)}")) == [mine]
    # Another writer's container exists a character away, and is not named.
    assert _not_found(world.call("writer", "GET", f"/v1/containers/{_typo(theirs)}")) == []
    assert _not_found(world.call("writer2", "GET", f"/v1/containers/{_typo(theirs)}")) == [theirs]


def test_readers_are_never_told_which_containers_exist(world: World) -> None:
    box, _ = activate(world)
    typo = _typo(box["container_id"])
    resp = world.call(
        "reader", "POST", f"/v1/containers/{typo}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert resp.status_code == 404 and "suggestions" not in resp.json(), resp.text
    resp = world.call("reader", "GET", f"/v1/containers/{typo}/access")
    assert resp.status_code == 404 and "suggestions" not in resp.json(), resp.text


def test_mistyped_token_id_gets_the_nearest_token(world: World) -> None:
    tokens = world.call("admin", "GET", "/v1/tokens").json()["tokens"]
    token_id = next(t["token_id"] for t in tokens if t["name"] == "reader")
    typo = _typo(token_id, at=8)
    before = _head(world)
    resp = world.call("admin", "POST", f"/v1/tokens/{typo}/revoke")
    assert resp.status_code == 404, resp.text
    assert resp.json()["detail"] == "no such token"
    assert resp.json()["suggestions"] == [token_id]
    assert _head(world) == before
    # Malformed (a character dropped): the same answer, nothing revoked.
    resp = world.call("admin", "POST", f"/v1/tokens/{token_id[:-1]}/revoke")
    assert resp.status_code == 404 and resp.json()["suggestions"] == [token_id]
    assert world.call("reader", "GET", "/v1/whoami").status_code == 200
