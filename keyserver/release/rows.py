"""A locked container row as the release decides on it, from either of its two reads.

The batch reads a container row with the rows of the whole batch (Batch.prefetch: values
by column name) or alone (the evaluation statement, evaluation.EVALUATION_STMT: values by
position, with the policy probes and the window counts). Both become the same
:class:`~keyserver.store.evaluation.EvaluationRow` here, by one construction, so the two
paths cannot decide differently on the same row (tests/keyserver/test_batch_semantics.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keyserver.domain.lifecycle import ContainerView, State
from keyserver.store.evaluation import EvaluationRow, integrity_members


def evaluation_row(
    values: Mapping[str, Any],
    actor_name: str,
    actor_groups: frozenset[str],
    *,
    named: bool,
    grouped: bool,
    counts: tuple[int, int] = (0, 0),
) -> EvaluationRow:
    """The row for one actor.

    Args:
        values: The row's columns by name (datetimes converted), with ``own_newest`` and
            ``bulk_newest`` (spec §row-integrity) when read.
        actor_name: The requesting actor.
        actor_groups: Its groups.
        named: A reader-policy row names the actor.
        grouped: A reader-policy row names one of its groups.
        counts: The committed window counts (by principal, on the medium) when read with
            the row (spec §receipt).
    """
    view = ContainerView(
        state=State(values["state"]),
        issuer_id=values["issuer_id"],
        pending_expires_at=values["pending_expires_at"],
        not_after=values["not_after"],
        destroyed_at=values["destroyed_at"],
        public_reason=values["public_reason"],
        readers=frozenset({actor_name}) if named else frozenset(),
        reader_groups=actor_groups if grouped else frozenset(),
        suspend_cause=values["suspend_cause"],
    )
    seed = values["seed_sealed"]
    digest = values["header_digest"]
    return EvaluationRow(
        view,
        None if seed is None else bytes(seed),
        values["unconfirmed"],
        values["attempt_budget"],
        None if digest is None else bytes(digest),
        password_required=bool(values["password_required"]),
        medium=values["medium"],
        principal_unconfirmed=counts[0],
        medium_unconfirmed=counts[1],
        key_generation=int(values["key_generation"]),
        **integrity_members(values),
    )


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
