"""The console overview verifies the audit chain incrementally (issue 12, spec §audit).

Each load verifies only the entries after the remembered head (``entries`` counts the
rows this call verified), the remembered head is itself checked (the stored entry's hash
and the record's MAC), and the full verification still finds tampering anywhere and
refreshes the head. Tampering is plain SQL, as by someone with database write access
but without the master key. SQLite and PostgreSQL (tests/keyserver/conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from keyserver._domain.lifecycle import Actor
from keyserver._domain.verified_head import VerifiedHead
from keyserver._service import KeyService, reports
from keyserver._store import audit_progress, restore_state
from keyserver._store.audit import NewEntry, read_head
from tests.support.clock import FakeClock


def _append(service: KeyService, count: int) -> int:
    """Append ``count`` entries; the chain's new head seq."""
    with service.ledger.tx() as session:
        for _ in range(count):
            service.ledger.audit(session, NewEntry(actor="load", action="evaluate", outcome="ok"))
    return _head(service)


def _head(service: KeyService) -> int:
    with service.ledger.reads() as session:
        head = read_head(session)
    assert head is not None
    return head[0]


def _sql(service: KeyService, statement: str, **params: object) -> None:
    with service.engine.begin() as conn:
        conn.execute(text(statement), params)


def _remembered(service: KeyService) -> audit_progress.Remembered | None:
    with service.ledger.reads() as session:
        return audit_progress.read(session, service.keyring.audit_key)


@pytest.fixture
def admin(service: KeyService) -> Actor:
    actor = service.local_actor("ops")
    _append(service, 10)
    return actor


def _status(service: KeyService, admin: Actor) -> dict[str, Any]:
    return service.audit_chain_status(admin)


def test_second_load_verifies_only_the_new_entries(service: KeyService, admin: Actor) -> None:
    first = _status(service, admin)
    head = _head(service)
    assert first["ok"] and first["complete"] and not first["incremental"]
    assert first["entries"] == head == first["head_seq"] == first["chain_seq"]
    # From the genesis to the head in one load: that was a full check.
    assert first["full_at"] == service.settings.clock()
    new_head = _append(service, 7)
    second = _status(service, admin)
    assert second["ok"] and second["complete"] and second["incremental"]
    assert second["entries"] == 7 and second["from_seq"] == head
    assert second["head_seq"] == new_head and second["full_at"] == first["full_at"]
    third = _status(service, admin)
    assert third["ok"] and third["entries"] == 0 and third["head_seq"] == new_head


def test_full_verify_refreshes_the_head_and_dates_it(
    service: KeyService, admin: Actor, clock: FakeClock
) -> None:
    _status(service, admin)
    clock.advance(hours=1)
    _append(service, 2)
    full = service.audit_verify(admin)
    checked_at = clock()
    assert full["ok"]
    clock.advance(hours=3)
    _append(service, 2)
    status = _status(service, admin)
    assert status["ok"] and status["entries"] == 2 and status["full_at"] == checked_at
    remembered = _remembered(service)
    assert remembered is not None and remembered.genuine
    assert remembered.head.seq == status["head_seq"] and remembered.head.full_at == checked_at


def test_tampered_entry_after_the_head_is_caught(service: KeyService, admin: Actor) -> None:
    _status(service, admin)
    head = _head(service)
    _append(service, 3)
    _sql(service, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = :s", s=head + 2)
    status = _status(service, admin)
    assert status["ok"] is False and status["first_bad_seq"] == head + 2
    remembered = _remembered(service)
    assert remembered is not None and remembered.head.seq == head  # not moved past it


def test_tampered_remembered_head_entry_is_caught(service: KeyService, admin: Actor) -> None:
    _status(service, admin)
    head = _head(service)
    _append(service, 3)
    # The entry at the remembered head replaced (its hash no longer the remembered one),
    # and the next entry relinked to it so that the entries after it still link up.
    forged = b"\x07" * 32
    _sql(service, "UPDATE audit_log SET hash = :h WHERE seq = :s", h=forged, s=head)
    _sql(service, "UPDATE audit_log SET prev_hash = :h WHERE seq = :s", h=forged, s=head + 1)
    status = _status(service, admin)
    assert status["ok"] is False and status["first_bad_seq"] == head


def test_a_head_moved_forward_in_the_database_is_caught(service: KeyService, admin: Actor) -> None:
    """Moving the head past an edited entry (copying a later entry's hash) fails its MAC."""
    _status(service, admin)
    head = _head(service)
    new_head = _append(service, 5)
    _sql(service, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = :s", s=head + 1)
    _sql(
        service,
        "UPDATE audit_verified_head SET seq = :s,"
        " hash = (SELECT hash FROM audit_log WHERE seq = :s)",
        s=new_head,
    )
    status = _status(service, admin)
    assert status["ok"] is False and status["altered"] is True and status["entries"] == 0
    # The full verification finds the edit and drops the record; the overview then
    # verifies from the genesis and finds the edit too.
    full = service.audit_verify(admin)
    assert full["ok"] is False and full["first_bad_seq"] == head + 1
    assert _remembered(service) is None
    again = _status(service, admin)
    assert again["ok"] is False and again["first_bad_seq"] == head + 1 and not again["altered"]


def test_full_verify_replaces_an_altered_record(service: KeyService, admin: Actor) -> None:
    _status(service, admin)
    _sql(service, "UPDATE audit_verified_head SET full_at = NULL")
    assert _status(service, admin)["altered"] is True
    assert service.audit_verify(admin)["ok"] is True
    status = _status(service, admin)
    assert status["ok"] and status["incremental"] and status["entries"] == 0


def test_full_verify_catches_an_edit_before_the_head(service: KeyService, admin: Actor) -> None:
    """An old entry's content edited behind the head: only a full verification reads it."""
    _status(service, admin)
    _sql(service, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    assert _status(service, admin)["ok"] is True  # spec §audit: incremental does not re-read
    full = service.audit_verify(admin)
    assert full["ok"] is False and full["first_bad_seq"] == 3
    status = _status(service, admin)
    assert status["ok"] is False and status["first_bad_seq"] == 3


def test_a_long_tail_is_verified_a_slice_per_load(
    service: KeyService, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "OVERVIEW_VERIFY_SLICE", 4)
    head = _head(service)  # 10 entries: slices of 4, 4, 2
    loads = [_status(service, admin) for _ in range(3)]
    assert [(s["head_seq"], s["entries"], s["complete"]) for s in loads] == [
        (4, 4, False),
        (8, 4, False),
        (head, 2, True),
    ]
    assert all(s["ok"] and s["chain_seq"] == head for s in loads)
    assert loads[2]["full_at"] is None  # checked in three loads: no full check yet


def test_the_head_never_moves_backwards(service: KeyService, admin: Actor) -> None:
    """Two loads that finish out of order: the one that verified less does not win."""
    key = service.keyring.audit_key
    head = _head(service)
    now = service.settings.clock()

    def hash_of(seq: int) -> bytes:
        with service.engine.connect() as conn:
            found = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": seq})
            return bytes(found.scalar_one())

    ahead = VerifiedHead(head, hash_of(head), now, None)
    behind = VerifiedHead(4, hash_of(4), now, None)
    full_check = VerifiedHead(4, hash_of(4), now, now)
    for record, full in ((ahead, False), (behind, False), (full_check, True)):
        with service.ledger.tx() as session:
            audit_progress.remember(session, key, record, full=full, resumed_from=0)
    remembered = _remembered(service)
    assert remembered is not None and remembered.genuine
    # The full check up to 4 dates the record; the head stays where the furthest run was.
    assert (remembered.head.seq, remembered.head.full_at) == (head, now)


def test_a_pending_restore_does_not_stop_the_overview(service: KeyService, admin: Actor) -> None:
    """spec §backup: no writing transaction while a restore awaits its replay; the page
    still verifies and answers, it only does not remember how far."""
    with service.ledger.tx(restoring=True) as session:
        restore_state.mark(session, at=service.settings.clock(), backup_head_seq=1, source="t")
    service.ledger.restore_gate.forget()
    status = _status(service, admin)
    assert status["ok"] and status["entries"] == _head(service)
    assert _remembered(service) is None
