"""The time of loss the official was told, kept with the loss report (issue 12, seventeenth
session).

The console's "Not sure" answer reports the loss from the first key release just before
the time the official was told, so that those releases count (spec §report). The time
told was only inside the reason text; it is now the report's ``told_at``: given with the
loss report, in its answer and audit entry, kept with the medium beside ``lost_at``, in
the medium report (its JSON), and it goes with the time of loss it belongs to when a
medium is reported again (spec §loss). Over the API on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from keyserver._domain.settings import Settings
from keyserver._domain.validation import fmt_time
from keyserver._service.restore import _Replay
from keyserver._store.engine import make_engine
from keyserver._store.models import AuditEntry, Medium
from tests.support.clock import FakeClock
from tests.support.world import World, activate


def _report(world: World, medium: str, status: int = 200, **body: Any) -> dict[str, Any]:
    resp = world.call(
        "official", "POST", f"/v1/media/{medium}/loss-report", json={"reason": "lost", **body}
    )
    assert resp.status_code == status, resp.text
    return dict(resp.json())


def _medium_report(world: World, medium: str) -> dict[str, Any]:
    resp = world.call("auditor", "GET", f"/v1/media/{medium}/report")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _last_suspend(world: World) -> dict[str, Any]:
    entries = world.call("auditor", "GET", "/v1/audit", params={"action": "suspend"}).json()
    return dict(entries["entries"][-1]["details"])


def test_the_time_told_is_kept_beside_the_time_of_loss(world: World, clock: FakeClock) -> None:
    activate(world, medium="USB-TOLD")
    told = clock() - timedelta(hours=1)
    lost = told - timedelta(seconds=26, microseconds=500)
    done = _report(world, "usb-told", lost_at=fmt_time(lost), told_at=fmt_time(told))
    assert (done["lost_at"], done["told_at"]) == (fmt_time(lost), fmt_time(told))
    report = _medium_report(world, "usb-told")
    assert (report["lost_at"], report["told_at"]) == (fmt_time(lost), fmt_time(told))
    details = _last_suspend(world)
    assert (details["lost_at"], details["told_at"]) == (fmt_time(lost), fmt_time(told))


def test_a_report_without_a_time_told_has_none(world: World, clock: FakeClock) -> None:
    """Reports made as before (and every report before migration 0014): null, and the
    audit entry has no such member."""
    activate(world, medium="USB-PLAIN")
    lost = clock() - timedelta(hours=1)
    assert _report(world, "usb-plain", lost_at=fmt_time(lost))["told_at"] is None
    assert _medium_report(world, "usb-plain")["told_at"] is None
    assert "told_at" not in _last_suspend(world)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        # Told a time, the loss counted from a LATER one: the window would miss what the
        # official was told about.
        ({"lost_at": -60, "told_at": -120}, "told_at must not be earlier than lost_at"),
        ({"lost_at": -60, "told_at": 60}, "told_at must not be in the future"),
        # A time told is said beside the time of loss it was counted from.
        ({"told_at": -60}, "told_at needs lost_at"),
        ({"lost_at": -60, "told_at": "around noon"}, "told_at"),
    ],
)
def test_a_time_told_that_cannot_be_is_refused_and_nothing_reported(
    world: World, clock: FakeClock, body: dict[str, Any], said: str
) -> None:
    activate(world, medium="USB-WRONG")
    sent = {
        k: fmt_time(clock() + timedelta(seconds=v)) if isinstance(v, int) else v
        for k, v in body.items()
    }
    refused = _report(world, "usb-wrong", status=400, **sent)
    assert refused["type"] == "urn:rwc:problem:invalid-request", refused
    assert said in refused["detail"], refused
    assert _medium_report(world, "usb-wrong")["lost_at"] is None


def test_the_time_told_goes_with_the_time_of_loss_it_belongs_to(
    world: World, clock: FakeClock
) -> None:
    """spec §loss: a medium reported again keeps the earlier report's earlier time of
    loss, and with it that report's time told (none here); a report that sets the
    earlier time carries its own."""
    activate(world, medium="USB-AGAIN-TOLD")
    first_lost = clock() - timedelta(hours=2)
    _report(world, "usb-again-told", lost_at=fmt_time(first_lost))
    clock.advance(minutes=5)
    later = first_lost + timedelta(minutes=30)
    kept = _report(
        world,
        "usb-again-told",
        lost_at=fmt_time(later - timedelta(seconds=20)),
        told_at=fmt_time(later),
    )
    assert kept["kept_earlier"] == ["lost_at", "destroy_after"]
    assert (kept["lost_at"], kept["told_at"]) == (fmt_time(first_lost), None)
    assert _medium_report(world, "usb-again-told")["told_at"] is None
    assert "told_at" not in _last_suspend(world)
    clock.advance(minutes=5)
    earlier = first_lost - timedelta(minutes=30)
    moved = _report(
        world,
        "usb-again-told",
        lost_at=fmt_time(earlier - timedelta(seconds=20)),
        told_at=fmt_time(earlier),
    )
    assert moved["told_at"] == fmt_time(earlier)
    assert _medium_report(world, "usb-again-told")["told_at"] == fmt_time(earlier)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


def test_a_backup_restored_gets_the_time_told_back_from_the_audit_log(
    world: World, clock: FakeClock, engine: Engine
) -> None:
    """spec §backup: a loss report made after the backup is replayed from the audit export;
    the medium gets its time of loss and its time told back, as the entry records them."""
    activate(world, medium="USB-REPLAY")
    told = clock() - timedelta(hours=1)
    lost = told - timedelta(seconds=30)
    _report(world, "usb-replay", lost_at=fmt_time(lost), told_at=fmt_time(told))
    with Session(engine) as session, session.begin():
        # As the backup had it: never reported.
        session.execute(
            update(Medium).where(Medium.key == "usb-replay").values(lost_at=None, told_at=None)
        )
        entry = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "suspend")
                .order_by(AuditEntry.seq.desc())
            )
            .scalars()
            .first()
        )
        assert entry is not None
        _Replay(session).apply(entry)
    with Session(engine) as session:
        medium = session.execute(select(Medium).where(Medium.key == "usb-replay")).scalar_one()
        assert (medium.lost_at, medium.told_at) == (lost, told)
