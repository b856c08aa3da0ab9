"""Who reported a medium lost, as the console's medium page says it (issue 12).

The reporter is the one whose report's time the medium carries (spec §loss): a second
report keeps the first's times and so its reporter, one that replaces them names its own,
and after a restore (found) a new report, even with an earlier time of loss, is the new
reporter. Through the service on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import timedelta

from keyserver._domain.lifecycle import ROLES, Actor, Op
from keyserver._domain.settings import Settings
from keyserver._domain.validation import fmt_time
from keyserver._service import KeyService
from tests.support.clock import FakeClock

MEDIUM = "USB-2026-0901"


def _reporter(service: KeyService) -> tuple[str | None, str | None]:
    doc = service.console_medium(service.local_actor("auditor"), MEDIUM)
    return doc["loss_reported_by"], doc["destroy_after"]


def test_reporter_is_the_report_whose_times_hold(settings: Settings, clock: FakeClock) -> None:
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        writer = service.authenticate(service.add_principal(boot, "vendor", ["writer"])["token"])
        reg = service.register(
            writer, label="ledger", medium=MEDIUM, readers=[], reader_groups=["clerks"]
        )
        service.commit(
            writer, reg["container_id"], header_digest=os.urandom(32), receipt_key=os.urandom(32)
        )
        assert _reporter(service) == (None, None)  # never reported
        lost = clock()
        clock.advance(hours=1)
        first_at = clock()
        service.report_loss(service.local_actor("first"), MEDIUM, "lost", lost_at=lost)
        deadline = fmt_time(first_at + settings.loss_waiting_period)
        assert _reporter(service) == ("first", deadline)

        # Reported again: the earlier times are kept, and with them who reported.
        clock.advance(hours=1)
        late = lost + timedelta(minutes=30)
        service.report_loss(service.local_actor("second"), MEDIUM, "again", lost_at=late)
        assert _reporter(service) == ("first", deadline)

        # A report that replaces the earlier times is the report the medium carries now.
        clock.advance(hours=1)
        third_at = clock()
        service.report_loss(
            service.local_actor("third"), MEDIUM, "replace", lost_at=late, replace_earlier=True
        )
        assert _reporter(service) == ("third", fmt_time(third_at + settings.loss_waiting_period))

        # Found (restored), then lost again with an earlier time of loss than every report:
        # the new report, not the first in the log after its time of loss.
        service.change_state(
            service.local_actor("finder"), Op.RESTORE, "medium", MEDIUM, "found", cause="any"
        )
        assert _reporter(service)[1] is None  # no deadline holds
        clock.advance(hours=1)
        fourth_at = clock()
        service.report_loss(
            service.local_actor("fourth"), MEDIUM, "lost again", lost_at=lost - timedelta(hours=1)
        )
        assert _reporter(service) == ("fourth", fmt_time(fourth_at + settings.loss_waiting_period))
    finally:
        service.close()
