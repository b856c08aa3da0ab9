"""Revocation: suspend/restore/destroy by container, medium or issuer; loss reports; sweep.

Each is ONE set-based UPDATE (lifecycle.TRANSITIONS) plus ONE audit entry
(spec §lifecycle, §erasure, §consistency).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session

from keyserver.domain.clockguard import Reading, clock_problem
from keyserver.domain.context import LOCAL, OFFICIAL, SYSTEM_ACTOR, RequestContext
from keyserver.domain.encoding import b64e
from keyserver.domain.errors import InvalidRequestError, NotFoundError, RowIntegrityError
from keyserver.domain.lifecycle import (
    RESTORE_CAUSES,
    Actor,
    Cause,
    Op,
    State,
    destroyed_refusal,
)
from keyserver.domain.media import canonical_medium
from keyserver.domain.settings import utc_now
from keyserver.domain.validation import (
    REASON_MAX,
    check_name,
    check_text,
    decode_container_id,
    fmt_time,
    recordable,
)
from keyserver.service.media import resolve_medium, resolve_principal
from keyserver.store import audit, repository, rowmacs, transitions
from keyserver.store.audit import NewEntry, lock_head
from keyserver.store.ledger import Ledger
from keyserver.store.models import AuditEntry, Container

log = logging.getLogger("keyserver")


class RevocationOps:
    """Official state changes and the sweep."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring
        # The readings of the last sweep whose clock was plausible (keyserver/domain/
        # clockguard.py); the monotonic check needs the built-in wall clock, or an
        # injected monotonic clock next to an injected wall clock (tests).
        self._trusted_clock: Reading | None = None
        monotonic = self._settings.monotonic
        if monotonic is None and self._settings.clock is utc_now:
            monotonic = time.monotonic
        self._monotonic = monotonic

    def change_state(  # noqa: PLR0917 - stable positional API of the CLI
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
        """Suspend, restore or destroy by container, medium or issuer (officials).

        ONE set-based UPDATE plus ONE audit entry, in one transaction (so suspending
        100,000 containers of a medium is a single statement). Containers not in a
        source state of the operation are left alone (idempotent).

        Args:
            actor: The acting official.
            op: ``suspend``, ``restore`` or ``destroy``.
            scope: ``container``, ``medium`` or ``issuer``.
            target: Container id (base64url), medium name or issuer principal name.
            reason: Internal reason (audited).
            public_reason: Reason shown to refused readers.
            cause: Restore only: the suspensions to lift (spec §lifecycle): ``loss-report``
                (default for a medium or an issuer), ``official``, ``budget`` or ``any``
                (default for one container).
            ctx: Request origin.

        Returns:
            ``{affected, container_ids, left_suspended}`` (ids listed up to
            ``audit_inline_ids_max``; ``left_suspended``: the suspensions still in place
            in the scope, as ``{cause: count}``).
        """
        op, cause = self.check_change(
            actor, op, scope, target, reason, public_reason, cause=cause, ctx=ctx
        )
        try:
            with self._ledger.tx() as session:
                return self.change_in(
                    session,
                    actor,
                    op,
                    scope,
                    target,
                    reason,
                    public_reason,
                    cause=cause,
                    ctx=ctx,
                )
        except RowIntegrityError as exc:
            # Recorded in a transaction of its own: the refused one was rolled back.
            raise self._ledger.refuse(
                actor, op.value, target, ctx, exc, target={"scope": scope, "target": target}
            ) from None

    def check_change(  # noqa: PLR0917 - the arguments of change_state
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
    ) -> tuple[Op, str | None]:
        """The role gate and argument checks of :meth:`change_state` (before any transaction).

        Returns:
            The operation and the restore cause with its default applied.
        """
        op = Op(op)
        if scope == "container":
            # Decoded before the role gate, as commit, receipt and status do: only a
            # well-formed id is recorded as the container of a refusal.
            decode_container_id(target)
        self._ledger.require(
            actor,
            OFFICIAL,
            f"{op.value} containers",
            action=op.value,
            container=target if scope == "container" else None,
            target=_refused_target(scope, target),
            ctx=ctx,
        )
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        if scope not in {"container", "medium", "issuer"}:
            raise InvalidRequestError("scope must be container, medium or issuer")
        if cause is not None and op is not Op.RESTORE:
            raise InvalidRequestError("cause applies to restore only")
        if cause is None and op is Op.RESTORE:
            cause = "any" if scope == "container" else Cause.LOSS_REPORT.value
        if cause is not None and cause not in RESTORE_CAUSES:
            raise InvalidRequestError(f"cause must be one of {', '.join(sorted(RESTORE_CAUSES))}")
        return op, cause

    def resolve(
        self, session: Session, op: Op, scope: str, target: str
    ) -> tuple[str, bytes | str | int]:
        """The target as recorded (a medium under its one name) and its key in the table.

        Raises the refusals of an unknown target (``not-found`` with suggestions), and of
        anything but a destroy on a destroyed container.
        """
        key: bytes | str | int
        if scope == "container":
            key = decode_container_id(target)
            c = session.get(Container, key)
            if c is None:
                raise NotFoundError("no such container")
            if c.state == State.DESTROYED.value and op is not Op.DESTROY:
                # Irreversible: restoring or suspending a destroyed container is refused.
                raise destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            problem = None if op is Op.DESTROY else rowmacs.session_problem(session, c)
            if problem is not None:
                # spec §row-integrity: an edited or restored row is not changed on its
                # word (a destroy always proceeds: erasing is never unsafe).
                raise problem
        elif scope == "issuer":
            key = resolve_principal(session, target, "issuer").id
        else:
            # spec §media: matched by canonical key; recorded under its one name.
            target = resolve_medium(session, target).name
            key = target
        return target, key

    def change_in(  # noqa: PLR0917 - the arguments of change_state
        self,
        session: Session,
        actor: Actor,
        op: Op,
        scope: str,
        target: str,
        reason: str,
        public_reason: str | None,
        *,
        cause: str | None,
        ctx: RequestContext,
        audit_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`change_state` inside the caller's transaction (checked arguments).

        ``audit_extra`` adds members to the audit entry's details (an approval's id and
        requester, spec §approvals).
        """
        now = self._ledger.now()
        lock_head(session)
        target, key = self.resolve(session, op, scope, target)
        ids = self._transition(
            session,
            actor,
            op,
            scope=scope,
            target=target,
            key=key,
            reason=reason,
            public_reason=public_reason,
            now=now,
            ctx=ctx,
            cause=cause,
            audit_extra=audit_extra,
        )
        if op is not Op.RESTORE:
            return self._bulk_result(ids)
        # What the restore left in place, and why (spec §lifecycle).
        left = transitions.suspended_by_cause(session, transitions.scope_filter(scope, key))
        return {**self._bulk_result(ids), "left_suspended": left}

    def _bulk_result(self, ids: list[bytes]) -> dict[str, Any]:
        """Result of a bulk change; ``ids`` are sorted (see :meth:`_transition`)."""
        shown = ids[: self._settings.audit_inline_ids_max]
        return {"affected": len(ids), "container_ids": [b64e(i) for i in shown]}

    def _transition(
        self,
        session: Session,
        actor: Actor,
        op: Op,
        *,
        scope: str,
        target: str,
        key: bytes | str | int,
        reason: str,
        public_reason: str | None,
        now: datetime,
        ctx: RequestContext,
        extra: dict[str, Any] | None = None,
        where: ColumnElement[bool] | None = None,
        cause: str | None = None,
        audit_extra: dict[str, Any] | None = None,
    ) -> list[bytes]:
        """Apply one lifecycle transition set-based and append its single audit entry."""
        head = lock_head(session)
        seq = head.seq + 1  # the audit entry appended below gets this number
        values: dict[str, Any] = {
            "changed_by": actor.name,
            "reason": reason,
            "public_reason": public_reason,
            "last_audit_seq": seq,
        }
        cond = where if where is not None else transitions.scope_filter(scope, key)
        cleared: list[bytes] = []
        if op is Op.SUSPEND:
            values.update(suspended_at=now, suspend_cause=Cause.OFFICIAL.value)
        elif op is Op.RESTORE:
            # Only a budget suspension resets the budget (spec §receipt): lifting a loss
            # report leaves the count of unconfirmed attempts where the thief left it.
            budget_reset = Container.suspend_cause == Cause.BUDGET.value
            values.update(
                suspended_at=None,
                destroy_after=None,
                suspend_cause=None,
                unconfirmed=case((budget_reset, 0), else_=Container.unconfirmed),
                budget_reset_at=case((budget_reset, now), else_=Container.budget_reset_at),
            )
            if cause != "any":
                cond = cond & (Container.suspend_cause == cause)
            if cause in {Cause.LOSS_REPORT.value, "any"}:
                # The medium was found: its loss report's deadlines go, also on containers
                # left suspended for another cause, and its locked pending containers
                # are unlocked (spec §lifecycle).
                cleared = transitions.clear_loss_deadlines(
                    session, transitions.scope_filter(scope, key), seq, actor.name
                )
        else:
            # Crypto-erasure: the sealed seed and receipt key are overwritten with NULL in
            # the same transaction as the audit entry; only the tombstone remains.
            values.update(
                destroyed_at=now, seed_sealed=None, receipt_key_sealed=None, destroy_after=None
            )
        values.update(extra or {})
        ids = sorted(transitions.apply_transition(session, op, cond, values))
        self._ledger.audit(
            session,
            NewEntry(
                actor=actor.name,
                action=op.value,
                outcome="ok",
                container=target if scope == "container" else None,
                remote=ctx.remote,
                details={
                    "scope": scope,
                    "target": target,
                    "reason": reason,
                    "public_reason": public_reason,
                    **({"cause": cause} if cause is not None else {}),
                    "affected": len(ids),
                    **ids_details(ids, self._settings.audit_inline_ids_max),
                    **(
                        {"deadline_cleared": ids_details(cleared, self._audit_max)}
                        if cleared
                        else {}
                    ),
                    **_integrity_details(session, self._audit_max),
                    **(audit_extra or {}),
                },
            ),
            at=now,
        )
        self._ledger.metrics.inc("rwc_state_changes_total", len(ids), op=op.value)
        return ids

    @property
    def _audit_max(self) -> int:
        return self._settings.audit_inline_ids_max

    def report_loss(  # noqa: PLR0917 - stable positional API of the CLI
        self,
        actor: Actor,
        medium: str,
        reason: str,
        public_reason: str | None = None,
        now_flag: bool = False,
        waiting_period: timedelta | None = None,
        *,
        lost_at: datetime | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Report a medium lost: lock everything on it now, destroy it later (spec §loss).

        Every container of the medium is covered: active ones are suspended (cause
        ``loss-report``), pending ones locked (neither evaluated nor committed), and
        they and the already suspended ones get ``destroy_after = now + waiting period``
        (default ``loss_waiting_period``); an official may restore until then (a found
        medium); the sweep destroys when due. ``now_flag=True`` destroys all at once.
        ``lost_at`` (default: now) is when the medium was lost: the medium report's
        window starts there. ONE audit entry lists every affected container.

        Returns:
            ``{medium, affected, container_ids, suspended, already_suspended,
            pending_locked, lost_at, destroy_after}``.
        """
        wait = self.check_loss(
            actor, medium, reason, public_reason, now_flag, waiting_period, ctx=ctx
        )
        scan = self.loss_scan(lost_at)
        with self._ledger.tx() as session:
            return self.report_loss_in(
                session,
                actor,
                medium,
                reason,
                public_reason,
                now_flag,
                wait,
                lost_at=lost_at,
                scan=scan,
                ctx=ctx,
            )

    def loss_scan(self, lost_at: datetime | None) -> audit.LossScan | None:
        """The audit log searched for the time of loss, BEFORE the transaction.

        spec §report: the time of loss becomes an audit sequence number, fixed at the
        report; the log is searched before the chain-head lock (a scan must not hold up
        releases), and :meth:`report_loss_in` finishes it under the lock.
        """
        if lost_at is None:
            return None
        with self._ledger.reads() as session:
            return audit.scan_loss(session, lost_at)

    def check_loss(  # noqa: PLR0917 - the arguments of report_loss
        self,
        actor: Actor,
        medium: str,
        reason: str,
        public_reason: str | None,
        now_flag: bool,
        waiting_period: timedelta | None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> timedelta:
        """The role gate and argument checks of :meth:`report_loss`; the waiting period."""
        # Refused under the action the report would have recorded (spec §audit).
        action = (Op.DESTROY if now_flag else Op.SUSPEND).value
        self._ledger.require(
            actor,
            OFFICIAL,
            "loss reports",
            action=action,
            target=_refused_target("medium", medium),
            ctx=ctx,
        )
        canonical_medium(medium)
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        wait = self._settings.loss_waiting_period if waiting_period is None else waiting_period
        longest = self._settings.max_waiting_period_days
        if wait < timedelta(0) or wait > timedelta(days=longest):
            raise InvalidRequestError(
                f"the waiting period must be between 0 seconds and {longest} days"
            )
        return wait

    def report_loss_in(  # noqa: PLR0917 - the arguments of report_loss
        self,
        session: Session,
        actor: Actor,
        medium: str,
        reason: str,
        public_reason: str | None,
        now_flag: bool,
        wait: timedelta,
        *,
        lost_at: datetime | None,
        scan: audit.LossScan | None,
        ctx: RequestContext,
        audit_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`report_loss` inside the caller's transaction (checked arguments).

        ``scan``: :meth:`loss_scan` of ``lost_at``, made before the transaction.
        """
        action = (Op.DESTROY if now_flag else Op.SUSPEND).value
        now = self._ledger.now()
        lost = now if lost_at is None else lost_at
        if lost > now:
            raise InvalidRequestError("lost_at must not be in the future")
        head = lock_head(session)
        m = resolve_medium(session, medium)
        m.lost_at = lost
        m.loss_reported_at = now
        name = m.name
        seq = head.seq + 1  # the one audit entry appended below
        m.lost_seq = audit.loss_seq(session, scan, seq)
        on_medium = Container.medium == name
        live = Container.state != State.DESTROYED.value
        transitions.mark_lost(session, on_medium & live, now=now, lost_at=lost)
        common = {
            "changed_by": actor.name,
            "reason": reason,
            "public_reason": public_reason,
            "last_audit_seq": seq,
        }
        groups: dict[str, list[bytes]]
        if now_flag:
            destroy_after = now
            groups = {
                "destroyed": transitions.apply_transition(
                    session,
                    Op.DESTROY,
                    on_medium,
                    {
                        **common,
                        "destroyed_at": now,
                        "seed_sealed": None,
                        "receipt_key_sealed": None,
                        "destroy_after": None,
                    },
                )
            }
        else:
            destroy_after = now + wait
            groups = transitions.lock_for_loss(
                session,
                on_medium,
                {**common, "destroy_after": destroy_after},
                suspend_values={
                    "suspended_at": now,
                    "suspend_cause": Cause.LOSS_REPORT.value,
                },
            )
        ids = sorted(i for group in groups.values() for i in group)
        counts = {k: len(v) for k, v in groups.items()}
        self._ledger.audit(
            session,
            NewEntry(
                actor=actor.name,
                action=action,
                outcome="ok",
                container=None,
                remote=ctx.remote,
                details={
                    "scope": "medium",
                    "target": name,
                    "loss_report": True,
                    "cause": Cause.LOSS_REPORT.value,
                    "reason": reason,
                    "public_reason": public_reason,
                    "lost_at": fmt_time(lost),
                    "destroy_after": fmt_time(destroy_after),
                    "affected": len(ids),
                    **counts,
                    **ids_details(ids, self._audit_max),
                    **_integrity_details(session, self._audit_max),
                    **(audit_extra or {}),
                },
            ),
            at=now,
        )
        for key, group in groups.items():
            op = Op.DESTROY if key == "destroyed" else Op.SUSPEND
            self._ledger.metrics.inc("rwc_state_changes_total", len(group), op=op.value)
        return {
            "medium": name,
            **self._bulk_result(ids),
            **counts,
            "lost_at": fmt_time(lost),
            "destroy_after": fmt_time(destroy_after),
        }

    def sweep(self, actor_name: str = SYSTEM_ACTOR, now: datetime | None = None) -> dict[str, int]:
        """Destroy what is due and drop expired challenges.

        Destroys: pending containers past ``pending_expires_at``, containers past
        ``not_after``, and suspended containers past ``destroy_after`` (loss reports).

        Args:
            actor_name: Name recorded in the audit entries.
            now: Evaluation time (default: the injected clock).

        Returns:
            Counts per category.
        """
        actor = Actor(name=actor_name, roles=frozenset(), local=True)
        counts: dict[str, int] = {}
        with self._ledger.tx() as session:
            at = now or self._ledger.now()
            head = lock_head(session)
            problem = self._clock_problem(session, at, head.seq)
            if problem is not None:
                # spec §operations: no destroy on an implausible clock; an alarm instead.
                log.error("sweep: NOT destroying anything: %s; check the clock (NTP)", problem)
                self._ledger.metrics.inc("rwc_sweep_clock_alarms_total")
                return {"clock_alarm": 1}
            for name, cond, why in transitions.sweep_rules(at):
                ids = self._sweep_rule(session, actor, cond, why, at)
                counts[name] = len(ids)
            # Unconfirmed challenges still count in the attempt windows (spec §receipt).
            keep_since = at - self._settings.attempt_window
            counts["challenges_deleted"] = repository.consume_expired_challenges(
                session, at, keep_since
            )
        return counts

    def _clock_problem(self, session: Session, at: datetime, head_seq: int) -> str | None:
        last_at = session.execute(
            select(AuditEntry.at).where(AuditEntry.seq == head_seq)
        ).scalar_one_or_none()
        mono = self._monotonic() if self._monotonic is not None else 0.0
        reading = Reading(at, mono)
        trusted = self._trusted_clock if self._monotonic is not None else None
        problem = clock_problem(reading, last_at, trusted, self._settings.sweep_max_clock_jump)
        if problem is None and self._monotonic is not None:
            self._trusted_clock = reading
        return problem

    def _sweep_rule(
        self, session: Session, actor: Actor, cond: ColumnElement[bool], why: str, at: datetime
    ) -> list[bytes]:
        due = list(
            session.execute(
                select(Container.id).where(
                    cond,
                    Container.state.in_(
                        [State.PENDING.value, State.ACTIVE.value, State.SUSPENDED.value]
                    ),
                )
            ).scalars()
        )
        if not due:
            return []
        return self._transition(
            session,
            actor,
            Op.DESTROY,
            scope="sweep",
            target=why,
            key="",
            reason=why,
            public_reason=why,
            now=at,
            ctx=LOCAL,
            where=cond,
        )


def ids_details(ids: list[bytes], inline_max: int) -> dict[str, Any]:
    """Audit details naming the affected containers (inline, or count + digest).

    ``ids`` must be sorted: the digest is over the sorted concatenation.
    """
    ordered = ids
    digest = hashlib.sha256(b"".join(ordered)).hexdigest()
    if len(ordered) <= inline_max:
        return {"container_ids": [b64e(i) for i in ordered], "container_ids_sha256": digest}
    return {"container_ids_sha256": digest}


def _integrity_details(session: Session, inline_max: int) -> dict[str, Any]:
    """The rows a bulk change found failing their MAC (spec §row-integrity), if any.

    They were changed with the others (suspended or destroyed: never unsafe) but kept
    their failing MAC, so they stay refused until an official looks.
    """
    failed = rowmacs.take_failed(session)
    if not failed:
        return {}
    return {"row_integrity_failed": {"count": len(failed), **ids_details(failed, inline_max)}}


def _refused_target(scope: str, target: str) -> dict[str, str]:
    """What a role refusal records of a revocation's target (spec §audit).

    The scope and target keys of the operation's own entry, each only when well-formed:
    a reader trying to restore a lost medium is then listed with that medium.
    """
    checks: dict[str, Callable[[str], object]] = {
        "container": decode_container_id,
        "medium": canonical_medium,
        "issuer": lambda v: check_name(v, "issuer"),
    }
    check = checks.get(scope)
    if check is None:
        return {}
    return {"scope": scope, **recordable("target", check, target)}
