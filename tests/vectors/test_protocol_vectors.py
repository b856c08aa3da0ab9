"""protocol.md vectors (spec/vectors/protocol/) against both implementations.

The receipt MAC is computed by the reader (pycontainer) and checked by the key server
(keyserver._domain.keys); the audit chain hash by the key server's own audit store; the
container-row MAC by keyserver._domain.rowmac. Both
must reproduce the vectors that generate.py computes from the formulas alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from keyserver._domain import keys, rowmac
from keyserver._store import audit
from keyserver._store.models import AuditEntry
from pycontainer.format import keyschedule

PROTOCOL = Path(__file__).resolve().parents[2] / "spec" / "vectors" / "protocol"


def _load(name: str) -> dict[str, Any]:
    doc = json.loads((PROTOCOL / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_receipt_mac_vectors() -> None:
    cases = _load("receipt_mac.json")["cases"]
    assert len(cases) >= 3
    for case in cases:
        secret, cid, challenge = (
            bytes.fromhex(case[k]) for k in ("receipt_secret", "container_id", "challenge")
        )
        receipt_key = keyschedule.receipt_key(secret, cid)
        assert receipt_key.hex() == case["receipt_key"]
        assert keyschedule.receipt_mac(receipt_key, cid, challenge).hex() == case["mac"]
        assert keys.receipt_mac(receipt_key, cid, challenge).hex() == case["mac"]


def test_audit_chain_vectors() -> None:
    doc = _load("audit_chain.json")
    ring = keys.KeyRing.from_master(bytes.fromhex(doc["master_key"]))
    assert ring.audit_key.hex() == doc["audit_key"]
    prev = bytes(32)
    for item in doc["entries"]:
        entry = item["entry"]
        assert audit.canonical_json(entry) == item["canonical_json"]
        assert item["prev_hash"] == prev.hex()
        row = AuditEntry(
            seq=entry["seq"],
            at=datetime.fromisoformat(entry["at"].replace("Z", "+00:00")),
            actor=entry["actor"],
            action=entry["action"],
            container=entry["container"],
            outcome=entry["outcome"],
            remote=entry["remote"],
            details=audit.canonical_json(entry["details"]),
        )
        assert audit.entry_document(row) == entry
        digest = audit.entry_hash(ring.audit_key, prev, row)
        assert digest.hex() == item["hash"]
        prev = digest


def test_row_mac_vectors() -> None:
    """spec §row-integrity: the key server's encoding and MAC of a container row."""
    doc = _load("row_mac.json")
    row_key = keys.KeyRing.from_master(bytes.fromhex(doc["master_key"])).keys_of(1).row_key
    assert row_key.hex() == doc["row_key"]
    assert len(doc["rows"]) >= 2
    for item in doc["rows"]:
        fields = item["fields"]
        assert [(f["name"], f["kind"]) for f in fields] == list(rowmac.FIELDS)
        row = {f["name"]: _row_value(f["kind"], f["value"]) for f in fields}
        assert rowmac.encode(row).hex() == item["encoded"]
        assert rowmac.row_mac(row_key, row).hex() == item["row_mac"]
        assert rowmac.verifies(row_key, row, bytes.fromhex(item["row_mac"]))
        assert not rowmac.verifies(row_key, {**row, "unconfirmed": 0}, row_mac_of(item))


def row_mac_of(item: dict[str, Any]) -> bytes:
    return bytes.fromhex(item["row_mac"])


def _row_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return bytes.fromhex(value)
    if kind == "time":
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
    return value
