"""The release path's row-integrity hook (spec §row-integrity).

Three small calls from keyserver/release/batch.py, kept here so the batch stays about the
order of checks: :func:`mac_refusal` before anything is decided on a locked container row,
:func:`stale_refusal` just before releasing, and :func:`mac_values` for the row the
release writes back. The MAC costs two
HMAC-SHA-256 over ~200 bytes per release; the audit log is asked only when the
evaluation statement saw entries after the row's ``last_audit_seq`` (rare on a
consistent database: the release itself moves ``last_audit_seq`` forward).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyserver.domain import rowmac
from keyserver.domain.encoding import b64e
from keyserver.domain.errors import RowIntegrityError
from keyserver.domain.keys import KeyRing
from keyserver.release.hotpath import Batch
from keyserver.store.repository import EvaluationRow
from keyserver.store.rowmacs import mac_problem, stale_problem


def mac_refusal(ring: KeyRing, row: EvaluationRow) -> RowIntegrityError | None:
    """The refusal for a row whose MAC does not verify (before anything is decided on it)."""
    return mac_problem(ring, row.mac_fields, row.row_mac)


def stale_refusal(batch: Batch, row: EvaluationRow, cid: bytes) -> RowIntegrityError | None:
    """The refusal for a row older than the audit log (just before it is released).

    Asked only when the evaluation statement saw an entry after the row: a stale row can
    only do harm by releasing, and refused attempts (which leave the row unchanged) then
    cost no extra query each.
    """
    if not row.log_is_newer:
        return None
    fields = row.mac_fields
    entries, issuer = batch.later(cid, int(fields["last_audit_seq"] or 0), row.view.issuer_id)
    return stale_problem(fields, entries, issuer)


def policy_refusal(
    ring: KeyRing, batch: Batch, cid: bytes, actor_name: str, actor_groups: frozenset[str]
) -> RowIntegrityError | None:
    """The refusal for a read admitted only by a policy row its registration lacks.

    spec §row-integrity: the policy is recorded in the (keyed) register entry; a reader
    or group row added in the database later admits nobody. Cached per container.
    """
    register = batch.registration(cid, ring.audit_key)
    if register is not None and rowmac.policy_admits(register, actor_name, actor_groups):
        return None
    return RowIntegrityError(
        "the container's reader policy in the database differs from the one registered "
        "(edited in the database); nothing was released",
        container_id=b64e(cid),
    )


def mac_values(ring: KeyRing, row: EvaluationRow, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"row_mac": ...}`` for the row as the release leaves it (read values + ``values``)."""
    return {"row_mac": rowmac.row_mac(ring.row_key, {**row.mac_fields, **values})}
