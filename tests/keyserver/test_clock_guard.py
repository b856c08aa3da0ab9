"""The sweep destroys nothing on a clock that jumped; it raises an alarm instead (issue 14).

A +400-day step used to destroy a lost medium's containers inside their waiting period.
Checked against the last audit entry (any process) and a monotonic clock (one process).
"""

from __future__ import annotations

from datetime import timedelta

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock, FakeMonotonic


def _lost_medium(service: KeyService) -> str:
    admin = service.local_actor("ops")
    w = service.authenticate(service.add_principal(admin, "w", ["writer"])["token"])
    reg = service.register(w, label="c", medium="usb-1", readers=["w"], reader_groups=[])
    service.commit(w, reg["container_id"], header_digest=b"\1" * 32, receipt_key=b"\2" * 32)
    service.report_loss(admin, "usb-1", "lost on the train", waiting_period=timedelta(hours=72))
    return str(reg["container_id"])


def _state(service: KeyService, cid: str) -> str:
    return str(service.status(service.local_actor("ops"), cid)["state"])


def test_step_ahead_of_the_audit_log(settings: Settings, clock: FakeClock) -> None:
    service = KeyService(settings)
    try:
        cid = _lost_medium(service)
        clock.advance(days=400)
        assert service.sweep() == {"clock_alarm": 1}
        assert service.metrics.render({}).count("rwc_sweep_clock_alarms_total 1") == 1
        assert _state(service, cid) == "suspended"  # still restorable
    finally:
        service.close()
    # An operator who knows the jump is real sweeps once with a larger bound.
    confirmed = KeyService(settings.replace(sweep_max_clock_jump=timedelta(days=500)))
    try:
        assert confirmed.sweep()["loss_waiting_period"] == 1
        assert _state(confirmed, cid) == "destroyed"
    finally:
        confirmed.close()


def test_step_against_the_monotonic_clock(settings: Settings, clock: FakeClock) -> None:
    mono = FakeMonotonic()
    service = KeyService(settings.replace(monotonic=mono))
    try:
        cid = _lost_medium(service)
        assert service.sweep()["loss_waiting_period"] == 0  # the trusted reading
        clock.advance(hours=73)  # the wall clock jumps past destroy_after ...
        mono.t += 60  # ... while one minute passed
        assert service.sweep() == {"clock_alarm": 1}
        assert _state(service, cid) == "suspended"
        mono.t += 73 * 3600  # the same 73 h later, the clocks agree again
        clock.advance(minutes=1)
        assert service.sweep()["loss_waiting_period"] == 1
        assert _state(service, cid) == "destroyed"
    finally:
        service.close()


def test_clock_behind_the_audit_log(settings: Settings, clock: FakeClock) -> None:
    service = KeyService(settings)
    try:
        _lost_medium(service)
        clock.advance(hours=-2)
        assert service.sweep() == {"clock_alarm": 1}
    finally:
        service.close()
