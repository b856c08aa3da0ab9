"""spec §row-integrity: the bulk path's MACs are the per-row MACs (issue 15).

A bulk suspend or destroy encodes a field at a time for many rows
(:func:`keyserver._domain.rowmac.encode_column`) and MACs them together
(:func:`~keyserver._domain.rowmac.changed_macs`); here both are held against the per-row
encoding (``_part``, :func:`~keyserver._domain.rowmac.encode_parts`) and
:func:`~keyserver._domain.rowmac.row_mac`, with real HMAC-SHA-256, on the values a
database gives back and on values only a hand-edited SQLite row holds.
"""

from __future__ import annotations

import hmac
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyserver._domain import rowmac

KINDS = dict(rowmac.FIELDS)


def _row(i: int, *, state: str = "active") -> dict[str, Any]:
    """A container row as the database gives it back (ids and sealed values distinct)."""
    at = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC) + timedelta(microseconds=7919 * i)
    return {
        "id": os.urandom(16),
        "state": state,
        "issuer_id": 3 + i % 2,
        "medium": "usb-0001",
        "seed_sealed": os.urandom(60),
        "receipt_key_sealed": None if i % 3 == 0 else os.urandom(60),
        "header_digest": os.urandom(32),
        "password_required": i % 2 == 0,
        "attempt_budget": 10,
        "unconfirmed": i % 4,
        "pending_expires_at": at if i % 2 else None,
        "not_after": None,
        "destroyed_at": None,
        "destroy_after": at + timedelta(days=7) if i % 5 == 0 else None,
        "suspend_cause": None,
        "budget_reset_at": None,
        "last_audit_seq": 1000 + i if i % 7 else None,
    }


@pytest.mark.parametrize("name", rowmac.FIELD_NAMES)
@pytest.mark.parametrize("count", [1, 9, 200])
def test_a_column_encodes_as_its_values_one_by_one(name: str, count: int) -> None:
    # 200 rows take the shared-values path for the low-cardinality fields, 1 and 9 not.
    values = [_row(i)[name] for i in range(count)]
    assert rowmac.encode_column(KINDS[name], values) == [_one(name, v) for v in values]


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        # What a hand-edited SQLite row can hold: a text or a float in an integer column,
        # an integer in a blob column, a bool among integers, a naive time.
        ("int", ["5", 5, 5.0, True, None] * 10),
        ("int", [1, True, 1.0] * 20),
        ("bytes", [5, b"x", None, memoryview(b"yz")] * 10),
        ("text", ["a", None, "ä"] * 20),
    ],
)
def test_unusual_values_encode_as_one_by_one(kind: str, values: list[Any]) -> None:
    name = next(n for n, k in rowmac.FIELDS if k == kind)
    assert rowmac.encode_column(kind, values) == [_one(name, v) for v in values]


def test_a_naive_time_is_refused_as_one_by_one() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(TypeError):
        rowmac.encode_column("time", [naive] * 8)
    with pytest.raises(TypeError):
        _one("not_after", naive)


def _one(name: str, value: Any) -> bytes:
    """The per-row encoding of one field's value (encode_parts: the release path's)."""
    row = {**_row(0), name: value}
    return rowmac.encode_parts([row[n] for n in rowmac.FIELD_NAMES])[rowmac.FIELD_NAMES.index(name)]


def test_changed_macs_are_the_per_row_macs_and_failing_rows_get_none() -> None:
    keys = [os.urandom(32), os.urandom(32)]  # two generations among the rows
    rows = [_row(i) for i in range(300)]
    row_keys = [keys[i % 2] for i in range(len(rows))]
    stored: list[bytes | None] = [rowmac.row_mac(k, r) for k, r in zip(row_keys, rows, strict=True)]
    stored[4] = None  # never MACed
    stored[5] = rowmac.row_mac(row_keys[5], {**rows[5], "attempt_budget": 999})  # edited
    stored[6] = rowmac.row_mac(row_keys[6], rows[6])[:16]  # truncated
    new = {"state": "suspended", "suspend_cause": "official", "last_audit_seq": 4242}
    changes = {rowmac.FIELD_NAMES.index(n): rowmac.encode_field(n, v) for n, v in new.items()}
    columns = [[r[n] for r in rows] for n in rowmac.FIELD_NAMES]
    macs = rowmac.changed_macs(columns, row_keys, stored, changes)
    for i, (row, key, mac) in enumerate(zip(rows, row_keys, macs, strict=True)):
        if i in {4, 5, 6}:
            assert mac is None, i
        else:
            assert mac == rowmac.row_mac(key, {**row, **new}), i
            assert rowmac.verifies(key, {**row, **new}, mac)


@pytest.mark.parametrize("key_length", [1, 32, 63, 64, 65, 200])
def test_the_batch_hmac_is_the_stdlib_hmac_for_any_key_length(key_length: int) -> None:
    # The batch path builds HMAC-SHA-256 from two SHA-256 states (RFC 2104); a row key is
    # 32 bytes, but keys up to and over the 64-byte block must give the stdlib's MAC too.
    key = os.urandom(key_length)
    rows = [_row(i) for i in range(40)]
    stored = [rowmac.row_mac(key, r) for r in rows]
    columns = [[r[n] for r in rows] for n in rowmac.FIELD_NAMES]
    new = {"state": "destroyed"}
    changes = {rowmac.FIELD_NAMES.index(n): rowmac.encode_field(n, v) for n, v in new.items()}
    macs = rowmac.changed_macs(columns, [key] * len(rows), stored, changes)
    assert macs == [hmac.new(key, rowmac.encode({**r, **new}), "sha256").digest() for r in rows]
