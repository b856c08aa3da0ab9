"""audit verify while entries are being appended: never a false alarm (issue 14).

The chain is verified up to the head read first; entries appended meanwhile are after it.
Before, verify read the head last and, on PostgreSQL under load, reported "head row
disagrees with the last entry (truncated?)" in 8 of 20 runs.
"""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.orm import Session

from keyserver.service import KeyService
from keyserver.store.audit import NewEntry
from keyserver.store.audit import append as append_entry
from keyserver.store.engine import make_engine


def test_verify_under_concurrent_appends(service: KeyService) -> None:
    admin = service.local_actor("ops")
    stop = threading.Event()
    appended: list[int] = []

    def append() -> None:
        # Plain appends, one per transaction, as fast as the database takes them.
        engine = make_engine(service.settings)
        key = service.keyring.audit_key
        try:
            i = 0
            while not stop.is_set():
                with Session(engine) as session, session.begin():
                    new = NewEntry(actor="load", action="evaluate", outcome="ok")
                    append_entry(session, key, service.settings.clock(), new)
                i += 1
            appended.append(i)
        finally:
            engine.dispose()

    t = threading.Thread(target=append)
    t.start()
    try:
        results = [service.audit_verify(admin) for _ in range(25)]
    finally:
        stop.set()
        t.join()
    print(f"\n[faults] 25 verifies during {appended[0]} appends")
    assert appended[0] > 0
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:1]
    assert service.audit_verify(admin)["ok"] is True


def test_rows_beyond_the_head_are_flagged(service: KeyService) -> None:
    admin = service.local_actor("ops")
    service.add_principal(admin, "r", ["reader"])
    head = service.audit_verify(admin)
    assert head["ok"] is True
    with service.engine.begin() as conn:  # an attacker inserts a row, leaves the head alone
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, container, outcome, remote,"
                " details, prev_hash, hash) SELECT seq + 1, at, actor, action, container,"
                " outcome, remote, details, hash, hash FROM audit_log WHERE seq = :s"
            ),
            {"s": head["head_seq"]},
        )
    result = service.audit_verify(admin)
    assert result["ok"] is False
    assert result["first_bad_seq"] == head["head_seq"] + 1
