"""A key released just before the time of loss: only its own receipt is read after the loss.

close_releases.releases_close_before tells, for a reader key release in the minutes before
the time of loss, whether and when its receipt confirmed it after the loss (spec §receipt:
a receipt confirms exactly the evaluation whose challenge it answers). It used to read every
receipt of the container from the loss on, to the head of the log, and pick the match in
Python: a container opened every day since was read whole at each review (issue 12,
console20). The statement now asks for the matching receipt only. On SQLite and PostgreSQL,
real VOPRF over HTTP, the ORM's own count of the audit rows it built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import event

from keyserver._domain.validation import fmt_time
from keyserver._service import KeyService
from keyserver._store.models import AuditEntry
from tests.support.clock import FakeClock
from tests.support.world import World, activate, confirm, oprf

MEDIUM = "USB-2026-1207"
LATER_OPENINGS = 12


@contextmanager
def _receipts_loaded() -> Iterator[list[datetime]]:
    """The times of the ``receipt`` audit rows the ORM builds while the block runs."""
    loaded: list[datetime] = []

    def on_load(entry: AuditEntry, _context: object) -> None:
        if entry.action == "receipt":
            loaded.append(entry.at)

    event.listen(AuditEntry, "load", on_load)
    try:
        yield loaded
    finally:
        event.remove(AuditEntry, "load", on_load)


def test_only_the_confirming_receipt_is_read(
    world: World, service: KeyService, clock: FakeClock
) -> None:
    reg, key = activate(world, medium=MEDIUM, label="ledger")
    cid = reg["container_id"]
    clock.advance(minutes=10)
    released_at = clock()
    released = oprf(world, "reader", cid, reg["public_key"])
    lost_at = released_at + timedelta(seconds=30)
    clock.advance(seconds=45)  # the receipt comes after the time of loss
    confirmed_at = clock()
    confirm(world, "reader", cid, key, released)
    for _ in range(LATER_OPENINGS):  # opened again and again since
        clock.advance(hours=1)
        confirm(world, "reader", cid, key, oprf(world, "reader", cid, reg["public_key"]))

    with _receipts_loaded() as loaded:
        doc = service.console_medium(service.local_actor("auditor"), MEDIUM, lost_at=lost_at)

    close = doc["close_to_loss"]
    assert close is not None
    said = close["releases"][cid]["released"]
    assert (said["at"], said["actor"], said["confirmed_at"]) == (
        fmt_time(released_at),
        "reader",
        fmt_time(confirmed_at),
    )
    # The one receipt that confirms the release; none of the later openings' receipts.
    assert [fmt_time(at) for at in loaded] == [fmt_time(confirmed_at)]


def test_a_receipt_of_another_release_does_not_confirm(
    world: World, service: KeyService, clock: FakeClock
) -> None:
    """Released before the loss and never confirmed; opened again (confirmed) after it: the
    release stays unconfirmed, as before the statement was bounded."""
    reg, key = activate(world, medium=MEDIUM, label="ledger")
    cid = reg["container_id"]
    clock.advance(minutes=10)
    released_at = clock()
    oprf(world, "reader", cid, reg["public_key"])  # a wrong password: no receipt
    clock.advance(minutes=5)
    confirm(world, "reader", cid, key, oprf(world, "reader", cid, reg["public_key"]))

    doc = service.console_medium(
        service.local_actor("auditor"), MEDIUM, lost_at=released_at + timedelta(seconds=30)
    )

    said = doc["close_to_loss"]["releases"][cid]["released"]
    assert (said["at"], said["confirmed_at"]) == (fmt_time(released_at), None)
