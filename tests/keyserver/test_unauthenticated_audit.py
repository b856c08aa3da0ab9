"""spec §evaluate: evaluate attempts without a valid token are audited and reported."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64

MEDIUM = "usb-0001"
BODY = {"blinded_element": blinded_b64()}


def _issue(w: World, expires_at: str | None = None) -> tuple[str, str]:
    resp = w.call("admin", "POST", "/v1/principals/reader/tokens", json={"expires_at": expires_at})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"], resp.json()["token_id"]


def _evaluate(w: World, cid: str, authorization: str | None) -> int:
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = w.client(None).post(f"/v1/containers/{cid}/evaluate", json=BODY, headers=headers)
    if resp.status_code == 401:
        assert resp.json()["type"] == "urn:rwc:problem:unauthenticated"
    return resp.status_code


@pytest.mark.own_server  # reads /metrics, which a server keeps in memory
def test_unauthenticated_attempts_are_in_the_medium_report(world: World, clock: FakeClock) -> None:
    reg, _ = activate(world, medium=MEDIUM)
    cid = reg["container_id"]
    revoked, revoked_id = _issue(world)
    expiring, _ = _issue(world, (clock() + timedelta(minutes=1)).isoformat())
    assert world.call("admin", "POST", f"/v1/tokens/{revoked_id}/revoke").status_code == 200
    clock.advance(minutes=2)
    resp = world.call(
        "official", "POST", f"/v1/media/{MEDIUM}/loss-report", json={"reason": "lost"}
    )
    assert resp.status_code == 200 and resp.json()["affected"] == 1
    clock.advance(seconds=1)
    attempts = [
        None,  # no header
        "Basic dXNlcjpwdw==",  # another scheme
        "Bearer rwc_" + "A" * 43,  # well-formed, unknown
        "Bearer " + revoked,
        "Bearer " + expiring,
    ]
    assert [_evaluate(world, cid, a) for a in attempts] == [401] * 5
    # An id that does not parse is audited without a container.
    assert _evaluate(world, "not-a-container-id", None) == 401

    report = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    [entry] = report["containers"]
    tries = [a for a in entry["attempts"] if a["reason"] == "unauthenticated"]
    assert [a["actor"] for a in tries] == ["(unauthenticated)"] * 3 + ["reader"] * 2
    assert all(a["action"] == "evaluate" and a["outcome"] == "refused" for a in tries)
    assert all(a["remote"] == "127.0.0.1" for a in tries)

    log = world.call("auditor", "GET", "/v1/audit", params={"action": "evaluate"}).json()
    refused = [e for e in log["entries"] if e["outcome"] == "refused"]
    assert len(refused) == 6 and refused[-1]["container"] is None
    # Neither the tokens nor the header reach the log.
    text = world.call("auditor", "GET", "/v1/audit/export").text
    assert revoked not in text and expiring not in text and "dXNlcjpwdw" not in text
    metrics = world.call(None, "GET", "/metrics").text
    assert 'rwc_refusals_total{action="evaluate",reason="unauthenticated"} 6' in metrics
    # The chain is intact.
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True


def test_other_routes_do_not_audit_unauthenticated_requests(world: World) -> None:
    before = world.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"]
    assert world.call(None, "GET", "/v1/whoami").status_code == 401
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"] == before


def test_unauthenticated_attempts_can_be_listed_by_actor(world: World) -> None:
    reg, _ = activate(world, medium=MEDIUM)
    assert _evaluate(world, reg["container_id"], None) == 401
    resp = world.call("auditor", "GET", "/v1/audit", params={"actor_name": "(unauthenticated)"})
    assert resp.status_code == 200, resp.text
    entries = resp.json()["entries"]
    assert [(e["actor"], e["action"], e["outcome"]) for e in entries] == [
        ("(unauthenticated)", "evaluate", "refused")
    ]
    # Any other name is still checked like a principal name.
    bad = world.call("auditor", "GET", "/v1/audit", params={"actor_name": "(someone)"})
    assert bad.status_code == 400
