"""The release path's row-integrity hook (spec §row-integrity).

Small calls from keyserver/_release/batch.py, kept here so the batch stays about the
order of checks: :func:`mac_refusal` before anything is decided on a locked container row,
:func:`stale_refusal` just before releasing, :func:`policy_refusal` for a read, and
:func:`mac_values` for the row the release writes back; :func:`preread` reads the
register entries a batch will need before the chain-head lock. The MAC costs two
HMAC-SHA-256 over ~200 bytes per release; the audit log is asked only when the
evaluation statement saw entries after the row's ``last_audit_seq`` (rare on a
consistent database: the release itself moves ``last_audit_seq`` forward).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keyserver._domain import rowmac
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import RowIntegrityError
from keyserver._domain.i18n import N_
from keyserver._domain.keys import KeyRing
from keyserver._release.compiled import HotPath
from keyserver._release.hotpath import Batch
from keyserver._store.evaluation import EvaluationRow
from keyserver._store.rowmacs import (
    AUDIT_FIELDS,
    later_entries,
    mac_problem,
    register_policy,
    stale_problem,
)


def mac_refusal(ring: KeyRing, row: EvaluationRow) -> RowIntegrityError | None:
    """The refusal for a row whose MAC does not verify (before anything is decided on it)."""
    return mac_problem(ring, row.mac_fields, row.row_mac, row.mac_parts)


def stale_refusal(batch: Batch, row: EvaluationRow, cid: bytes) -> RowIntegrityError | None:
    """The refusal for a row older than the audit log (just before it is released).

    Asked only when the evaluation statement saw an entry after the row: a stale row can
    only do harm by releasing, and refused attempts (which leave the row unchanged) then
    cost no extra query each.
    """
    if not row.log_is_newer:
        return None
    fields = row.mac_fields
    hot, dt = batch.hot, batch.hot._dt_result

    def run(_: Any, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        rows = batch.run(hot._later.sql, hot._later.args(params))
        return [(s, c, a, dt(at), d) for s, c, a, at, d in rows]

    entries = later_entries(run, b64e(cid), int(fields["last_audit_seq"] or 0))
    found = batch.run(hot._issuer.sql, hot._issuer.args({"pid": row.view.issuer_id}))
    return stale_problem(fields, entries, found[0][0] if found else None)


def policy_refusal(
    ring: KeyRing, batch: Batch, cid: bytes, actor_name: str, actor_groups: frozenset[str]
) -> RowIntegrityError | None:
    """The refusal for a read admitted only by a policy row its registration lacks.

    spec §row-integrity: the policy is recorded in the (keyed) register entry; a reader
    or group row added in the database later admits nobody. Cached per container.
    """
    register = _registration(batch, cid, ring.audit_key)
    if register is not None and rowmac.policy_admits(register, actor_name, actor_groups):
        return None
    return RowIntegrityError(
        N_(
            "the container's reader policy in the database differs from the one registered "
            "(edited in the database); nothing was released"
        ),
        container_id=b64e(cid),
    )


def mac_values(ring: KeyRing, row: EvaluationRow, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"row_mac": ...}`` for the row as the release leaves it (read values + ``values``).

    From the parts :func:`mac_refusal` verified, with only the fields in ``values``
    encoded again (rowmac.replace_parts: the same bytes as encoding the whole new row).
    """
    new = {**row.mac_fields, **values}
    key = rowmac.key_of(ring, new)
    if not row.mac_parts:
        return {"row_mac": rowmac.row_mac(key, new)}
    return {"row_mac": rowmac.parts_mac(key, rowmac.replace_parts(row.mac_parts, values))}


def preread(ring: KeyRing, batch: Batch, cids: Sequence[bytes]) -> None:
    """Read the register entries of ``cids`` not yet known, before the chain-head lock.

    One statement for the batch. A register entry never changes once written (and is
    checked by its keyed hash), so reading it before the lock decides nothing early;
    an entry not found is NOT remembered here (its container may be registered after
    this read), only under the lock (:func:`_registration`), where the locked
    container row proves its register entry has committed.
    """
    hot = batch.hot
    texts = {b64e(cid): cid for cid in cids if cid not in hot.registrations}
    if not texts:
        return
    stmt = hot._registers_statement(len(texts))
    for row in batch.run(stmt.sql, stmt.args(hot.lists({"texts": sorted(texts)}))):
        details = _verified(ring.audit_key, hot, row)
        if details is not None:
            _remember(hot, texts[row[_CONTAINER]], details)


def _registration(batch: Batch, cid: bytes, audit_key: bytes) -> dict[str, Any] | None:
    """The details of the container's register entry, if its keyed hash verifies."""
    hot = batch.hot
    if cid in hot.registrations:
        return hot.registrations[cid]
    rows = batch.run(hot._register.sql, hot._register.args({"cid_text": b64e(cid)}))
    details = _verified(audit_key, hot, rows[0]) if rows else None
    _remember(hot, cid, details)
    return details


def _verified(audit_key: bytes, hot: HotPath, row: Sequence[Any]) -> dict[str, Any] | None:
    values = list(row)
    values[_AT] = hot._dt_result(values[_AT])
    return register_policy(audit_key, values)


def _remember(hot: HotPath, cid: bytes, details: dict[str, Any] | None) -> None:
    if len(hot.registrations) >= _REGISTRATIONS_KEPT:
        hot.registrations.clear()
    hot.registrations[cid] = details


# Verified register entries kept per process (HotPath.registrations).
_REGISTRATIONS_KEPT = 100_000
_AT = AUDIT_FIELDS.index("at")
_CONTAINER = AUDIT_FIELDS.index("container")
