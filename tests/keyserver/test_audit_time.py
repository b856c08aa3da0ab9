"""Audit time never goes backwards: time order equals sequence order (spec §audit, issue 14).

The clock is stepped back (an NTP correction, a VM restored from a snapshot) between
operations of every kind that appends: a release and a refusal in the release batch, a
token issued, a state change and a role refusal through the ORM ledger. Every entry
after the step carries the time of the entry before it until the clock catches up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from voprf import ristretto

from keyserver._domain.errors import ForbiddenError, SuspendedError
from keyserver._service import KeyService
from keyserver._store.models import AuditEntry
from tests.support.clock import FakeClock

_BLINDED = ristretto.Client.blind(b"rwc test input")[1].serialize()


def _times(service: KeyService) -> list[tuple[int, str, datetime]]:
    with service.ledger.reads() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.action, AuditEntry.at).order_by(AuditEntry.seq)
        ).all()
    return [(seq, action, at) for seq, action, at in rows]


def test_clock_stepping_back_keeps_time_order(service: KeyService, clock: FakeClock) -> None:
    admin = service.local_actor("ops")
    w = service.authenticate(service.add_principal(admin, "w", ["writer"])["token"])
    r = service.authenticate(service.add_principal(admin, "r", ["reader"])["token"])
    reg = service.register(w, label="c", medium="usb-1", readers=["r"], reader_groups=[])
    cid = str(reg["container_id"])
    service.evaluate(w, cid, _BLINDED)
    service.commit(w, cid, header_digest=b"\1" * 32, receipt_key=b"\2" * 32)
    clock.advance(minutes=5)
    service.evaluate(r, cid, _BLINDED)  # a release, in the batch
    high = clock.t
    before = _times(service)[-1]
    assert before[1] == "evaluate" and before[2] == high

    clock.t = high - timedelta(hours=1)  # the clock steps back
    service.evaluate(r, cid, _BLINDED)  # release (batch)
    service.issue_token(admin, "r")  # ORM append
    with pytest.raises(ForbiddenError):
        service.change_state(r, "suspend", "container", cid, "not a reader's to do")
    service.change_state(admin, "suspend", "container", cid, "medium lost")  # ORM
    with pytest.raises(SuspendedError):
        service.evaluate(r, cid, _BLINDED)  # refusal (batch)
    after_step = _times(service)[len(_times(service)) - 5 :]
    assert [a for _, a, _ in after_step] == [
        "evaluate",
        "token.issue",
        "suspend",
        "suspend",
        "evaluate",
    ]
    assert all(at == high for _, _, at in after_step)

    clock.t = high + timedelta(minutes=1)  # caught up: the clock's own time again
    service.change_state(admin, "restore", "container", cid, "found")
    assert _times(service)[-1][2] == high + timedelta(minutes=1)

    times = [at for _, _, at in _times(service)]
    assert times == sorted(times)
    assert service.audit_verify(admin)["ok"] is True


def test_a_clock_that_ran_ahead_does_not_expire_what_is_not_expired(
    service: KeyService, clock: FakeClock
) -> None:
    # The entries keep the later time until the clock catches up; decisions do not: a
    # pending container sealed after the correction is not "expired" (spec §audit).
    admin = service.local_actor("ops")
    w = service.authenticate(service.add_principal(admin, "w", ["writer"])["token"])
    start = clock.t
    clock.t = start + timedelta(days=400)  # a wrong clock, then an entry at that time
    service.issue_token(admin, "w")
    clock.t = start + timedelta(minutes=1)  # corrected
    reg = service.register(w, label="c", medium="usb-1", readers=["w"], reader_groups=[])
    service.evaluate(w, str(reg["container_id"]), _BLINDED)  # seal mode, not expired
    times = [at for _, _, at in _times(service)]
    assert times == sorted(times)
    assert times[-1] == start + timedelta(days=400)
