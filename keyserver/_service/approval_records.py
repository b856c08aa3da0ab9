"""A request for approval as stored, audited and shown (spec §approvals).

Shared by the gate that makes requests (keyserver/_service/approvals.py) and the
decisions that read, approve or reject them (keyserver/_service/approval_decisions.py),
so that a request is written, digested and shown in one way only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from keyserver._domain.approvals import Rule, State, approver_role, ids_digest, shown_state
from keyserver._domain.context import RequestContext
from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.validation import INT64_MAX, fmt_time
from keyserver._service.revocation import ids_details
from keyserver._store.audit import canonical_json
from keyserver._store.ledger import Ledger
from keyserver._store.models import Approval

PREVIEW_LABELS = 10  # labels listed in a request (the ids are listed up to the audit cap)


def record_request(
    ledger: Ledger,
    session: Session,
    actor: Actor,
    rule: Rule,
    *,
    action: str,
    scope: str | None,
    target: str,
    params: dict[str, Any],
    ctx: RequestContext,
    rows: list[tuple[bytes, str]] | None = None,
    affects: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store and audit a request; answer what it will affect (spec §approvals).

    ``rows`` (containers: id, label) for a destroy, else ``affects`` (a principal):
    the digest of exactly this is what an approval checks again before acting.
    """
    settings = ledger.settings
    now = ledger.now()
    if rows is not None:
        ids = [cid for cid, _ in rows]
        affects = {
            "count": len(ids),
            "labels": [label for _, label in rows[:PREVIEW_LABELS]],
            **ids_details(ids, settings.audit_inline_ids_max),
        }
        digest = ids_digest(ids)
    else:
        assert affects is not None
        digest = affects_digest(affects)
    row = Approval(
        rule=rule.value,
        action=action,
        scope=scope,
        target=target,
        params=canonical_json(params),
        affects=canonical_json(affects),
        affected_sha256=digest,
        state=State.PENDING.value,
        requested_by=actor.name,
        requested_at=now,
        expires_at=now + settings.approval_ttl,
        request_seq=0,
    )
    session.add(row)
    session.flush()  # the request's number, for the audit entry and the answer
    entry = ledger.audit_ok(
        session,
        actor,
        "approval.request",
        ctx,
        {
            "approval": row.id,
            "rule": rule.value,
            "request": action,
            "scope": scope,
            "target": target,
            **params,
            **audit_affects(affects),
            "expires_at": fmt_time(row.expires_at),
        },
        container=target if scope == "container" else None,
        at=now,
    )
    row.request_seq = entry.seq
    return {"approval_required": True, "approval": view(row, now)}


def check_id(approval_id: int) -> None:
    """Refuse a request number the column cannot hold (an answer, not a 500)."""
    if not 1 <= approval_id <= INT64_MAX:
        raise InvalidRequestError(N_("a request number is a positive integer"))


def named_id(approval_id: int) -> dict[str, int]:
    """A role refusal records the request it named, when it is a request number."""
    return {"approval": approval_id} if 1 <= approval_id <= INT64_MAX else {}


def principal_affects(name: str, roles: list[str], *, exists: bool) -> dict[str, Any]:
    """What a principal or token request affects: the principal, its roles, whether it exists."""
    return {"principal": name, "roles": roles, "exists": exists}


def affects_digest(affects: dict[str, Any]) -> bytes:
    """The digest an approval compares with what it would affect now."""
    return hashlib.sha256(canonical_json(affects).encode("utf-8")).digest()


def audit_affects(affects: dict[str, Any]) -> dict[str, Any]:
    """What a request affects, in its audit entries (ids inline or by digest; no labels).

    The count is ``affected``, as in the destroy entries themselves (spec §audit).
    """
    return {("affected" if k == "count" else k): v for k, v in affects.items() if k != "labels"}


def view(row: Approval, now: datetime) -> dict[str, Any]:
    """A request as the API shows it (spec §approvals)."""
    return {
        "id": row.id,
        "rule": row.rule,
        "action": row.action,
        "scope": row.scope,
        "target": row.target,
        "params": json.loads(row.params),
        "affects": json.loads(row.affects),
        "state": shown_state(row.state, row.expires_at, now).value,
        "approver_role": approver_role(Rule(row.rule)),
        "requested_by": row.requested_by,
        "requested_at": fmt_time(row.requested_at),
        "expires_at": fmt_time(row.expires_at),
        "decided_by": row.decided_by,
        "decided_at": fmt_time(row.decided_at),
        "decision_reason": row.decision_reason,
        "request_seq": row.request_seq,
        "decision_seq": row.decision_seq,
    }
