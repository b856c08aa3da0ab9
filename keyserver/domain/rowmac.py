"""Container-row integrity: the row MAC and the audit trail's word on a row (I/O-free).

spec §row-integrity. Whoever can write the database (or restore a copy of it) must not be
able to bring a destroyed or suspended container back, raise its attempt budget, reset its
count of unconfirmed attempts or swap its sealed seed. Two checks, both before a row is
used for anything that releases or grants:

- **The MAC**: ``row_mac = HMAC-SHA-256(row_key, encode(row))`` over the columns whose change
  matters for a release (:data:`FIELDS`). An edited row, or a row copied to another id,
  does not verify; the database never holds ``row_key`` (it is derived from the master key).
- **Freshness**: ``last_audit_seq`` is one of the MACed columns, so a row copied back from
  an older backup still names the audit entry of its last change then. The audit chain
  (tamper-evident, append-only) is asked whether something changed the container after
  that entry (:func:`later_change`): an entry naming the container, or a suspend, restore or
  destroy of its medium, its issuer, or a sweep whose rule covered the row.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyserver.domain.keys import ROW_MAC_LABEL

ROW_MAC_BYTES = 32

# spec §row-integrity: the MACed columns, in this order, each with its encoding kind.
# "bytes": as stored; "text": UTF-8; "int": signed 64-bit big-endian (a bool is 0 or 1);
# "time": microseconds since 1970-01-01T00:00:00Z as "int".
FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "bytes"),
    ("state", "text"),
    ("issuer_id", "int"),
    ("medium", "text"),
    ("seed_sealed", "bytes"),
    ("receipt_key_sealed", "bytes"),
    ("header_digest", "bytes"),
    ("password_required", "int"),
    ("attempt_budget", "int"),
    ("unconfirmed", "int"),
    ("pending_expires_at", "time"),
    ("not_after", "time"),
    ("destroyed_at", "time"),
    ("destroy_after", "time"),
    ("suspend_cause", "text"),
    ("budget_reset_at", "time"),
    ("last_audit_seq", "int"),
)
FIELD_NAMES: tuple[str, ...] = tuple(name for name, _ in FIELDS)

# Audit actions that change containers in bulk (their entries name no container).
BULK_ACTIONS: tuple[str, ...] = ("suspend", "restore", "destroy")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")
# Integers always take 8 bytes: their "present, length 8" prefix is fixed.
_INT_PREFIX = b"\x01" + _U32.pack(8)


def _micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _variable(raw: bytes) -> bytes:
    return b"\x01" + _U32.pack(len(raw)) + raw


_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "bytes": lambda v: _variable(bytes(v)),
    "text": lambda v: _variable(str(v).encode("utf-8")),
    "int": lambda v: _INT_PREFIX + _I64.pack(int(v)),
    "time": lambda v: _INT_PREFIX + _I64.pack(_micros(v)),
}
# Runs twice per release (verify, then the MAC of the row written): one pass, no lookups.
_PLAN = tuple((name, _ENCODERS[kind]) for name, kind in FIELDS)
_HEAD = ROW_MAC_LABEL + b"\x00"


def encode(row: Mapping[Any, Any]) -> bytes:
    """The MAC input: label, 0x00, then per field 0x00 (NULL) or 0x01 || u32 length || value."""
    parts = [_HEAD]
    for name, enc in _PLAN:
        value = row[name]
        parts.append(b"\x00" if value is None else enc(value))
    return b"".join(parts)


def row_mac(row_key: bytes, row: Mapping[Any, Any]) -> bytes:
    """HMAC-SHA-256 of a container row (spec §row-integrity)."""
    return hmac.new(row_key, encode(row), "sha256").digest()


def verifies(row_key: bytes, row: Mapping[Any, Any], stored: bytes | None) -> bool:
    """True when ``stored`` is the row's MAC (constant-time compare; NULL never verifies)."""
    if stored is None:
        return False
    return hmac.compare_digest(row_mac(row_key, row), bytes(stored))


@dataclass(frozen=True)
class LaterEntry:
    """An audit entry after a row's ``last_audit_seq`` that may have changed the row."""

    seq: int
    container: str | None
    action: str
    at: datetime
    details: Mapping[str, Any]


def later_change(
    row: Mapping[Any, Any], cid_text: str, issuer: str | None, entries: Iterable[LaterEntry]
) -> LaterEntry | None:
    """The first entry that changed this container after its row was written, or None.

    ``entries`` are the successful entries after the row's ``last_audit_seq`` that name the
    container or no container (bulk changes, :data:`BULK_ACTIONS`). A container-scoped one
    (a release, a receipt, a state change) means the row is older than the log. A bulk one
    counts when its scope covers the row: its medium, its issuer (by name), or a sweep rule
    the row met at the entry's time (the sweep destroys what its rule matches, so a row that
    met it then would have been destroyed).
    """
    for entry in entries:
        if entry.details.get("affected") == 0:
            continue  # a suspend, restore or destroy that changed nothing (idempotent)
        if entry.container is not None:
            if entry.container == cid_text:
                return entry
            continue
        if entry.action not in BULK_ACTIONS:
            continue
        scope, target = entry.details.get("scope"), entry.details.get("target")
        if scope == "medium" and row["medium"] is not None and target == row["medium"]:
            return entry
        if scope == "issuer" and issuer is not None and target == issuer:
            return entry
        if scope == "sweep" and _swept(row, entry.at):
            return entry
    return None


def _swept(row: Mapping[Any, Any], at: datetime) -> bool:
    """Would a sweep at ``at`` have destroyed this row (keyserver/service/revocation.py)?"""
    if row["state"] == "destroyed":
        return False

    def due(name: str) -> bool:
        value = row[name]
        return value is not None and value <= at

    pending_due = row["state"] == "pending" and due("pending_expires_at")
    return pending_due or due("not_after") or due("destroy_after")
