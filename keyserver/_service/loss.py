"""Loss reports: everything on a lost medium is locked now and destroyed later (spec §loss).

One report is ONE audit entry listing every affected container. A second report of a
medium whose first one still holds keeps the earlier time of loss and destroy deadline
unless the official asks to replace them (spec §loss).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from keyserver._domain.context import LOCAL, OFFICIAL, RequestContext
from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor, Cause, Op, State
from keyserver._domain.media import canonical_medium
from keyserver._domain.validation import REASON_MAX, check_text, fmt_time
from keyserver._service.media import resolve_medium
from keyserver._service.revocation import (
    bulk_result,
    ids_details,
    integrity_details,
    refused_target,
)
from keyserver._store import loss_window, transitions
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry, Container, Medium


class LossOps:
    """``report_loss``: the official's first action after a loss."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings

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
        told_at: datetime | None = None,
        replace_earlier: bool = False,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Report a medium lost: lock everything on it now, destroy it later (spec §loss).

        Every container of the medium is covered: active ones are suspended (cause
        ``loss-report``), pending ones locked (neither evaluated nor committed), and
        they and the already suspended ones get ``destroy_after = now + waiting period``
        (default ``loss_waiting_period``); an official may restore until then (a found
        medium); the sweep destroys when due. ``now_flag=True`` destroys all at once.
        ``lost_at`` (default: now) is when the medium was lost: the medium report's
        window starts there. ``told_at`` is the time the official was told, when
        ``lost_at`` is set earlier than it to count reader key releases just before it (the
        console's "Not sure" answer): kept beside it for the report to say. ONE audit entry
        lists every affected container.

        A medium reported again while an earlier report still holds (a destroy deadline
        not lifted by a restore) keeps the earlier, earliest times: the time of loss and
        the destroy deadline of the medium are the earlier of both reports', unless
        ``replace_earlier`` (then this report's replace them). A second report must never
        quietly push back a destruction, nor shrink the window in which openings are
        reported (spec §loss).

        Returns:
            ``{medium, affected, container_ids, suspended, already_suspended,
            pending_locked, lost_at, told_at, destroy_after, earlier_report,
            kept_earlier, requested}``.
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
                told_at=told_at,
                replace_earlier=replace_earlier,
                scan=scan,
                ctx=ctx,
            )

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
            N_("loss reports"),
            action=action,
            target=refused_target("medium", medium),
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
                N_(
                    "the waiting period must be between 0 seconds and %(days)s days",
                    days=longest,
                )
            )
        return wait

    def loss_scan(self, lost_at: datetime | None) -> loss_window.LossScan | None:
        """The log searched for the time of loss (spec §report), before the transaction.

        A scan must not hold up releases, so it runs before the chain-head lock;
        :meth:`report_loss_in` finishes it under the lock.
        """
        if lost_at is None:
            return None
        with self._ledger.reads() as session:
            return loss_window.scan_loss(session, lost_at)

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
        replace_earlier: bool,
        scan: loss_window.LossScan | None,
        ctx: RequestContext,
        told_at: datetime | None = None,
        audit_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`report_loss` inside the caller's transaction (checked arguments)."""
        action = (Op.DESTROY if now_flag else Op.SUSPEND).value
        now = self._ledger.now()
        lost = now if lost_at is None else lost_at
        if lost > now:
            raise InvalidRequestError(N_("lost_at must not be in the future"))
        _check_told(told_at, lost_at, now)
        head = lock_head(session)
        m = resolve_medium(session, medium)
        name = m.name
        seq = head.seq + 1  # the one audit entry appended below
        on_medium = Container.medium == name
        live = Container.state != State.DESTROYED.value
        requested = LossTimes(lost, now, now if now_flag else now + wait, told_at)
        earlier = holding_report(session, m, on_medium & live)
        times, kept = merge_reports(earlier, requested, replace=replace_earlier)
        lost = times.lost_at
        m.lost_at = lost
        m.loss_reported_at = times.reported_at
        if "lost_at" not in kept:
            # Kept earlier time of loss: its sequence number and time told stay too.
            m.lost_seq = loss_window.loss_seq(session, scan, seq)
            m.told_at = told_at
        told = m.told_at
        transitions.mark_lost(session, on_medium & live, now=times.reported_at, lost_at=lost)
        common = {
            "changed_by": actor.name,
            "reason": reason,
            "public_reason": public_reason,
            "last_audit_seq": seq,
        }
        groups: dict[str, list[bytes]]
        destroy_after = times.destroy_after
        if now_flag:
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
        self._ledger.audit_ok(
            session,
            actor,
            action,
            ctx,
            {
                "scope": "medium",
                "target": name,
                "loss_report": True,
                "cause": Cause.LOSS_REPORT.value,
                "reason": reason,
                "public_reason": public_reason,
                "lost_at": fmt_time(lost),
                # Only where there is one: entries of reports without it stay as they were.
                **({"told_at": fmt_time(told)} if told is not None else {}),
                "destroy_after": fmt_time(destroy_after),
                "affected": len(ids),
                **counts,
                **ids_details(ids, self._audit_max),
                **integrity_details(session, self._audit_max),
                **_earlier_details(earlier, requested, kept, replace_earlier),
            },
            container=None,
            at=now,
        )
        for key, group in groups.items():
            op = Op.DESTROY if key == "destroyed" else Op.SUSPEND
            self._ledger.metrics.inc("rwc_state_changes_total", len(group), op=op.value)
        return {
            "medium": name,
            **bulk_result(ids, self._audit_max),
            **counts,
            "lost_at": fmt_time(lost),
            "told_at": fmt_time(told),
            "destroy_after": fmt_time(destroy_after),
            **_earlier_details(earlier, requested, kept, replace_earlier),
        }


def _check_told(told_at: datetime | None, lost_at: datetime | None, now: datetime) -> None:
    """A time told is the time the loss was counted from or later, never future (spec §loss).

    It says why ``lost_at`` is earlier than what the official was told (the releases just
    before it count): without ``lost_at`` there is nothing to say it beside, and one
    earlier than ``lost_at`` would mean a window that misses the time told.
    """
    if told_at is None:
        return
    if lost_at is None:
        raise InvalidRequestError(N_("told_at needs lost_at"), field="told_at")
    if told_at > now:
        raise InvalidRequestError(N_("told_at must not be in the future"), field="told_at")
    if told_at < lost_at:
        raise InvalidRequestError(N_("told_at must not be earlier than lost_at"), field="told_at")


@dataclass(frozen=True)
class LossTimes:
    """The times of one loss report: when lost, when reported, when destroyed."""

    lost_at: datetime
    reported_at: datetime
    destroy_after: datetime
    # The time told that goes with ``lost_at`` (spec §loss), said where a report's times
    # are shown (issue 12, console45: a second report's banner said "this report said
    # 09:45:00", the start of the period covered, for a time told "around 10:00"). It
    # decides nothing: the medium's told_at goes with its lost_at in effect (report_loss_in).
    told_at: datetime | None = None

    def doc(self) -> dict[str, str | None]:
        """As the protocol writes them (RFC 3339 UTC); ``told_at`` only where there is one."""
        times = {
            "lost_at": fmt_time(self.lost_at),
            "loss_reported_at": fmt_time(self.reported_at),
            "destroy_after": fmt_time(self.destroy_after),
        }
        return times if self.told_at is None else {**times, "told_at": fmt_time(self.told_at)}


def merge_reports(
    earlier: LossTimes | None, requested: LossTimes, *, replace: bool
) -> tuple[LossTimes, list[str]]:
    """The times a report takes effect with, and which of the earlier report's it kept.

    spec §loss: while an earlier report holds, the earliest time of loss (the widest
    window of the medium report), the first report's time and the earliest destroy
    deadline win, unless ``replace``. Returns the effective times and the names of the
    earlier values kept over different requested ones (``lost_at``, ``destroy_after``).
    """
    if earlier is None or replace:
        return requested, []
    kept = [
        key
        for key in ("lost_at", "destroy_after")
        if getattr(earlier, key) < getattr(requested, key)
    ]
    effective = LossTimes(
        lost_at=min(earlier.lost_at, requested.lost_at),
        reported_at=min(earlier.reported_at, requested.reported_at),
        destroy_after=min(earlier.destroy_after, requested.destroy_after),
    )
    return effective, kept


def holding_report(
    session: Session, medium: Medium, live_on_medium: ColumnElement[bool]
) -> LossTimes | None:
    """The medium's loss report, if it still holds (a destroy deadline not lifted).

    The one rule of "is this medium's loss current" (spec §loss): a report again keeps
    its times, and the console shows it as the medium's state, not as history.
    """
    deadline = session.execute(
        select(func.min(Container.destroy_after)).where(
            live_on_medium, Container.destroy_after.is_not(None)
        )
    ).scalar_one_or_none()
    if deadline is None or medium.lost_at is None or medium.loss_reported_at is None:
        return None  # never reported, or restored since (the medium was found)
    return LossTimes(medium.lost_at, medium.loss_reported_at, deadline, medium.told_at)


def loss_reporter(session: Session, medium: Medium) -> str | None:
    """Who made the loss report whose time the medium carries (``loss_reported_at``).

    That report's audit entry (one per report, spec §loss) is the first loss report of the
    medium at or after ``loss_reported_at``: a later report keeps the earlier time unless
    it replaces it, and an entry is never dated before the report's time (the chain's time
    never goes backwards). From the log, not ``changed_by``: a container's restore or
    destroy since the report rewrites that column. None: no report, or none found.
    """
    if medium.loss_reported_at is None:
        return None
    stmt = select(AuditEntry.actor, AuditEntry.details).where(
        AuditEntry.action.in_((Op.SUSPEND.value, Op.DESTROY.value)),
        AuditEntry.container.is_(None),
        AuditEntry.outcome == "ok",
        AuditEntry.at >= medium.loss_reported_at,
    )
    if medium.lost_seq is not None:  # the report comes after its time of loss (index)
        stmt = stmt.where(AuditEntry.seq >= medium.lost_seq)
    for actor, text in session.execute(stmt.order_by(AuditEntry.seq)):
        details = json.loads(text)
        if details.get("loss_report") and details.get("target") == medium.name:
            return str(actor)
    return None


def _earlier_details(
    earlier: LossTimes | None, requested: LossTimes, kept: list[str], replaced: bool
) -> dict[str, Any]:
    """What a report says (answer and audit entry) about an earlier one that held."""
    if earlier is None:
        return {"earlier_report": None, "kept_earlier": []}
    return {
        "earlier_report": earlier.doc(),
        "requested": {k: v for k, v in requested.doc().items() if k != "loss_reported_at"},
        "kept_earlier": kept,
        "replaced_earlier": replaced,
    }
