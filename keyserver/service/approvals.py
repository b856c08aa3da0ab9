"""Two officials for the irreversible: requests, approvals, rejections (spec §approvals).

The gated operations (destroy, a loss report with ``now``, a principal or token with the
official or admin role) reach the server through :class:`ApprovalOps`: when the
``approval_required`` setting names the action and the actor is a principal (not a local
operator, who holds the database and the master key and so every power anyway, spec
§roles), the action is NOT carried out: a request listing exactly what it would affect is
stored and audited, and a second principal with the action's role approves it (which
carries it out, in the approval's transaction, after checking that it would still affect
exactly what was listed) or rejects it. Otherwise the operation runs as it always did.

Every step is ONE transaction under the audit chain-head lock, with its audit entry naming
both people: ``approval.request`` (the requester), the action's own entry and
``approval.approve`` (the approver, with ``requested_by``), ``approval.reject``.
Refused approvals (own request, wrong role, expired, decided, targets changed) are
audited too, in a transaction of their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyserver.domain.approvals import (
    PRIVILEGED_ROLES,
    Rule,
    State,
    approver_role,
    destroy_rule,
    ids_digest,
    shown_state,
)
from keyserver.domain.context import LOCAL, RequestContext
from keyserver.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
)
from keyserver.domain.i18n import N_
from keyserver.domain.lifecycle import Actor, Op
from keyserver.domain.validation import REASON_MAX, check_text, fmt_time, parse_time
from keyserver.service.loss import LossOps
from keyserver.service.media import resolve_principal
from keyserver.service.principals import PrincipalOps
from keyserver.service.revocation import RevocationOps, ids_details
from keyserver.store import repository, transitions
from keyserver.store.audit import NewEntry, canonical_json, lock_head
from keyserver.store.ledger import Ledger
from keyserver.store.models import Approval, Container

# Who may read the requests, and who may decide them (each request also needs the role
# of its own action: official for destroys, admin for tokens).
READERS = frozenset({"official", "admin", "auditor"})
DECIDERS = frozenset({"official", "admin"})
PREVIEW_LABELS = 10  # labels listed in a request (the ids are listed up to the audit cap)
MAX_ID = (1 << 63) - 1  # the column is 64-bit; a larger number names nothing


class ApprovalOps:
    """The gated operations, and the requests' list, approval and rejection."""

    def __init__(
        self,
        ledger: Ledger,
        revocation: RevocationOps,
        losses: LossOps,
        principals: PrincipalOps,
    ) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._revocation = revocation
        self._losses = losses
        self._principals = principals

    def _gated(self, actor: Actor, rule: Rule) -> bool:
        # spec §approvals: a local operator is not bound (it holds the database and the
        # master key: a second person could not stop it), and is audited as always.
        return rule in self._settings.approval_rules and not actor.local

    # -- the gated operations (KeyService binds these) ----------------------------------------

    def change_state(  # noqa: PLR0917 - the positional API of RevocationOps.change_state
        self,
        actor: Actor,
        op: Op | str,
        scope: str,
        target: str,
        reason: str,
        public_reason: str | None = None,
        *,
        cause: str | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Suspend, restore or destroy; a gated destroy becomes a request (spec §approvals)."""
        gated = (
            str(op) == Op.DESTROY.value
            and scope in {"container", "medium", "issuer"}
            and self._gated(actor, destroy_rule(scope))
        )
        if not gated:
            return self._revocation.change_state(
                actor, op, scope, target, reason, public_reason, cause=cause, ctx=ctx
            )
        checked, _ = self._revocation.check_change(
            actor, op, scope, target, reason, public_reason, cause=cause, ctx=ctx
        )
        with self._ledger.tx() as session:
            lock_head(session)
            name, key = self._revocation.resolve(session, checked, scope, target)
            rows = transitions.transition_candidates(
                session, Op.DESTROY, transitions.scope_filter(scope, key)
            )
            if rows:  # a destroy that changes nothing needs nobody's approval
                return self._request(
                    session,
                    actor,
                    destroy_rule(scope),
                    action="destroy",
                    scope=scope,
                    target=name,
                    params={"reason": reason, "public_reason": public_reason},
                    rows=rows,
                    ctx=ctx,
                )
            return self._revocation.change_in(
                session, actor, checked, scope, target, reason, public_reason, cause=None, ctx=ctx
            )

    def report_loss(  # noqa: PLR0917 - the positional API of RevocationOps.report_loss
        self,
        actor: Actor,
        medium: str,
        reason: str,
        public_reason: str | None = None,
        now_flag: bool = False,
        waiting_period: timedelta | None = None,
        *,
        lost_at: datetime | None = None,
        replace_earlier: bool = False,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """A loss report; one that would destroy keys early may need a second official.

        spec §approvals: under ``destroy-medium``, a report with ``now`` or a waiting
        period under ``short_waiting_period`` does at once what one official may do alone
        (everything on the medium suspended or locked, the loss recorded, destruction
        after the default waiting period) and makes a request to destroy the medium's
        containers NOW, which a second official approves. So the thief is stopped at
        once, and no single official can erase a medium early.
        """
        wait = self._losses.check_loss(
            actor, medium, reason, public_reason, now_flag, waiting_period, ctx=ctx
        )
        early = now_flag or wait < self._settings.short_waiting_period
        scan = self._losses.loss_scan(lost_at)
        with self._ledger.tx() as session:
            if not (early and self._gated(actor, Rule.DESTROY_MEDIUM)):
                return self._losses.report_loss_in(
                    session,
                    actor,
                    medium,
                    reason,
                    public_reason,
                    now_flag,
                    wait,
                    lost_at=lost_at,
                    replace_earlier=replace_earlier,
                    scan=scan,
                    ctx=ctx,
                )
            default = max(self._settings.loss_waiting_period, self._settings.short_waiting_period)
            done = self._losses.report_loss_in(
                session,
                actor,
                medium,
                reason,
                public_reason,
                False,  # noqa: FBT003 - not now: the destroy waits for the approval
                default,
                lost_at=lost_at,
                replace_earlier=replace_earlier,
                scan=scan,
                ctx=ctx,
            )
            name = str(done["medium"])
            rows = transitions.transition_candidates(session, Op.DESTROY, Container.medium == name)
            if not rows:
                return done
            requested = self._request(
                session,
                actor,
                Rule.DESTROY_MEDIUM,
                action="loss-report",
                scope="medium",
                target=name,
                params={
                    "reason": reason,
                    "public_reason": public_reason,
                    "now": now_flag,
                    "waiting_period_seconds": None if now_flag else int(wait.total_seconds()),
                },
                rows=rows,
                ctx=ctx,
            )
            return {**requested, "loss_report": done}

    def add_principal(
        self,
        actor: Actor,
        name: str,
        roles: list[str],
        organisation: str | None = None,
        groups: list[str] | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Create a principal; one with the official or admin role may need approval."""
        group_set = self._principals.check_add(actor, name, roles, organisation, groups, ctx=ctx)
        with self._ledger.tx() as session:
            privileged = sorted(set(roles) & PRIVILEGED_ROLES)
            if privileged and self._gated(actor, Rule.PRIVILEGED_TOKEN):
                lock_head(session)
                if repository.principal_by_name(session, name) is not None:
                    raise ConflictError(N_("a principal named %(name)s exists", name=repr(name)))
                return self._request(
                    session,
                    actor,
                    Rule.PRIVILEGED_TOKEN,
                    action="principal.add",
                    scope=None,
                    target=name,
                    params={
                        "roles": sorted(set(roles)),
                        "organisation": organisation,
                        "groups": group_set,
                    },
                    affects=_principal_affects(name, sorted(set(roles)), exists=False),
                    ctx=ctx,
                )
            return self._principals.add_in(
                session, actor, name, roles, organisation, group_set, ctx=ctx
            )

    def issue_token(
        self,
        actor: Actor,
        name: str,
        expires_at: datetime | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Issue a token; one for an official or admin principal may need approval."""
        self._principals.check_issue(actor, name, ctx=ctx)
        with self._ledger.tx() as session:
            if self._gated(actor, Rule.PRIVILEGED_TOKEN):
                lock_head(session)
                principal = resolve_principal(session, name, "name")
                roles, _ = repository.roles_and_groups(session, principal.id)
                if roles & PRIVILEGED_ROLES:
                    return self._request(
                        session,
                        actor,
                        Rule.PRIVILEGED_TOKEN,
                        action="token.issue",
                        scope=None,
                        target=name,
                        params={"expires_at": fmt_time(expires_at)},
                        affects=_principal_affects(name, sorted(roles), exists=True),
                        ctx=ctx,
                    )
            return self._principals.issue_in(session, actor, name, expires_at, ctx=ctx)

    # -- requests ------------------------------------------------------------------------------

    def _request(
        self,
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
        """Store and audit a request; answer what it will affect (spec §approvals)."""
        now = self._ledger.now()
        if rows is not None:
            ids = [cid for cid, _ in rows]
            affects = {
                "count": len(ids),
                "labels": [label for _, label in rows[:PREVIEW_LABELS]],
                **ids_details(ids, self._settings.audit_inline_ids_max),
            }
            digest = ids_digest(ids)
        else:
            assert affects is not None
            digest = _affects_digest(affects)
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
            expires_at=now + self._settings.approval_ttl,
            request_seq=0,
        )
        session.add(row)
        session.flush()  # the request's number, for the audit entry and the answer
        entry = self._ledger.audit(
            session,
            NewEntry(
                actor=actor.name,
                action="approval.request",
                outcome="ok",
                container=target if scope == "container" else None,
                remote=ctx.remote,
                details={
                    "approval": row.id,
                    "rule": rule.value,
                    "request": action,
                    "scope": scope,
                    "target": target,
                    **params,
                    **_audit_affects(affects),
                    "expires_at": fmt_time(row.expires_at),
                },
            ),
            at=now,
        )
        row.request_seq = entry.seq
        return {"approval_required": True, "approval": _view(row, now)}

    def list_approvals(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        after: int | None = None,
        limit: int = 100,
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
        if not 1 <= limit <= self._settings.max_list_limit:
            raise InvalidRequestError(
                N_("limit must be in 1..%(max)s", max=self._settings.max_list_limit)
            )
        if after is not None and not 0 <= after <= MAX_ID:
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
        return {
            "approvals": [_view(r, now) for r in rows],
            "next": rows[-1].id if len(rows) == limit else None,
        }

    def get_approval(
        self, actor: Actor, approval_id: int, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """One request (officials, admins, auditors)."""
        self._ledger.require(
            actor,
            READERS,
            N_("reading approval requests"),
            action="approval.list",
            target=_named_id(approval_id),
            ctx=ctx,
        )
        _check_id(approval_id)
        with self._ledger.reads() as session:
            row = session.get(Approval, approval_id)
            if row is None:
                raise NotFoundError(N_("no approval request %(id)s", id=approval_id))
            return _view(row, self._ledger.now())

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
            target=_named_id(approval_id),
            ctx=ctx,
        )
        _check_id(approval_id)
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
                entry = self._ledger.audit(
                    session,
                    NewEntry(
                        actor=actor.name,
                        action=action,
                        outcome="ok",
                        container=container,
                        remote=ctx.remote,
                        details={
                            "approval": row.id,
                            "rule": row.rule,
                            "request": row.action,
                            "scope": row.scope,
                            "target": row.target,
                            "requested_by": row.requested_by,
                            **details,
                            **_audit_affects(json.loads(row.affects)),
                        },
                    ),
                    at=now,
                )
                row.state = decision.value
                row.decided_by = actor.name
                row.decided_at = now
                row.decision_reason = reason
                row.decision_seq = entry.seq
                answer: dict[str, Any] = {"approval": _view(row, now)}
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
            scope = row.scope or "medium"
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
            return ConflictError(
                N_(
                    "request %(id)s listed %(then)s container(s); %(now)s would be destroyed "
                    "now (the containers changed since the request); nothing was destroyed: "
                    "reject it and make a new request",
                    id=row.id,
                    then=then.get("count"),
                    now=len(rows),
                )
            )
        principal = repository.principal_by_name(session, row.target)
        if principal is None:
            now_affects = _principal_affects(row.target, then.get("roles", []), exists=False)
        else:
            roles, _ = repository.roles_and_groups(session, principal.id)
            now_affects = _principal_affects(row.target, sorted(roles), exists=True)
        if _affects_digest(now_affects) == row.affected_sha256:
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
        if row.action == "destroy":
            return self._revocation.change_in(
                session,
                actor,
                Op.DESTROY,
                row.scope or "container",
                row.target,
                params["reason"],
                params["public_reason"],
                cause=None,
                ctx=ctx,
                audit_extra=extra,
            )
        if row.action == "loss-report":
            # The loss itself was reported at the request; what was asked is the early
            # destroy of the medium's containers (spec §approvals).
            return self._revocation.change_in(
                session,
                actor,
                Op.DESTROY,
                "medium",
                row.target,
                params["reason"],
                params["public_reason"],
                cause=None,
                ctx=ctx,
                audit_extra={**extra, "loss_report": True},
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


def _check_id(approval_id: int) -> None:
    if not 1 <= approval_id <= MAX_ID:
        raise InvalidRequestError(N_("a request number is a positive integer"))


def _named_id(approval_id: int) -> dict[str, int]:
    """A role refusal records the request it named, when it is a request number."""
    return {"approval": approval_id} if 1 <= approval_id <= MAX_ID else {}


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


def _principal_affects(name: str, roles: list[str], *, exists: bool) -> dict[str, Any]:
    return {"principal": name, "roles": roles, "exists": exists}


def _affects_digest(affects: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(affects).encode("utf-8")).digest()


def _audit_affects(affects: dict[str, Any]) -> dict[str, Any]:
    """What a request affects, in its audit entries (ids inline or by digest; no labels).

    The count is ``affected``, as in the destroy entries themselves (spec §audit).
    """
    return {("affected" if k == "count" else k): v for k, v in affects.items() if k != "labels"}


def _view(row: Approval, now: datetime) -> dict[str, Any]:
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


__all__ = ["ApprovalOps"]
