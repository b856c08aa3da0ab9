"""The medium report's window is decided by audit sequence numbers, not the clock (spec §report).

The clock is stepped back and forward with the injected clock: an entry recorded after the
loss under a clock that went back stays in the window (before, it fell out of it: a release
after the loss was hidden, the wrong direction for an official answering the press), and an
entry recorded before the loss under a clock that ran ahead stays out. Times are shown,
sequence numbers decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64, confirm, oprf

LOSS = {"reason": "stick lost on the train", "public_reason": "medium lost"}


def _open(world: World, reg: dict[str, Any], key: bytes, *, receipt: bool) -> int:
    """Release the key to the reader (and confirm it); return the evaluate entry's seq."""
    cid = reg["container_id"]
    opened = oprf(world, "reader", cid, reg["public_key"])
    if receipt:
        confirm(world, "reader", cid, key, opened)
    entries = world.call(
        "auditor", "GET", "/v1/audit", params={"container": cid, "action": "evaluate"}
    ).json()["entries"]
    return int(entries[-1]["seq"])


def _report(world: World, medium: str, **params: str) -> dict[str, Any]:
    resp = world.call("auditor", "GET", f"/v1/media/{medium}/report", params=params)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _loss(world: World, medium: str, lost_at: datetime | None = None) -> None:
    body: dict[str, Any] = dict(LOSS)
    if lost_at is not None:
        body["lost_at"] = lost_at.isoformat()
    resp = world.call("official", "POST", f"/v1/media/{medium}/loss-report", json=body)
    assert resp.status_code == 200, resp.text


def test_release_after_the_loss_under_a_clock_stepped_back_is_in_the_window(
    world: World, clock: FakeClock
) -> None:
    reg, key = activate(world, medium="usb-back")
    cid = reg["container_id"]
    clock.advance(hours=1)
    _loss(world, "usb-back")
    # Found again: restored, then opened, while the clock has stepped back two hours.
    resp = world.call("official", "POST", f"/v1/containers/{cid}/restore", json={"reason": "found"})
    assert resp.status_code == 200, resp.text
    clock.advance(hours=-2)
    released = _open(world, reg, key, receipt=True)
    report = _report(world, "usb-back")
    print(f"\n[report] lost_seq {report['lost_seq']}, release at seq {released}")
    assert report["window_start_seq"] == report["lost_seq"] < released
    [entry] = report["containers"]
    assert entry["answer"] == "opened" and report["answer"] == "opened"
    assert entry["releases_after_loss"] == 1 and entry["confirmed_after_loss"] == 1
    # The confirmed open came after the loss, whatever its time says.
    assert entry["last_confirmed_open_before_loss"] is None
    assert released in [a["seq"] for a in entry["attempts"]]
    assert [c["action"] for c in entry["state_changes"]] == ["suspend", "restore"]


def test_release_before_the_loss_under_a_clock_ahead_stays_out(
    world: World, clock: FakeClock
) -> None:
    reg, key = activate(world, medium="usb-ahead")
    clock.advance(hours=3)  # the clock runs ahead...
    released = _open(world, reg, key, receipt=True)
    clock.advance(hours=-2)  # ...and is put right before the loss is reported
    _loss(world, "usb-ahead")
    report = _report(world, "usb-ahead")
    [entry] = report["containers"]
    assert report["lost_seq"] > released
    assert entry["answer"] == "not opened" and entry["releases_after_loss"] == 0
    assert entry["attempts"] == []
    # It is the last confirmed open before the loss, by sequence.
    assert entry["last_confirmed_open_before_loss"] is not None
    assert [c["action"] for c in entry["state_changes"]] == ["suspend"]


def test_time_of_loss_maps_to_a_sequence_once(world: World, clock: FakeClock) -> None:
    start = clock()
    reg, key = activate(world, medium="usb-past")
    _open(world, reg, key, receipt=True)  # before the loss
    clock.advance(hours=1)
    after = _open(world, reg, key, receipt=False)  # after the loss, not confirmed
    clock.advance(hours=1)
    _loss(world, "usb-past", lost_at=start + timedelta(minutes=30))
    report = _report(world, "usb-past")
    # The first entry at or after the time of loss: the release an hour after the start.
    assert report["lost_seq"] == report["window_start_seq"] == after
    [entry] = report["containers"]
    assert entry["answer"] == "possibly opened" and entry["releases_after_loss"] == 1
    assert entry["last_confirmed_open_before_loss"] is not None
    # The clock steps back past the time of loss: the window does not move, and an attempt
    # made now is after the loss.
    clock.advance(hours=-3)
    resp = world.call(
        "groupie",
        "POST",
        f"/v1/containers/{reg['container_id']}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    assert resp.status_code == 423
    again = _report(world, "usb-past")
    assert again["lost_seq"] == after
    [entry] = again["containers"]
    assert [(a["actor"], a["outcome"]) for a in entry["attempts"]] == [
        ("reader", "ok"),
        ("groupie", "refused"),
    ]
    # ``since`` maps the same way: the first entry at or after it.
    since = _report(world, "usb-past", since=(start + timedelta(minutes=30)).isoformat())
    assert since["window_start_seq"] == after


def test_report_reads_one_snapshot_under_concurrent_changes(
    service: KeyService, settings: Settings
) -> None:
    """A restore committed while a report is being read does not half-show in it.

    The restore is committed by another service (its own engine and connections) at the
    moment the report first reads the audit log, after it has read the containers. Before,
    on PostgreSQL, each statement saw the database at its own moment: the report listed
    the restore among the changes of containers it showed as still suspended.
    """
    admin = service.local_actor("ops")
    writer = service.authenticate(service.add_principal(admin, "w", ["writer"])["token"])
    service.add_principal(admin, "r", ["reader"])
    for i in range(3):
        reg = service.register(
            writer, label=f"c{i}", medium="usb-race", readers=["r"], reader_groups=[]
        )
        service.commit(
            writer, reg["container_id"], header_digest=b"\1" * 32, receipt_key=b"\2" * 32
        )
    service.report_loss(admin, "usb-race", "lost", waiting_period=timedelta(days=3))
    other = KeyService(settings)
    armed = [True]

    def interleave(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if armed[0] and "FROM audit_log" in statement:
            armed[0] = False
            other.change_state(admin, "restore", "medium", "usb-race", "found")

    event.listen(service.engine, "before_cursor_execute", interleave)
    try:
        report = service.medium_report(admin, "usb-race")
    finally:
        event.remove(service.engine, "before_cursor_execute", interleave)
        other.close()
    assert armed == [False]  # the restore was committed in the middle of the report
    seen = {(c["state"], c["state_changes"][-1]["action"]) for c in report["containers"]}
    print(f"\n[report] (state, last change) seen mid-restore: {sorted(seen)}")
    assert seen == {("suspended", "suspend")}
    after = service.medium_report(admin, "usb-race")
    assert {(c["state"], c["state_changes"][-1]["action"]) for c in after["containers"]} == {
        ("active", "restore")
    }
