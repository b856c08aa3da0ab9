"""Revocation: suspend/restore/destroy by container, medium or issuer; loss reports; sweep.

Each is ONE set-based UPDATE (lifecycle.TRANSITIONS) plus ONE audit entry
(spec §lifecycle, §erasure, §consistency).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from keyserver.domain.context import LOCAL, OFFICIAL, SYSTEM_ACTOR, RequestContext
from keyserver.domain.encoding import b64e
from keyserver.domain.errors import InvalidRequestError, NotFoundError
from keyserver.domain.lifecycle import Actor, Op, State, destroyed_refusal
from keyserver.domain.validation import (
    REASON_MAX,
    check_name,
    check_text,
    decode_container_id,
    fmt_time,
    recordable,
)
from keyserver.store import repository
from keyserver.store.audit import NewEntry, lock_head
from keyserver.store.ledger import Ledger
from keyserver.store.models import Container


class RevocationOps:
    """Official state changes and the sweep."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    def change_state(  # noqa: PLR0917 - stable positional API of the CLI
        self,
        actor: Actor,
        op: Op | str,
        scope: str,
        target: str,
        reason: str,
        public_reason: str | None = None,
        *,
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
            ctx: Request origin.

        Returns:
            ``{affected, container_ids}`` (ids listed up to ``audit_inline_ids_max``).
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
        with self._ledger.tx() as session:
            now = self._ledger.now()
            lock_head(session)
            key: bytes | str | int
            if scope == "container":
                key = decode_container_id(target)
                c = session.get(Container, key)
                if c is None:
                    raise NotFoundError("no such container")
                if c.state == State.DESTROYED.value and op is not Op.DESTROY:
                    # Irreversible: restoring or suspending a destroyed container is refused.
                    raise destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            elif scope == "issuer":
                check_name(target, "issuer")
                p = repository.principal_by_name(session, target)
                if p is None:
                    raise NotFoundError(f"no principal named {target!r}")
                key = p.id
            else:
                check_text(target, "medium")
                key = target
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
            )
        return self._bulk_result(ids)

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
        if op is Op.SUSPEND:
            values["suspended_at"] = now
        elif op is Op.RESTORE:
            values.update(suspended_at=None, destroy_after=None, unconfirmed=0)
        else:
            # Crypto-erasure: the sealed seed and receipt key are overwritten with NULL in
            # the same transaction as the audit entry; only the tombstone remains.
            values.update(
                destroyed_at=now, seed_sealed=None, receipt_key_sealed=None, destroy_after=None
            )
        values.update(extra or {})
        cond = where if where is not None else repository.scope_filter(scope, key)
        ids = sorted(repository.apply_transition(session, op, cond, values))
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
                    "affected": len(ids),
                    **_ids_details(ids, self._settings.audit_inline_ids_max),
                },
            ),
            at=now,
        )
        self._ledger.metrics.inc("rwc_state_changes_total", len(ids), op=op.value)
        return ids

    def report_loss(  # noqa: PLR0917 - stable positional API of the CLI
        self,
        actor: Actor,
        medium: str,
        reason: str,
        public_reason: str | None = None,
        now_flag: bool = False,
        waiting_period: timedelta | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Report a medium lost: suspend its containers now, destroy them later.

        ``destroy_after = now + waiting period`` (default ``loss_waiting_period``); an
        official may restore until then (a found medium); the sweep destroys when due.
        ``now_flag=True`` destroys at once.

        Returns:
            ``{affected, destroy_after, container_ids}``.
        """
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
        check_text(medium, "medium")
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        wait = self._settings.loss_waiting_period if waiting_period is None else waiting_period
        if wait < timedelta(0) or wait > timedelta(days=self._settings.max_waiting_period_days):
            raise InvalidRequestError("waiting period out of range")
        with self._ledger.tx() as session:
            now = self._ledger.now()
            lock_head(session)
            session.execute(
                update(Container)
                .where(
                    Container.medium == medium,
                    Container.state.in_([State.ACTIVE.value, State.SUSPENDED.value]),
                )
                .values(loss_reported_at=now)
                .execution_options(synchronize_session=False)
            )
            if now_flag:
                ids = self._transition(
                    session,
                    actor,
                    Op.DESTROY,
                    scope="medium",
                    target=medium,
                    key=medium,
                    reason=reason,
                    public_reason=public_reason,
                    now=now,
                    ctx=ctx,
                )
                return {**self._bulk_result(ids), "destroy_after": fmt_time(now)}
            destroy_after = now + wait
            ids = self._transition(
                session,
                actor,
                Op.SUSPEND,
                scope="medium",
                target=medium,
                key=medium,
                reason=reason,
                public_reason=public_reason,
                now=now,
                ctx=ctx,
                extra={"destroy_after": destroy_after},
            )
            # Containers already suspended (e.g. by their budget) get the deadline too.
            more = session.execute(
                update(Container)
                .where(
                    Container.medium == medium,
                    Container.state == State.SUSPENDED.value,
                    Container.destroy_after.is_(None),
                )
                .values(destroy_after=destroy_after)
                .execution_options(synchronize_session=False)
            )
            affected = len(ids) + int(getattr(more, "rowcount", 0) or 0)
        return {
            **self._bulk_result(ids),
            "affected": affected,
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
            lock_head(session)
            rules: list[tuple[str, ColumnElement[bool], str]] = [
                (
                    "pending_expired",
                    (Container.state == State.PENDING.value) & (Container.pending_expires_at <= at),
                    "pending container was never committed",
                ),
                (
                    "not_after",
                    Container.not_after.is_not(None) & (Container.not_after <= at),
                    "not_after passed",
                ),
                (
                    "loss_waiting_period",
                    (Container.state == State.SUSPENDED.value)
                    & Container.destroy_after.is_not(None)
                    & (Container.destroy_after <= at),
                    "loss report waiting period over",
                ),
            ]
            for name, cond, why in rules:
                ids = self._sweep_rule(session, actor, cond, why, at)
                counts[name] = len(ids)
            counts["challenges_deleted"] = repository.consume_expired_challenges(session, at)
        return counts

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


def _ids_details(ids: list[bytes], inline_max: int) -> dict[str, Any]:
    """Audit details naming the affected containers (inline, or count + digest).

    ``ids`` must be sorted: the digest is over the sorted concatenation.
    """
    ordered = ids
    digest = hashlib.sha256(b"".join(ordered)).hexdigest()
    if len(ordered) <= inline_max:
        return {"container_ids": [b64e(i) for i in ordered], "container_ids_sha256": digest}
    return {"container_ids_sha256": digest}


def _refused_target(scope: str, target: str) -> dict[str, str]:
    """What a role refusal records of a revocation's target (spec §audit).

    The scope and target keys of the operation's own entry, each only when well-formed:
    a reader trying to restore a lost medium is then listed with that medium.
    """
    checks: dict[str, Callable[[str], object]] = {
        "container": decode_container_id,
        "medium": lambda v: check_text(v, "medium"),
        "issuer": lambda v: check_name(v, "issuer"),
    }
    check = checks.get(scope)
    if check is None:
        return {}
    return {"scope": scope, **recordable("target", check, target)}
