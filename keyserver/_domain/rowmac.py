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
- **Policy**: the reader policy (``container_readers``, ``container_reader_groups``) is
  written once, at registration, and recorded in the register entry; a release admitted
  by a policy row must be admitted by that (authenticated) entry too (:func:`policy_admits`).
"""

from __future__ import annotations

import functools
import hmac
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keyserver._domain.keys import ROW_MAC_LABEL, KeyRing

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
    return encode_values([row[name] for name in FIELD_NAMES])


_KINDS = tuple(kind for _, kind in FIELDS)
_NULL = b"\x00"


def _part(kind: str, v: Any) -> bytes:
    if v is None:
        return _NULL
    if kind == "int":
        return _INT_PREFIX + _I64.pack(int(v))
    if kind == "time":
        return _INT_PREFIX + _I64.pack(_micros(v))
    raw = v.encode("utf-8") if kind == "text" else bytes(v)
    return b"\x01" + _U32.pack(len(raw)) + raw


def encode_parts(values: Sequence[Any]) -> list[bytes]:
    """The encoded fields of values in :data:`FIELDS` order, one item per field."""
    return [_part(kind, v) for kind, v in zip(_KINDS, values, strict=True)]


def encode_field(name: str, value: Any) -> bytes:
    """The encoded part of one field (see :func:`encode_parts`)."""
    return _part(_KINDS[FIELD_NAMES.index(name)], value)


# The batch path (:func:`changed_macs`): the same bytes as :func:`_part`, a field at a time
# for many rows, with the loops in C where a column allows it (issue 15: a bulk suspend of
# 100,000 containers spent most of its CPU encoding rows one value at a time).
_INT_PART = struct.Struct(">BIq")  # 0x01, u32 length 8, i64: a present "int" or "time"
_VAR_HEAD = struct.Struct(">BI")  # 0x01, u32 length: before a present "bytes" or "text"
_MICROSECOND = timedelta(microseconds=1)
_PACK_INT = functools.partial(_INT_PART.pack, 1, 8)
# Anything a fast path below would not take as _part does (a text in an integer column of
# a hand-edited SQLite row, a naive datetime): that column is encoded by _part instead.
_UNUSUAL = (TypeError, ValueError, AttributeError, OverflowError, struct.error)


def _fast_column(kind: str, values: Sequence[Any]) -> list[bytes]:
    """:func:`_part` of each value of one field, or an exception of :data:`_UNUSUAL`."""
    if kind == "bytes":
        # A container's id, sealed seeds and digests: distinct per row.
        return [_NULL if v is None else _VAR_HEAD.pack(1, len(v)) + v for v in values]
    distinct = set(values)
    if len(distinct) * 4 <= len(values):
        # A medium's rows share their state, medium, issuer, budget...: each distinct
        # value is encoded once (values equal as keys encode alike: 1 == True, equal
        # instants), then looked up per row.
        table = {v: _part(kind, v) for v in distinct}
        return list(map(table.__getitem__, values))
    if kind == "int":
        if None not in distinct:
            return list(map(_PACK_INT, values))
        return [_NULL if v is None else _INT_PART.pack(1, 8, v) for v in values]
    if kind == "time":
        return [
            _NULL if v is None else _INT_PART.pack(1, 8, (v - _EPOCH) // _MICROSECOND)
            for v in values
        ]
    return [_part(kind, v) for v in values]


def encode_column(kind: str, values: Sequence[Any]) -> list[bytes]:
    """The encoded part of one field (of ``kind``, :data:`FIELDS`) for each of ``values``.

    Byte for byte :func:`_part` of each value: a fast path where the column's values are
    of their usual types, else :func:`_part` itself (tested against each other).
    """
    try:
        return _fast_column(kind, values)
    except _UNUSUAL:
        return [_part(kind, v) for v in values]


def changed_macs(
    columns: Sequence[Sequence[Any]],
    row_keys: Sequence[bytes],
    stored: Sequence[bytes | None],
    changes: Mapping[int, bytes],
) -> list[bytes | None]:
    """For a bulk change of constants (a suspend, a destroy): each row's MAC after it.

    ``columns``: per field of :data:`FIELDS` (in that order), its value in each row;
    ``row_keys``: each row's key (its own generation); ``stored``: each row's MAC as
    read; ``changes``: field index -> encoded new value (:func:`encode_field`). A row
    whose stored MAC does not verify (or is NULL) gets None: it must keep its failing MAC
    (spec §row-integrity, the module rule). The same MACs as :func:`row_mac` of each row
    with the changed values (tests/keyserver/test_rowmac_batch.py).
    """
    parts = [encode_column(kind, col) for kind, col in zip(_KINDS, columns, strict=True)]
    old = _macs(row_keys, map(b"".join, zip(*parts, strict=True)))
    # NULL never verifies: compared with b"" (a length mismatch is simply False).
    ok = list(map(hmac.compare_digest, old, [b"" if s is None else bytes(s) for s in stored]))
    for i, part in changes.items():
        parts[i] = [part] * len(row_keys)
    new = _macs(row_keys, map(b"".join, zip(*parts, strict=True)))
    return [mac if good else None for mac, good in zip(new, ok, strict=True)]


def _macs(row_keys: Sequence[bytes], bodies: Iterable[bytes]) -> list[bytes]:
    """HMAC-SHA-256(key, label 0x00 || body) per row, the label hashed once per key.

    The same MAC as :func:`row_mac` (tests/keyserver/test_rowmac_batch.py). Security
    decision: the library's HMAC object, copied per row, never an HMAC assembled here from
    SHA-256 states and pads. That was 0.05 CPU-s faster per 100,000 rows and pass (two
    passes per bulk change: about 10% of a bulk suspend's server CPU; seventeenth session,
    bench/profiles/keyserver.md): not worth a cryptographic construction of our own (house
    rule). ``hmac.digest`` one-shot was slower still: it redoes the key's pads every row.
    """
    started = {k: hmac.new(k, _HEAD, "sha256") for k in set(row_keys)}
    out = []
    for started_mac, body in zip(map(started.__getitem__, row_keys), bodies, strict=True):
        mac = started_mac.copy()
        mac.update(body)
        out.append(mac.digest())
    return out


def parts_mac(row_key: bytes, parts: Sequence[bytes]) -> bytes:
    """The row MAC of one row over its encoded parts (:func:`encode_parts`)."""
    return hmac.new(row_key, _HEAD + b"".join(parts), "sha256").digest()


def parts_verify(row_key: bytes, parts: Sequence[bytes], stored: bytes | None) -> bool:
    """True when ``stored`` is the MAC of the encoded ``parts`` (constant-time; NULL never)."""
    if stored is None:
        return False
    return hmac.compare_digest(parts_mac(row_key, parts), bytes(stored))


def replace_parts(parts: Sequence[bytes], values: Mapping[str, Any]) -> list[bytes]:
    """``parts`` with every MACed field named in ``values`` encoded anew (others ignored).

    Why: a release changes two to eight of the 17 fields of a row it has just verified;
    the MAC of the row it writes back then encodes those alone, under the chain head
    (issue 15), and the result is byte for byte :func:`encode_parts` of the new row.
    """
    out = list(parts)
    for i, name in enumerate(FIELD_NAMES):
        if name in values:
            out[i] = _part(_KINDS[i], values[name])
    return out


def encode_values(values: Sequence[Any]) -> bytes:
    """:func:`encode` of the values in :data:`FIELDS` order (no mapping)."""
    return _HEAD + b"".join(encode_parts(values))


def values_mac(row_key: bytes, values: Sequence[Any]) -> bytes:
    """:func:`row_mac` of the values in :data:`FIELDS` order."""
    return hmac.new(row_key, encode_values(values), "sha256").digest()


# spec §rotation: the column naming the master-key generation whose row_key MACs the row.
# Not in FIELDS: it selects the key, so a row whose generation is changed does not verify.
GENERATION = "key_generation"


def key_of(ring: KeyRing, row: Mapping[Any, Any]) -> bytes:
    """The row key of ``row``'s generation (1 for a row read before the column existed)."""
    return ring.keys_of(int(row.get(GENERATION) or 1)).row_key


def row_mac(row_key: bytes, row: Mapping[Any, Any]) -> bytes:
    """HMAC-SHA-256 of a container row (spec §row-integrity)."""
    return hmac.new(row_key, encode(row), "sha256").digest()


def verifies(row_key: bytes, row: Mapping[Any, Any], stored: bytes | None) -> bool:
    """True when ``stored`` is the row's MAC (constant-time compare; NULL never verifies)."""
    return parts_verify(row_key, encode_parts([row[name] for name in FIELD_NAMES]), stored)


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
        listed = _listed(entry.details)
        if listed is not None:
            # The entry names every container it changed: this row is one of them or not.
            if cid_text in listed:
                return entry
            continue
        if not _could_change(entry, row["state"]):
            continue
        scope, target = entry.details.get("scope"), entry.details.get("target")
        if scope == "medium" and row["medium"] is not None and target == row["medium"]:
            return entry
        if scope == "issuer" and issuer is not None and target == issuer:
            return entry
        if scope == "sweep" and _swept(row, entry.at):
            return entry
    return None


def _listed(details: Mapping[str, Any]) -> set[str] | None:
    """The ids a bulk entry changed, when it lists all of them, else None.

    A bulk change lists the ids it changed up to ``audit_inline_ids_max``, beyond that only
    their digest (keyserver/_service/revocation.py ``ids_details``); a restore lists the
    rows whose loss-report deadline it cleared apart (``deadline_cleared``). Without the
    list, the entry's scope decides (:func:`later_change`).
    """
    ids = details.get("container_ids")
    if not isinstance(ids, list) or details.get("affected") != len(ids):
        return None
    listed = {str(i) for i in ids}
    cleared = details.get("deadline_cleared")
    if cleared is not None:
        more = cleared.get("container_ids") if isinstance(cleared, Mapping) else None
        if not isinstance(more, list):
            return None
        listed.update(str(i) for i in more)
    return listed


def _could_change(entry: LaterEntry, state: Any) -> bool:
    """Could this bulk entry have changed a row in ``state`` (the row as stored)?

    The entries before it did not change the row (:func:`later_change` returns the first
    that did), so the row was in that state when the entry was made. An official's
    suspension changes active rows only, a restore suspended ones and pending ones a loss
    report locked (spec §lifecycle); a loss report changes every live row, a destroy every
    row not destroyed yet. Without this, suspending a medium made every container on it
    that was suspended already look copied back from a backup (its row older than the
    entry), and restoring a medium did so to every active one: refused from then on.
    """
    if entry.action == "suspend" and not entry.details.get("loss_report"):
        return bool(state == "active")
    if entry.action == "restore":
        return state in {"suspended", "pending"}
    return bool(state != "destroyed")


def _swept(row: Mapping[Any, Any], at: datetime) -> bool:
    """Would a sweep at ``at`` have destroyed this row (keyserver/_service/revocation.py)?"""
    if row["state"] == "destroyed":
        return False

    def due(name: str) -> bool:
        value = row[name]
        return value is not None and value <= at

    pending_due = row["state"] == "pending" and due("pending_expires_at")
    return pending_due or due("not_after") or due("destroy_after")


def policy_admits(
    register: Mapping[str, Any], actor_name: str, actor_groups: Iterable[str]
) -> bool:
    """Does the container's registration (its audit entry's details) admit the actor?

    spec §row-integrity: the reader policy is written once, at registration, and recorded
    in that entry; a policy row added in the database later admits nobody.
    """
    readers, groups = register.get("readers") or [], register.get("reader_groups") or []
    return actor_name in readers or any(g in groups for g in actor_groups)
