"""Loss reports: suspend now, destroy after the waiting period (injected clock), report."""

from __future__ import annotations

from datetime import timedelta

from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64, confirm, oprf


def _sweep(w: World) -> dict[str, int]:
    svc = KeyService(w.settings)
    try:
        return svc.sweep(actor_name="cron")
    finally:
        svc.close()


def _state(w: World, cid: str) -> str:
    return str(w.call("official", "GET", f"/v1/containers/{cid}").json()["state"])


def test_loss_report_waiting_period_and_sweep(world: World, clock: FakeClock) -> None:
    a, key = activate(world, medium="usb-lost")
    b, _ = activate(world, medium="usb-lost")
    keep, _ = activate(world, medium="usb-kept")
    cid = a["container_id"]
    confirm(world, "reader", cid, key, oprf(world, "reader", cid, a["public_key"]))
    clock.advance(hours=1)
    loss_at = clock()
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-lost/loss-report",
        json={"reason": "stick lost on train", "public_reason": "medium lost"},
    )
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["affected"] == 2
    assert doc["destroy_after"].startswith((loss_at + timedelta(hours=72)).strftime("%Y-%m-%dT%H"))
    assert _state(world, cid) == "suspended" and _state(world, keep["container_id"]) == "active"
    # Attempts after the loss are refused and recorded with who/when/where.
    clock.advance(minutes=5)
    resp = world.call(
        "groupie", "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert resp.status_code == 423 and resp.json()["reason"] == "medium lost"
    # Found again within the waiting period: restore works for b.
    resp = world.call(
        "official",
        "POST",
        f"/v1/containers/{b['container_id']}/restore",
        json={"reason": "found in the office"},
    )
    assert resp.json()["affected"] == 1
    clock.advance(hours=70)
    assert _sweep(world)["loss_waiting_period"] == 0
    assert _state(world, cid) == "suspended"
    clock.advance(hours=3)
    assert _sweep(world)["loss_waiting_period"] == 1
    assert _state(world, cid) == "destroyed"
    assert _state(world, b["container_id"]) == "active"
    resp = world.call(
        "reader", "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert resp.status_code == 410
    assert resp.json()["reason"] == "loss report waiting period over"
    report = world.call("auditor", "GET", "/v1/media/usb-lost/report").json()
    entry = next(c for c in report["containers"] if c["container_id"] == cid)
    assert entry["state"] == "destroyed"
    assert entry["last_confirmed_open_before_loss"]["actor"] == "reader"
    assert entry["last_confirmed_open_before_loss"]["remote"] == "127.0.0.1"
    attempts = entry["attempts"]
    assert [(x["actor"], x["outcome"], x["reason"]) for x in attempts] == [
        ("groupie", "refused", "suspended"),
        ("reader", "refused", "destroyed"),
    ]
    assert all(x["remote"] == "127.0.0.1" for x in attempts)
    # spec §report: refused attempts released nothing.
    assert entry["answer"] == "not opened" and entry["releases_after_loss"] == 0
    assert report["answer"] == "not opened"
    sweep_entries = world.call(
        "auditor", "GET", "/v1/audit", params={"actor_name": "cron", "action": "destroy"}
    ).json()
    assert len(sweep_entries["entries"]) == 1
    assert sweep_entries["entries"][0]["details"]["container_ids"] == [cid]


def test_loss_report_now_destroys_at_once(world: World) -> None:
    a, _ = activate(world, medium="usb-now")
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-now/loss-report",
        json={"reason": "shredder", "now": True},
    )
    # spec §approvals: with now it is a bulk destroy, carried out when a second OFFICIAL
    # approves it (an admin or an auditor cannot).
    assert resp.status_code == 202, resp.text
    assert _state(world, a["container_id"]) == "suspended"  # stopped at once
    number = resp.json()["approval"]["id"]
    for who in ("admin", "auditor"):
        assert world.call(who, "POST", f"/v1/approvals/{number}/approve").status_code == 403
    second = world.call(
        "admin", "POST", "/v1/principals", json={"name": "o2", "roles": ["official"]}
    )
    assert second.status_code == 201, second.text
    world.tokens["o2"] = second.json()["token"]
    resp = world.call("o2", "POST", f"/v1/approvals/{number}/approve")
    assert resp.status_code == 200 and resp.json()["result"]["affected"] == 1
    assert _state(world, a["container_id"]) == "destroyed"
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-now/loss-report",
        json={"reason": "x", "waiting_period_seconds": -5},
    )
    assert resp.status_code == 400


BULK = 12


def test_bulk_medium_suspend_is_one_statement_and_one_entry(service: KeyService) -> None:
    """Correctness of the set-based path (the bench measures 100,000)."""
    admin = service.local_actor("ops")
    writer_doc = service.add_principal(admin, "w", ["writer"])
    service.add_principal(admin, "r", ["reader"])
    writer = service.authenticate(writer_doc["token"])
    ids = []
    # 12: above the inline limit of 10 set below; one statement changes them all whatever
    # their number (store/transitions.py has no chunks), and the bench measures 100,000.
    # Each container costs two audited transactions here (60 cost 1.2 CPU-s more, both
    # backends).
    for i in range(BULK):
        reg = service.register(
            writer, label=f"c{i}", medium="usb-bulk", readers=["r"], reader_groups=[]
        )
        service.commit(
            writer, reg["container_id"], header_digest=b"\1" * 32, receipt_key=b"\2" * 32
        )
        ids.append(reg["container_id"])
    service.register(writer, label="other", medium="usb-other", readers=["r"], reader_groups=[])
    before = service.audit_verify(admin)["head_seq"]
    result = service.change_state(admin, "suspend", "medium", "usb-bulk", "bulk test")
    assert result["affected"] == BULK and sorted(result["container_ids"]) == sorted(ids)
    after = service.audit_verify(admin)
    assert after["ok"] and after["head_seq"] == before + 1
    entry = service.audit_list(admin, action="suspend")["entries"][-1]
    assert entry["details"]["affected"] == BULK and entry["details"]["scope"] == "medium"
    found = service.search(admin, medium="usb-bulk", limit=1000)["containers"]
    assert {c["state"] for c in found} == {"suspended"}
    assert {c["last_audit_seq"] for c in found} == {entry["seq"]}
    assert service.search(admin, medium="usb-other")["containers"][0]["state"] == "pending"
    # Above the inline limit only count and digest are recorded.
    small = service.settings.replace(audit_inline_ids_max=10)
    svc2 = KeyService(small)
    try:
        res = svc2.change_state(admin, "destroy", "medium", "usb-bulk", "bulk destroy")
        assert res["affected"] == BULK and len(res["container_ids"]) == 10
        last = svc2.audit_list(admin, action="destroy")["entries"][-1]
        assert "container_ids" not in last["details"]
        assert len(last["details"]["container_ids_sha256"]) == 64
    finally:
        svc2.close()
