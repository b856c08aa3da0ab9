"""A medium reported lost twice (issue 10): the earlier, earliest times hold unless replaced.

A second loss report must never quietly push back a destruction or shrink the window in
which openings are reported (spec §loss): while an earlier report holds, the time of loss
and the destroy deadline are the earliest of both, the answer and the audit entry say
what was kept, and only ``replace_earlier`` replaces them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from keyserver._domain.validation import fmt_time
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.world import World, activate


def _report(world: World, medium: str, **body: Any) -> dict[str, Any]:
    resp = world.call(
        "official",
        "POST",
        f"/v1/media/{medium}/loss-report",
        json={"reason": "stick lost", **body},
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _status(world: World, cid: str) -> dict[str, Any]:
    return dict(world.call("official", "GET", f"/v1/containers/{cid}").json())


def _last_suspend_entry(world: World) -> dict[str, Any]:
    entries = world.call("auditor", "GET", "/v1/audit", params={"action": "suspend"}).json()
    return dict(entries["entries"][-1])


def _medium_report(world: World, medium: str) -> dict[str, Any]:
    resp = world.call("auditor", "GET", f"/v1/media/{medium}/report")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _t(at: datetime) -> str:
    return str(fmt_time(at))


def test_second_report_keeps_the_earliest_times_and_the_sweep_honours_them(
    world: World, clock: FakeClock
) -> None:
    box, _ = activate(world, medium="USB-TWICE")
    cid = box["container_id"]
    first_at = clock()
    lost1 = first_at - timedelta(hours=2)
    first = _report(world, "usb-twice", lost_at=_t(lost1), waiting_period_seconds=72 * 3600)
    deadline1 = first_at + timedelta(hours=72)
    assert first["earlier_report"] is None and first["kept_earlier"] == []
    lost_seq = _medium_report(world, "usb-twice")["lost_seq"]

    clock.advance(hours=1)
    again_at = clock()
    second = _report(
        world, "usb-twice", lost_at=_t(again_at - timedelta(minutes=10)),
        waiting_period_seconds=100 * 3600,
    )  # fmt: skip
    # The earlier, earlier times win and the answer says so, with what was asked.
    assert second["lost_at"] == _t(lost1)
    assert second["destroy_after"] == _t(deadline1)
    assert second["kept_earlier"] == ["lost_at", "destroy_after"]
    assert second["replaced_earlier"] is False
    assert second["earlier_report"] == {
        "lost_at": _t(lost1),
        "loss_reported_at": _t(first_at),
        "destroy_after": _t(deadline1),
    }
    assert second["requested"] == {
        "lost_at": _t(again_at - timedelta(minutes=10)),
        "destroy_after": _t(again_at + timedelta(hours=100)),
    }
    assert _status(world, cid)["destroy_after"] == _t(deadline1)
    # The medium report's window still starts at the first loss (its sequence number too).
    report = _medium_report(world, "usb-twice")
    assert (report["lost_at"], report["lost_seq"]) == (_t(lost1), lost_seq)
    medium = world.call("official", "GET", "/v1/media/usb-twice").json()
    assert (medium["lost_at"], medium["loss_reported_at"]) == (_t(lost1), _t(first_at))
    # The audit entry of the second report records the same.
    details = _last_suspend_entry(world)["details"]
    assert details["destroy_after"] == _t(deadline1) and details["lost_at"] == _t(lost1)
    assert details["kept_earlier"] == ["lost_at", "destroy_after"]
    assert details["earlier_report"] == second["earlier_report"]
    assert details["requested"] == second["requested"]

    # A third report that is earlier on both counts takes effect: nothing to keep. (24 h:
    # the shortest wait an official reports alone; shorter ones need a second official,
    # spec §approvals.)
    third = _report(
        world, "usb-twice", lost_at=_t(lost1 - timedelta(hours=1)), waiting_period_seconds=86400
    )
    assert third["lost_at"] == _t(lost1 - timedelta(hours=1))
    assert third["destroy_after"] == _t(again_at + timedelta(hours=24))
    assert third["kept_earlier"] == []
    assert _medium_report(world, "usb-twice")["lost_seq"] <= lost_seq

    # The sweep destroys at the earliest deadline, not at the later one a report asked for.
    clock.advance(hours=24, minutes=1)
    svc = KeyService(world.settings)
    try:
        assert svc.sweep(actor_name="cron")["loss_waiting_period"] == 1
    finally:
        svc.close()
    assert _status(world, cid)["state"] == "destroyed"


def test_replace_earlier_and_a_report_after_a_restore(world: World, clock: FakeClock) -> None:
    box, _ = activate(world, medium="USB-AGAIN")
    cid = box["container_id"]
    first_at = clock()
    _report(world, "usb-again", waiting_period_seconds=86400)
    clock.advance(minutes=30)
    asked_at = clock()
    replaced = _report(world, "usb-again", waiting_period_seconds=48 * 3600, replace_earlier=True)
    # Asked for explicitly: this report's times replace the earlier ones, and it says so.
    assert replaced["replaced_earlier"] is True and replaced["kept_earlier"] == []
    assert replaced["lost_at"] == _t(asked_at)
    assert replaced["destroy_after"] == _t(asked_at + timedelta(hours=48))
    assert replaced["earlier_report"]["destroy_after"] == _t(first_at + timedelta(hours=24))
    assert _status(world, cid)["destroy_after"] == _t(asked_at + timedelta(hours=48))
    assert _last_suspend_entry(world)["details"]["replaced_earlier"] is True

    # Found, then lost again: the restore lifted the earlier report, so this one is new.
    resp = world.call("official", "POST", "/v1/media/usb-again/restore", json={"reason": "found"})
    assert resp.status_code == 200, resp.text
    clock.advance(hours=1)
    anew = _report(world, "usb-again", waiting_period_seconds=72 * 3600)
    assert anew["earlier_report"] is None
    assert anew["lost_at"] == _t(clock())
    assert anew["destroy_after"] == _t(clock() + timedelta(hours=72))


def test_replace_earlier_must_be_a_boolean(world: World) -> None:
    activate(world, medium="USB-BOOL")
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-bool/loss-report",
        json={"reason": "lost", "replace_earlier": "yes"},
    )
    assert resp.status_code == 400, resp.text
