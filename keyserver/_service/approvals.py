"""Two officials for the irreversible: the gate the irreversible operations pass (spec §approvals).

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

This module is the gate: it decides whether an operation runs or becomes a request.
A request is stored and shown by approval_records.py; it is listed, approved and
rejected by approval_decisions.py.

Each gated method repeats the signature of the operation it wraps (RevocationOps,
LossOps, PrincipalOps), on purpose: KeyService binds the gate in their place, so callers
(routers, the CLI, the console) keep the operations' own typed API, and mypy checks that
the two stay the same. ``**kwargs`` passing would hide a drift between them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from keyserver._domain.approvals import PRIVILEGED_ROLES, Rule, destroy_rule
from keyserver._domain.context import LOCAL, RequestContext
from keyserver._domain.errors import ConflictError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import SCOPES, Actor, Op
from keyserver._domain.validation import fmt_time
from keyserver._service.approval_records import principal_affects, record_request
from keyserver._service.loss import LossOps
from keyserver._service.media import resolve_principal
from keyserver._service.principals import PrincipalOps
from keyserver._service.revocation import RevocationOps
from keyserver._store import repository, transitions
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import Container


class ApprovalOps:
    """The gated operations: carried out at once, or turned into a request."""

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
            and scope in SCOPES
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
                return record_request(
                    self._ledger,
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
        told_at: datetime | None = None,
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
        gated = early and self._gated(actor, Rule.DESTROY_MEDIUM)
        if gated:
            # What one official may do alone: not now, the default waiting period; the
            # early destroy waits for the approval.
            now_flag_in = False
            wait_in = max(self._settings.loss_waiting_period, self._settings.short_waiting_period)
        else:
            now_flag_in, wait_in = now_flag, wait
        with self._ledger.tx() as session:
            done = self._losses.report_loss_in(
                session,
                actor,
                medium,
                reason,
                public_reason,
                now_flag_in,
                wait_in,
                lost_at=lost_at,
                told_at=told_at,
                replace_earlier=replace_earlier,
                scan=scan,
                ctx=ctx,
            )
            if not gated:
                return done
            name = str(done["medium"])
            rows = transitions.transition_candidates(session, Op.DESTROY, Container.medium == name)
            if not rows:
                return done
            requested = record_request(
                self._ledger,
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
                return record_request(
                    self._ledger,
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
                    affects=principal_affects(name, sorted(set(roles)), exists=False),
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
                    return record_request(
                        self._ledger,
                        session,
                        actor,
                        Rule.PRIVILEGED_TOKEN,
                        action="token.issue",
                        scope=None,
                        target=name,
                        params={"expires_at": fmt_time(expires_at)},
                        affects=principal_affects(name, sorted(roles), exists=True),
                        ctx=ctx,
                    )
            return self._principals.issue_in(session, actor, name, expires_at, ctx=ctx)


__all__ = ["ApprovalOps"]
