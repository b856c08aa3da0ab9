"""The release path's row-integrity hook (spec §row-integrity).

Two small calls from keyserver/release/batch.py, kept here so the batch stays about the
order of checks: :func:`refusal` before anything is decided on a locked container row,
and :func:`mac_values` for the row the release writes back. The MAC costs two
HMAC-SHA-256 over ~200 bytes per release; the audit log is asked only when the
evaluation statement saw entries after the row's ``last_audit_seq`` (rare on a
consistent database: the release itself moves ``last_audit_seq`` forward).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyserver.domain import rowmac
from keyserver.domain.errors import RowIntegrityError
from keyserver.domain.keys import KeyRing
from keyserver.release.hotpath import Batch
from keyserver.store.repository import EvaluationRow
from keyserver.store.rowmacs import problem


def _nothing_newer() -> tuple[list[rowmac.LaterEntry], str | None]:
    return [], None


def refusal(
    ring: KeyRing, batch: Batch, row: EvaluationRow, cid: bytes, *, releasing: bool
) -> RowIntegrityError | None:
    """The refusal for a row that fails its MAC or is older than the audit log, or None.

    The MAC is checked before anything is decided on the row; the audit log is asked
    only for a row about to be released (``releasing``) and only when the evaluation
    statement saw an entry after it: a stale row can only do harm by releasing, and
    refused attempts (which leave the row unchanged) then cost no extra query each.
    """
    fields = row.mac_fields
    later = _nothing_newer
    if releasing and row.log_is_newer:

        def later() -> tuple[list[rowmac.LaterEntry], str | None]:
            return batch.later(cid, int(fields["last_audit_seq"] or 0), row.view.issuer_id)

    if not releasing:
        return problem(ring, fields, row.row_mac, _nothing_newer)
    return problem(ring, fields, row.row_mac, later)


def mac_values(ring: KeyRing, row: EvaluationRow, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"row_mac": ...}`` for the row as the release leaves it (read values + ``values``)."""
    return {"row_mac": rowmac.row_mac(ring.row_key, {**row.mac_fields, **values})}
