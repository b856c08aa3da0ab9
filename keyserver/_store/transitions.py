"""Set-based state changes of containers (spec §lifecycle, §loss), with their row MACs.

Split from repository.py (issue 9) by job: every statement here rewrites many container
rows at once (a medium, an issuer, a sweep rule), and each goes through
:func:`keyserver._store.rowmacs.constant_update` (the values of each UPDATE are
constants), which recomputes the MAC of each changed row that verified before the change
and reports the ones that did not (spec §row-integrity). All functions take the
caller's :class:`Session` (opened by ``Ledger.tx``); the service owns transactions and
audit entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from keyserver._domain.lifecycle import LOSS_EFFECTS, TRANSITIONS, Cause, Op, State
from keyserver._domain.system_reasons import (
    LOSS_PERIOD_OVER_REASON,
    NOT_AFTER_REASON,
    PENDING_EXPIRED_REASON,
)
from keyserver._store.models import Container
from keyserver._store.rowmacs import constant_update


def scope_filter(scope: str, target: bytes | str | int) -> ColumnElement[bool]:
    """WHERE clause selecting the containers of a scope (container, medium or issuer)."""
    if scope == "container":
        return Container.id == target
    if scope == "medium":
        return Container.medium == target
    return Container.issuer_id == target


def sweep_rules(at: datetime) -> list[tuple[str, ColumnElement[bool], str]]:
    """What a sweep at ``at`` destroys: (count name, condition, reason) per rule.

    The one definition: the sweep applies it (keyserver/_service/revocation.py), and a
    replay after a restore applies a recorded sweep again by its reason (spec §backup).
    """
    return [
        (
            "pending_expired",
            (Container.state == State.PENDING.value) & (Container.pending_expires_at <= at),
            PENDING_EXPIRED_REASON,
        ),
        (
            "not_after",
            Container.not_after.is_not(None) & (Container.not_after <= at),
            NOT_AFTER_REASON,
        ),
        (
            # Suspended containers and locked pending ones (spec §lifecycle): only
            # a loss report sets destroy_after.
            "loss_waiting_period",
            Container.destroy_after.is_not(None) & (Container.destroy_after <= at),
            LOSS_PERIOD_OVER_REASON,
        ),
    ]


def apply_transition(
    session: Session,
    op: Op,
    where: ColumnElement[bool],
    values: dict[str, Any],
) -> list[bytes]:
    """Set-based suspend or destroy of every container matching ``where`` (ONE UPDATE).

    Only containers in a source state of ``op`` (lifecycle.TRANSITIONS) change; the ids of
    the changed containers are returned. A restore is :func:`restore` (its values depend
    on each row's cause).
    """
    if op is Op.RESTORE:
        raise ValueError("a restore goes through transitions.restore")
    sources, target = TRANSITIONS[op]
    cond = and_(where, Container.state.in_([s.value for s in sources]))
    # Suspend and destroy set constants: one read, one UPDATE, MACs from one encoding.
    return constant_update(session, cond, {"state": target.value, **values})


def restore(
    session: Session,
    where: ColumnElement[bool],
    values: dict[str, Any],
    *,
    cause: str,
    now: datetime,
) -> list[bytes]:
    """Lift the suspensions of ``cause`` (or ``any``) on the containers matching ``where``.

    spec §lifecycle, §receipt: only a budget suspension resets the budget (``unconfirmed``
    0, ``budget_reset_at`` now); lifting a loss report or an official's suspension leaves
    the count of unconfirmed attempts where the thief left it. So the values are constant
    within each cause, and each cause's rows are ONE :func:`constant_update` (issue 15:
    the batched MACs of a bulk suspend); ``any`` is two, the budget suspensions and the
    others, in the caller's transaction. A restore grants, so ``fresh``: a row copied back
    from a backup is restored but keeps its MAC (stays refused) and is named in the audit
    entry. Returns the changed ids.
    """
    sources, target = TRANSITIONS[Op.RESTORE]
    cond = and_(where, Container.state.in_([s.value for s in sources]))
    budget = Container.suspend_cause == Cause.BUDGET.value
    groups: list[tuple[ColumnElement[bool], dict[str, Any]]] = []
    if cause in {Cause.BUDGET.value, "any"}:
        groups.append((budget, {"unconfirmed": 0, "budget_reset_at": now}))
    if cause == "any":
        # SQL's ``!=`` is NULL on a NULL cause (a suspension from before causes existed).
        groups.append((Container.suspend_cause.is_(None) | ~budget, {}))
    elif cause != Cause.BUDGET.value:
        groups.append((Container.suspend_cause == cause, {}))
    ids: list[bytes] = []
    for only, extra in groups:
        changed = {"state": target.value, **values, **extra}
        ids += constant_update(session, and_(cond, only), changed, fresh=True)
    return ids


def transition_candidates(
    session: Session, op: Op, where: ColumnElement[bool]
) -> list[tuple[bytes, str]]:
    """``(id, label)`` of the containers :func:`apply_transition` would change, by id.

    What a request for approval lists (spec §approvals): the same WHERE and source states.
    """
    sources, _ = TRANSITIONS[op]
    rows = session.execute(
        select(Container.id, Container.label)
        .where(and_(where, Container.state.in_([s.value for s in sources])))
        .order_by(Container.id)
    ).all()
    return [(bytes(cid), str(label)) for cid, label in rows]


def suspended_by_cause(session: Session, where: ColumnElement[bool]) -> dict[str, int]:
    """Suspended containers matching ``where``, counted by cause (what a restore left)."""
    rows = session.execute(
        select(Container.suspend_cause, func.count())
        .where(where, Container.state == State.SUSPENDED.value)
        .group_by(Container.suspend_cause)
    ).all()
    return {str(cause or "unknown"): int(n) for cause, n in rows}


def clear_loss_deadlines(
    session: Session, where: ColumnElement[bool], seq: int, actor: str
) -> list[bytes]:
    """Undo a loss report's hold on the containers matching ``where`` (a found medium).

    Clears ``destroy_after`` of the suspended containers that stay suspended for another
    cause, and unlocks pending containers locked by the loss report. Returns their ids.
    """
    values = {"destroy_after": None, "last_audit_seq": seq, "changed_by": actor}
    held = and_(where, Container.destroy_after.is_not(None))
    # Two constant changes (issue 15: the batched MACs): a locked pending container loses
    # the loss report's cause too; a suspended one keeps its own cause.
    pending = and_(held, Container.state == State.PENDING.value)
    suspended = and_(
        held,
        Container.state == State.SUSPENDED.value,
        Container.suspend_cause != Cause.LOSS_REPORT.value,
    )
    ids = constant_update(session, pending, {**values, "suspend_cause": None}, fresh=True)
    ids += constant_update(session, suspended, values, fresh=True)
    return sorted(ids)


def mark_lost(
    session: Session, where: ColumnElement[bool], *, now: datetime, lost_at: datetime
) -> None:
    """Record the loss report on every container matching ``where`` (spec §loss).

    ``loss_reported_at`` and ``lost_at`` are for reports, not for releases: not MACed
    (keyserver/_domain/rowmac.py FIELDS), so no MAC changes here.
    """
    session.execute(
        update(Container)
        .where(where)
        .values(loss_reported_at=now, lost_at=lost_at)
        .execution_options(synchronize_session=False)
    )


def lock_for_loss(
    session: Session,
    where: ColumnElement[bool],
    values: dict[str, Any],
    *,
    suspend_values: dict[str, Any],
) -> dict[str, list[bytes]]:
    """A loss report's hold on every live container matching ``where`` (spec §loss).

    Active containers are suspended (``values`` and ``suspend_values``); pending ones
    are locked (``values``, with the loss-report cause, state unchanged); suspended ones
    keep their cause and get ``values`` (the deadline of the report). Returns the ids of
    each group: ``suspended``, ``pending_locked``, ``already_suspended``.
    """

    def change(state: State, extra: dict[str, Any]) -> list[bytes]:
        cond = and_(where, Container.state == state.value)
        return sorted(constant_update(session, cond, {**values, **extra}))

    # Already suspended first, so the containers suspended now are not counted twice.
    already = change(State.SUSPENDED, {})
    locked = change(State.PENDING, {"suspend_cause": suspend_values["suspend_cause"]})
    suspended = change(State.ACTIVE, {"state": State.SUSPENDED.value, **suspend_values})
    return {
        LOSS_EFFECTS[State.ACTIVE]: suspended,
        LOSS_EFFECTS[State.SUSPENDED]: already,
        LOSS_EFFECTS[State.PENDING]: locked,
    }
