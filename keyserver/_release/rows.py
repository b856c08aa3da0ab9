"""A locked container row as the release decides on it, from either of its two reads.

The batch reads a container row with the rows of the whole batch (Batch.prefetch: values
by column name) or alone (the evaluation statement, evaluation.EVALUATION_STMT: values by
position, with the policy probes and the window counts). :func:`statement_values` names
the second's columns, so both become the same
:class:`~keyserver._store.evaluation.EvaluationRow` by one construction
(:func:`keyserver._store.evaluation.row_for_actor`, also the store's own read), and the
paths cannot decide differently on the same row (tests/keyserver/test_batch_semantics.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def statement_values(
    cid: bytes, row: Sequence[Any], dt: Callable[[Any], Any]
) -> tuple[dict[str, Any], bool, bool, tuple[int, int]]:
    """An EVALUATION_STMT row: (columns by name, named, grouped, (principal, medium) counts).

    ``dt``: the dialect's datetime result conversion (compiled.HotPath).
    """
    # Positions 17..: repository.EXTRA_MAC_COLUMNS, row_mac, own_newest, bulk_newest.
    _, receipt, destroy_after, reset, last, generation, mac, own, bulk = row[17:26]
    values = {
        "id": cid,
        "state": row[0],
        "issuer_id": row[1],
        "medium": row[14],
        "seed_sealed": row[6],
        "receipt_key_sealed": receipt,
        "header_digest": row[11],
        "password_required": row[13],
        "attempt_budget": row[8],
        "unconfirmed": row[7],
        "pending_expires_at": dt(row[2]),
        "not_after": dt(row[3]),
        "destroyed_at": dt(row[4]),
        "destroy_after": dt(destroy_after),
        "public_reason": row[5],
        "suspend_cause": row[12],
        "budget_reset_at": dt(reset),
        "last_audit_seq": last,
        "key_generation": generation,
        "row_mac": mac,
        "own_newest": own,
        "bulk_newest": bulk,
    }
    return values, bool(row[9]), bool(row[10]), (int(row[16]), int(row[15]))
