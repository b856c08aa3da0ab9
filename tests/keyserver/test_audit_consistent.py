"""audit verify while entries are being appended: never a false alarm (issue 14).

The chain is verified up to the head read first; entries appended meanwhile are after it.
Before, verify read the head last and, on PostgreSQL under load, reported "head row
disagrees with the last entry (truncated?)" in 8 of 20 runs.
"""

from __future__ import annotations

import hmac
import json
import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from keyserver._service import KeyService
from keyserver._store.audit import NewEntry
from keyserver._store.audit import append as append_entry
from keyserver._store.engine import make_engine


def _appender(service: KeyService, stop: threading.Event, appended: list[int]) -> None:
    """Plain appends, one per transaction, as fast as the database takes them.

    ``appended[0]`` counts them as they commit.
    """
    engine = make_engine(service.settings)
    key = service.keyring.audit_key
    try:
        while not stop.is_set():
            with Session(engine) as session, session.begin():
                new = NewEntry(actor="load", action="evaluate", outcome="ok")
                append_entry(session, key, service.settings.clock(), new)
            appended[0] += 1
    finally:
        engine.dispose()


def _after_appends(appended: list[int], more: int) -> None:
    """Wait until ``more`` further entries were appended (the load is really running)."""
    target = appended[0] + more
    deadline = time.monotonic() + 60
    while appended[0] < target and time.monotonic() < deadline:
        time.sleep(0.005)


def test_export_under_concurrent_appends_is_a_whole_chain(service: KeyService) -> None:
    """The export ends at a head that existed and verifies on its own, line by line."""
    admin = service.local_actor("ops")
    stop = threading.Event()
    appended = [0]
    t = threading.Thread(target=_appender, args=(service, stop, appended))
    t.start()
    exports = []
    try:
        for _ in range(5):
            _after_appends(appended, 5)
            exports.append(list(service.audit_export(admin)))
    finally:
        stop.set()
        t.join()
    print(f"\n[faults] 5 exports during {appended[0]} appends")
    key = service.keyring.audit_key
    for lines in exports:
        prev = "00" * 32
        for n, line in enumerate(lines, start=1):
            entry = json.loads(line)
            # Recomputed here from spec §audit's formula, not with the server's code.
            doc = {k: v for k, v in entry.items() if k not in {"prev_hash", "hash"}}
            body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = hmac.new(key, bytes.fromhex(prev) + body.encode(), "sha256").hexdigest()
            assert (entry["seq"], entry["prev_hash"], entry["hash"]) == (n, prev, digest)
            prev = entry["hash"]
        last = json.loads(lines[-1])
        head = (last["seq"], bytes.fromhex(last["hash"]))
        assert service.audit_verify(admin, head)["ok"] is True
    assert appended[0] > 0


def test_verify_under_concurrent_appends(service: KeyService) -> None:
    admin = service.local_actor("ops")
    stop = threading.Event()
    appended = [0]
    t = threading.Thread(target=_appender, args=(service, stop, appended))
    t.start()
    try:
        _after_appends(appended, 1)
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
