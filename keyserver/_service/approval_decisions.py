"""Approval requests read, approved or rejected by a second person (spec §approvals).

The requests are made by the gate (keyserver/_service/approvals.py). Approving carries
the action out as the approver, in the approval's transaction, with the very same
``*_in(session, ...)`` halves of revocation.py and principals.py that the ungated
operation runs, after checking that it would still affect exactly what was listed.
Every decision is ONE transaction under the audit chain-head lock; a refused one (own
request, wrong role, expired, decided, targets changed) changes nothing and is audited
in a transaction of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyserver._domain.approvals import Rule, State, approver_role, ids_digest, shown_state
from keyserver._domain.context import LOCAL, RequestContext
from keyserver._domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
)
from keyserver._domain.i18n import N_, ngettext
from keyserver._domain.lifecycle import Actor, Op
from keyserver._domain.paging import fitting, page_limit
from keyserver._domain.validation import (
    INT64_MAX,
    REASON_MAX,
    check_text,
    fmt_time,
    parse_time,
)
from keyserver._service.approval_records import (
    affects_digest,
    audit_affects,
    check_id,
    named_id,
    principal_affects,
    view,
)
from keyserver._service.principals import PrincipalOps
from keyserver._service.revocation import RevocationOps
from keyserver._store import repository, transitions
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import Approval

# Who may read the requests, and who may decide them (each request also needs the role
# of its own action: official for destroys, admin for tokens).
READERS = frozenset({"official", "admin", "auditor"})
DECIDERS = frozenset({"official", "admin"})


class ApprovalDecisions:
    """The requests' list, and their approval (which carries the action out) or rejection."""

    def __init__(self, ledger: Ledger, revocation: RevocationOps, principals: PrincipalOps) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._revocation = revocation
        self._principals = principals

    def list_approvals(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Requests by number (officials, admins, auditors); ``state`` filters as shown."""
        self._ledger.require(
            actor, READERS, N_("reading approval requests"), action="approval.list", ctx=ctx
        )
        if state is not None and state not in {s.value for s in State}:
            raise InvalidRequestError(
                N_("state must be one of %(states)s", states=", ".join(s.value for s in State))
            )
        limit = page_limit(limit, self._settings.max_list_limit)
        if after is not None and not 0 <= after <= INT64_MAX:
            raise InvalidRequestError(N_("after must be a request number"))
        now = self._ledger.now()
        query = select(Approval).order_by(Approval.id).limit(limit)
        if after is not None:
            query = query.where(Approval.id > after)
        if state in {State.PENDING.value, State.EXPIRED.value}:
            # Expiry is read off the clock (domain/approvals.py): no job has to mark it.
            live = Approval.expires_at > now
            query = query.where(
                Approval.state == State.PENDING.value,
                live if state == State.PENDING.value else ~live,
            )
        elif state is not None:
            query = query.where(Approval.state == state)
        with self._ledger.reads() as session:
            rows = list(session.execute(query).scalars())
        docs = [view(r, now) for r in rows]
        page = fitting(docs)  # spec §endpoints: an answer a client can read whole
        more = len(docs) == limit or len(page) < len(docs)
        return {"approvals": list(page), "next": rows[len(page) - 1].id if more else None}

    def get_approval(
        self, actor: Actor, approval_id: int, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """One request (officials, admins, auditors)."""
        self._ledger.require(
            actor,
            READERS,
            N_("reading approval requests"),
            action="approval.list",
            target=named_id(approval_id),
            ctx=ctx,
        )
        check_id(approval_id)
        with self._ledger.reads() as session:
            return view(_load(session, approval_id), self._ledger.now())

    def approve(
        self, actor: Actor, approval_id: int, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Carry out a pending request as its second approver (spec §approvals).

        Returns:
            ``{approval, result}``: the request, now approved, and the action's own
            answer (the containers destroyed; for a token, the token, shown once).
        """

        def carry_out(session: Session, row: Approval) -> dict[str, Any]:
            problem = self._targets_changed(session, row)
            if problem is not None:
                raise problem
            extra = {"approval": row.id, "requested_by": row.requested_by}
            return self._execute(session, actor, row, extra, ctx)

        return self._decide(
            actor,
            approval_id,
            State.APPROVED,
            carry_out,
            {"approved_by": actor.name},
            ctx=ctx,
        )

    def reject(
        self, actor: Actor, approval_id: int, reason: str, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Reject a pending request (any principal of its role; the requester withdraws)."""
        check_text(reason, "reason", REASON_MAX)
        return self._decide(
            actor,
            approval_id,
            State.REJECTED,
            None,
            {"rejected_by": actor.name, "reason": reason},
            ctx=ctx,
            reason=reason,
        )

    def _decide(
        self,
        actor: Actor,
        approval_id: int,
        decision: State,
        carry_out: Callable[[Session, Approval], dict[str, Any]] | None,
        details: dict[str, Any],
        *,
        ctx: RequestContext,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Approve (``carry_out`` the action) or reject, in ONE transaction, audited.

        A refusal (role, own request, expired, decided, targets changed) changes nothing
        and is recorded in a transaction of its own (spec §approvals, §audit).
        """
        action = "approval.approve" if decision is State.APPROVED else "approval.reject"
        self._ledger.require(
            actor,
            DECIDERS,
            N_("deciding requests"),
            action=action,
            target=named_id(approval_id),
            ctx=ctx,
        )
        check_id(approval_id)
        container: str | None = None
        try:
            with self._ledger.tx() as session:
                now = self._ledger.now()
                lock_head(session)
                row = _load(session, approval_id)
                container = row.target if row.scope == "container" else None
                problem = _decision_problem(row, actor, now, approving=decision is State.APPROVED)
                if problem is not None:
                    raise problem
                result = carry_out(session, row) if carry_out is not None else None
                entry = self._ledger.audit_ok(
                    session,
                    actor,
                    action,
                    ctx,
                    {
                        "approval": row.id,
                        "rule": row.rule,
                        "request": row.action,
                        "scope": row.scope,
                        "target": row.target,
                        "requested_by": row.requested_by,
                        **details,
                        **audit_affects(json.loads(row.affects)),
                    },
                    container=container,
                    at=now,
                )
                row.state = decision.value
                row.decided_by = actor.name
                row.decided_at = now
                row.decision_reason = reason
                row.decision_seq = entry.seq
                answer: dict[str, Any] = {"approval": view(row, now)}
                if result is not None:
                    answer["result"] = result
                return answer
        except (ConflictError, ForbiddenError, NotAllowedError) as exc:
            # Rolled back: nothing changed; the refusal gets its own entry.
            raise self._ledger.refuse(
                actor, action, container, ctx, exc, target={"approval": approval_id}
            ) from None

    # -- carrying out ----------------------------------------------------------------------------

    def _targets_changed(self, session: Session, row: Approval) -> KeyServerError | None:
        """Conflict unless the action would affect exactly what the request listed."""
        then = json.loads(row.affects)
        if row.action in {"destroy", "loss-report"}:
            scope = _destroy_scope(row)
            try:
                _, key = self._revocation.resolve(session, Op.DESTROY, scope, row.target)
            except KeyServerError:
                return ConflictError(
                    N_(
                        "request %(id)s: %(scope)s %(target)s no longer exists; nothing was "
                        "changed: reject the request",
                        id=row.id,
                        scope=scope,
                        target=row.target,
                    )
                )
            rows = transitions.transition_candidates(
                session, Op.DESTROY, transitions.scope_filter(scope, key)
            )
            if ids_digest(cid for cid, _ in rows) == row.affected_sha256:
                return None
            listed = int(then.get("count") or 0)
            return ConflictError(
                ngettext(
                    "request %(id)s listed %(then)s container; %(now)s would be destroyed "
                    "now (the containers changed since the request); nothing was destroyed: "
                    "reject it and make a new request",
                    "request %(id)s listed %(then)s containers; %(now)s would be destroyed "
                    "now (the containers changed since the request); nothing was destroyed: "
                    "reject it and make a new request",
                    listed,
                    id=row.id,
                    then=then.get("count"),
                    now=len(rows),
                )
            )
        principal = repository.principal_by_name(session, row.target)
        if principal is None:
            now_affects = principal_affects(row.target, then.get("roles", []), exists=False)
        else:
            roles, _ = repository.roles_and_groups(session, principal.id)
            now_affects = principal_affects(row.target, sorted(roles), exists=True)
        if affects_digest(now_affects) == row.affected_sha256:
            return None
        return ConflictError(
            N_(
                "request %(id)s: principal %(target)s changed since the request "
                "(created, removed or its roles); nothing was done: reject it",
                id=row.id,
                target=row.target,
            )
        )

    def _execute(
        self,
        session: Session,
        actor: Actor,
        row: Approval,
        extra: dict[str, Any],
        ctx: RequestContext,
    ) -> dict[str, Any]:
        """The requested action, as the approver, in the approval's transaction."""
        params = json.loads(row.params)
        if row.action in {"destroy", "loss-report"}:
            # A loss-report request: the loss itself was reported at the request; what was
            # asked is the early destroy of the medium's containers (spec §approvals).
            loss = row.action == "loss-report"
            return self._revocation.change_in(
                session,
                actor,
                Op.DESTROY,
                _destroy_scope(row),
                row.target,
                params["reason"],
                params["public_reason"],
                cause=None,
                ctx=ctx,
                audit_extra={**extra, "loss_report": True} if loss else extra,
            )
        if row.action == "principal.add":
            return self._principals.add_in(
                session,
                actor,
                row.target,
                params["roles"],
                params["organisation"],
                params["groups"],
                ctx=ctx,
                audit_extra=extra,
            )
        expires = params.get("expires_at")
        return self._principals.issue_in(
            session,
            actor,
            row.target,
            parse_time(expires, "expires_at") if expires else None,
            ctx=ctx,
            audit_extra=extra,
        )


def _destroy_scope(row: Approval) -> str:
    """What a destroy request names: a container, medium or issuer (a loss report: medium)."""
    # A destroy request always stores its scope (approvals.py); medium is what a
    # loss-report request destroys.
    return "medium" if row.action == "loss-report" or row.scope is None else row.scope


def _load(session: Session, approval_id: int) -> Approval:
    row = session.get(Approval, approval_id)
    if row is None:
        raise NotFoundError(N_("no approval request %(id)s", id=approval_id))
    return row


def _decision_problem(
    row: Approval, actor: Actor, now: datetime, *, approving: bool
) -> KeyServerError | None:
    """Why ``actor`` may not decide ``row`` now, or None (spec §approvals)."""
    role = approver_role(Rule(row.rule))
    if not actor.has_any(frozenset({role})):
        return ForbiddenError(
            N_("deciding request %(id)s needs the %(role)s role", id=row.id, role=role)
        )
    state = shown_state(row.state, row.expires_at, now)
    if state is State.EXPIRED:
        return ConflictError(
            N_(
                "request %(id)s expired at %(at)s; nothing was done: make a new request",
                id=row.id,
                at=fmt_time(row.expires_at),
            )
        )
    if state is not State.PENDING:
        return ConflictError(
            N_(
                "request %(id)s was already %(state)s by %(who)s",
                id=row.id,
                state=state.value,
                who=row.decided_by,
            )
        )
    # The two-person rule itself: by principal NAME, so a second token of the same
    # principal (or the same person through the console) is the same person.
    if approving and actor.name == row.requested_by:
        return NotAllowedError(
            N_(
                "request %(id)s was made by %(who)s: a second, different %(role)s must approve it",
                id=row.id,
                who=row.requested_by,
                role=role,
            )
        )
    return None


__all__ = ["ApprovalDecisions"]
