"""spec §endpoints: a container may be registered without a medium (``medium: null``)."""

from __future__ import annotations

import pytest

from tests.support.world import World, activate, blinded_b64, oprf

CHANGE = {"reason": "test"}


def test_register_without_medium(world: World) -> None:
    # Absent and explicit null are the same.
    absent = world.call(
        "writer", "POST", "/v1/containers", json={"label": "no-medium", "readers": ["reader"]}
    )
    assert absent.status_code == 201, absent.text
    status = world.call("official", "GET", f"/v1/containers/{absent.json()['container_id']}")
    assert status.json()["medium"] is None
    reg, _ = activate(world, medium=None)
    cid = reg["container_id"]
    assert oprf(world, "reader", cid, reg["public_key"])["challenge"] is not None
    # The registration is audited with a null medium.
    log = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()
    assert log["entries"][0]["action"] == "register"
    assert log["entries"][0]["details"]["medium"] is None
    # No medium-scoped action or report reaches it; per id and per issuer still do.
    # spec §media: no medium was registered, so naming one is not-found, never "0 affected".
    resp = world.call("official", "POST", "/v1/media/usb-0001/loss-report", json=CHANGE)
    assert resp.status_code == 404 and resp.json()["type"] == "urn:rwc:problem:not-found"
    resp = world.call("official", "GET", "/v1/media/usb-0001/report")
    assert resp.status_code == 404
    found = world.call("official", "GET", "/v1/containers", params={"medium": "usb-0001"})
    assert found.status_code == 404
    resp = world.call("official", "POST", f"/v1/containers/{cid}/suspend", json=CHANGE)
    assert resp.json()["affected"] == 1
    # spec §approvals: an issuer's destroy waits for a second official, and lists it.
    resp = world.call("official", "POST", "/v1/issuers/writer/destroy", json=CHANGE)
    assert resp.status_code == 202, resp.text
    assert cid in resp.json()["approval"]["affects"]["container_ids"]
    resp = world.call("official", "POST", f"/v1/containers/{cid}/destroy", json=CHANGE)
    assert cid in resp.json()["container_ids"]
    resp = world.call(
        "reader",
        "POST",
        f"/v1/containers/{cid}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    assert resp.status_code == 410


def test_empty_or_bad_medium_still_refused(world: World, subtests: pytest.Subtests) -> None:
    for medium in ("", "a\x00b", 7, "m" * 201):
        with subtests.test(msg=repr(medium)):
            resp = world.call(
                "writer",
                "POST",
                "/v1/containers",
                json={"label": "l", "medium": medium, "readers": ["reader"]},
            )
            assert resp.status_code == 400, (medium, resp.text)
            assert resp.json()["type"] == "urn:rwc:problem:invalid-request"
