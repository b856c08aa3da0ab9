"""Revocation: suspend/restore/destroy by container, medium or issuer (officials).

Each is ONE set-based UPDATE (lifecycle.TRANSITIONS) plus ONE audit entry
(spec §lifecycle, §erasure, §consistency). Loss reports are in ``loss.py`` and the sweep
in ``sweep.py`` (which destroys through :meth:`RevocationOps.transition`); the helpers
here that name affected containers in audit entries are shared by the three.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from keyserver._domain.context import LOCAL, OFFICIAL, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import InvalidRequestError, RowIntegrityError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import (
    RESTORE_CAUSES,
    SCOPES,
    Actor,
    Cause,
    Op,
    State,
    destroyed_refusal,
)
from keyserver._domain.media import canonical_medium
from keyserver._domain.validation import (
    REASON_MAX,
    check_name,
    check_text,
    decode_container_id,
    recordable,
)
from keyserver._service.media import missing_container, resolve_medium, resolve_principal
from keyserver._store import repository, rowmacs, transitions
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import Container

log = logging.getLogger("keyserver")


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
                    session, actor, op, scope, target, reason, public_reason, cause=cause, ctx=ctx
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
            N_("%(op)s containers", op=op.value),
            action=op.value,
            container=target if scope == "container" else None,
            target=refused_target(scope, target),
            ctx=ctx,
        )
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        if scope not in SCOPES:
            raise InvalidRequestError(N_("scope must be container, medium or issuer"))
        if cause is not None and op is not Op.RESTORE:
            raise InvalidRequestError(N_("cause applies to restore only"))
        if cause is None and op is Op.RESTORE:
            cause = "any" if scope == "container" else Cause.LOSS_REPORT.value
        if cause is not None and cause not in RESTORE_CAUSES:
            raise InvalidRequestError(
                N_("cause must be one of %(causes)s", causes=", ".join(sorted(RESTORE_CAUSES)))
            )
        return op, cause

    def resolve(
        self, session: Session, op: Op, scope: str, target: str
    ) -> tuple[str, bytes | str | int]:
        """The target as recorded (a medium under its one name) and its key in the table.

        Raises the refusals of an unknown target (``not-found`` with suggestions), of
        anything but a destroy on a destroyed container, and of a row failing its MAC.
        """
        key: bytes | str | int
        if scope == "container":
            key = decode_container_id(target)
            c = session.get(Container, key)
            if c is None:
                # Officials see every container: the nearest ids are offered.
                raise missing_container(session, target, issuer_id=None)
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
        ids = self.transition(
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
            return bulk_result(ids, self._audit_max)
        # What the restore left in place, and why (spec §lifecycle).
        left = transitions.suspended_by_cause(session, transitions.scope_filter(scope, key))
        return {**bulk_result(ids, self._audit_max), "left_suspended": left}

    def transition(
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
        """Apply one lifecycle transition set-based and append its single audit entry.

        Returns the sorted ids of the containers it changed.
        """
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
            # Which suspensions are lifted, and the budget reset of a budget suspension:
            # transitions.restore (below).
            values.update(suspended_at=None, destroy_after=None, suspend_cause=None)
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
        if op is Op.RESTORE:
            if cause is None:
                # check_change gives every restore its cause; none must never mean "all".
                raise ValueError("a restore needs the cause of the suspensions it lifts")
            ids = sorted(transitions.restore(session, cond, values, cause=cause, now=now))
        else:
            ids = sorted(transitions.apply_transition(session, op, cond, values))
        self._ledger.audit_ok(
            session,
            actor,
            op.value,
            ctx,
            {
                "scope": scope,
                "target": target,
                "reason": reason,
                "public_reason": public_reason,
                **({"cause": cause} if cause is not None else {}),
                "affected": len(ids),
                **ids_details(ids, self._settings.audit_inline_ids_max),
                **({"deadline_cleared": ids_details(cleared, self._audit_max)} if cleared else {}),
                **integrity_details(session, self._audit_max),
                **(audit_extra or {}),
            },
            container=target if scope == "container" else None,
            at=now,
        )
        self._ledger.metrics.inc("rwc_state_changes_total", len(ids), op=op.value)
        return ids

    @property
    def _audit_max(self) -> int:
        return self._settings.audit_inline_ids_max


def bulk_result(ids: list[bytes], inline_max: int) -> dict[str, Any]:
    """The answer to a bulk change; ``ids`` sorted (see :meth:`RevocationOps.transition`)."""
    return {"affected": len(ids), "container_ids": [b64e(i) for i in ids[:inline_max]]}


def ids_details(ids: list[bytes], inline_max: int) -> dict[str, Any]:
    """Audit details naming the affected containers (inline, or count + digest).

    ``ids`` must be sorted: the digest is over the sorted concatenation.
    """
    ordered = ids
    digest = hashlib.sha256(b"".join(ordered)).hexdigest()
    if len(ordered) <= inline_max:
        return {"container_ids": [b64e(i) for i in ordered], "container_ids_sha256": digest}
    return {"container_ids_sha256": digest}


def integrity_details(session: Session, inline_max: int) -> dict[str, Any]:
    """The rows a bulk change found failing their MAC (spec §row-integrity), if any.

    They were changed with the others (suspended or destroyed: never unsafe) but kept
    their failing MAC, so they stay refused until an official looks.
    """
    failed = rowmacs.take_failed(session)
    if not failed:
        return {}
    return {"row_integrity_failed": {"count": len(failed), **ids_details(failed, inline_max)}}


def refused_target(scope: str, target: str) -> dict[str, str]:
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
