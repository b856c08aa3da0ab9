"""Audit chain: verify passes on real history and detects every kind of tampering.

Tampering is done with plain SQL on the real database, as an attacker with database
write access (but without the master key) would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from keyserver._domain.lifecycle import Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store.audit import canonical_json
from tests.support.clock import FakeClock
from tests.support.database import Pristine, Snapshot


@pytest.fixture(scope="module")
def history_state(
    process_settings: Settings, pristine: Pristine, process_clock: FakeClock
) -> Snapshot:
    """A real history (13 audited writes), made once per module and backend from the migrated
    state at the clock's start; each test gets these rows back (``history``) and tampers with
    them."""
    pristine.reset()
    process_clock.t = FakeClock().t
    service = KeyService(process_settings)
    try:
        admin = service.local_actor("ops")
        w = service.authenticate(service.add_principal(admin, "w", ["writer"])["token"])
        service.add_principal(admin, "r", ["reader"])
        for i in range(4):
            reg = service.register(w, label=f"c{i}", medium="usb", readers=["r"], reader_groups=[])
            service.commit(w, reg["container_id"], header_digest=b"\1" * 32, receipt_key=b"\2" * 32)
        service.change_state(admin, "suspend", "medium", "usb", "test")
    finally:
        service.close()
    return pristine.snapshot()


@pytest.fixture
def history(
    service: KeyService, pristine: Pristine, history_state: Snapshot
) -> Iterator[tuple[KeyService, Actor]]:
    pristine.reset(history_state)
    admin = service.local_actor("ops")
    result = service.audit_verify(admin)
    assert result["ok"] is True and result["entries"] == 2 + 8 + 1
    yield service, admin


def _sql(service: KeyService, statement: str, **params: object) -> None:
    with service.engine.begin() as conn:
        conn.execute(text(statement), params)


def _verify(service: KeyService, admin: Actor) -> dict[str, Any]:
    return service.audit_verify(admin)


def test_edit_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    _sql(service, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")
    result = _verify(service, admin)
    assert result["ok"] is False and result["first_bad_seq"] == 5


def test_details_edit_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    _sql(
        service,
        "UPDATE audit_log SET details = :d WHERE seq = 11",
        d=canonical_json({"affected": 0}),
    )
    assert _verify(service, admin)["first_bad_seq"] == 11


def test_delete_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    _sql(service, "DELETE FROM audit_log WHERE seq = 4")
    result = _verify(service, admin)
    assert result["ok"] is False and result["first_bad_seq"] == 4


def test_delete_and_renumber_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    _sql(service, "DELETE FROM audit_log WHERE seq = 4")
    for seq in range(5, 12):
        _sql(service, "UPDATE audit_log SET seq = :n WHERE seq = :o", n=seq - 1, o=seq)
    _sql(service, "UPDATE audit_head SET seq = 10")
    assert _verify(service, admin)["first_bad_seq"] == 4


def test_insert_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    # Make room after seq 6 and insert a forged entry linked to 6 (plain SHA-256:
    # the attacker does not have the HMAC key).
    for seq in range(11, 6, -1):
        _sql(service, "UPDATE audit_log SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    with service.engine.begin() as conn:
        prev = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 6")).scalar_one()
        forged = hashlib.sha256(bytes(prev) + b"forged").digest()
        conn.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, container, outcome, remote,"
                " details, prev_hash, hash) SELECT 7, at, 'mallory', 'evaluate', NULL, 'ok',"
                " NULL, '{}', :p, :h FROM audit_log WHERE seq = 6"
            ),
            {"p": prev, "h": forged},
        )
        conn.execute(text("UPDATE audit_head SET seq = 12"))
    assert _verify(service, admin)["first_bad_seq"] == 7


def test_reorder_detected(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    _sql(service, "UPDATE audit_log SET seq = -1 WHERE seq = 7")
    _sql(service, "UPDATE audit_log SET seq = 7 WHERE seq = 8")
    _sql(service, "UPDATE audit_log SET seq = 8 WHERE seq = -1")
    assert _verify(service, admin)["first_bad_seq"] == 7


def test_truncation_needs_a_recorded_head(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    recorded = _verify(service, admin)
    with service.engine.begin() as conn:
        h10 = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 10")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq = 11"))
    # Without updating the head row: detected.
    assert _verify(service, admin)["problem"].startswith("head row")
    _sql(service, "UPDATE audit_head SET seq = 10, hash = :h", h=h10)
    # Head rolled back too: only a previously recorded head reveals it.
    assert _verify(service, admin)["ok"] is True
    expected = (recorded["head_seq"], bytes.fromhex(recorded["head_hash"]))
    result = service.audit_verify(admin, expected_head=expected)
    assert result["ok"] is False and result["first_bad_seq"] == 11


def test_rehash_without_key_detected(history: tuple[KeyService, Actor]) -> None:
    """Someone with database write access recomputes the chain with plain SHA-256."""
    service, admin = history
    with service.engine.begin() as conn:
        rows = conn.execute(text("SELECT seq, details FROM audit_log ORDER BY seq")).all()
        prev = b"\0" * 32
        for seq, details in rows:
            new = hashlib.sha256(prev + details.encode()).digest()
            conn.execute(
                text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev, "h": new, "s": seq},
            )
            prev = new
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert _verify(service, admin)["first_bad_seq"] == 1


def test_export_and_http_verify(history: tuple[KeyService, Actor]) -> None:
    service, admin = history
    lines = list(service.audit_export(admin))
    docs = [json.loads(line) for line in lines]
    assert [d["seq"] for d in docs] == list(range(1, 12))
    assert all(docs[i]["prev_hash"] == docs[i - 1]["hash"] for i in range(1, len(docs)))
    assert docs[0]["prev_hash"] == "00" * 32
    # Secrets never enter the audit log: no token appears in the export.
    assert "rwc_" not in "".join(lines)


def test_http_audit_endpoints(world) -> None:  # type: ignore[no-untyped-def]
    resp = world.call("auditor", "GET", "/v1/audit/verify")
    assert resp.status_code == 200 and resp.json()["ok"] is True
    export = world.call("official", "GET", "/v1/audit/export")
    assert export.headers["content-type"].startswith("application/jsonl")
    seqs = [json.loads(line)["seq"] for line in export.text.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 7  # 7 principals
    page = world.call("auditor", "GET", "/v1/audit", params={"limit": 3}).json()
    assert [e["seq"] for e in page["entries"]] == [1, 2, 3] and page["next_after_seq"] == 3
