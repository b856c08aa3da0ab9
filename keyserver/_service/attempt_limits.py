"""Containers at their attempt limit, whose attempts those were, and the official's reset.

spec §receipt: when a container's attempt budget runs out it suspends itself; the receipt of
the very evaluation that ran it out lifts that suspension and refunds that one evaluation,
so ``unconfirmed`` stays at ``attempt_budget - 1``. Every later unconfirmed evaluation (the
same clerk mistyping once) suspends it again, until an official resets the count. A restore
resets it only for a suspended container; an active container at its limit is reset here
(``budget.reset``, spec §receipt), audited with the official as actor, the one
implementation behind ``POST /v1/containers/{id}/reset-budget`` and the console's button.
The console's overview lists those containers with the principals whose unconfirmed
attempts they hold (issue 12).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyserver._domain.context import LOCAL, OFFICIAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import ConflictError, RowIntegrityError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor, State, destroyed_refusal
from keyserver._domain.validation import REASON_MAX, check_text, decode_container_id, fmt_time
from keyserver._service.media import missing_container
from keyserver._store import repository, rowmacs
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry, Container

RESET_ACTION = "budget.reset"
# The overview lists at most this many (as it lists the budget suspensions).
AT_LIMIT_MAX = 50
# Audit entries read per statement while looking for a container's unconfirmed attempts.
_PAGE = 200


def at_limit(session: Session) -> list[dict[str, Any]]:
    """Active containers one unconfirmed attempt from suspending themselves.

    ``unconfirmed`` reaching ``attempt_budget - 1`` (and above 0: a budget of 1 starts
    there, and nothing has happened to those), each with ``attempts_by``: who made its
    unconfirmed attempts and how many (:func:`unconfirmed_by`), most first.
    """
    rows = session.execute(
        select(Container)
        .where(
            Container.state == State.ACTIVE.value,
            Container.unconfirmed > 0,
            Container.unconfirmed + 1 >= Container.attempt_budget,
        )
        .order_by(Container.medium, Container.label, Container.id)
        .limit(AT_LIMIT_MAX)
    ).scalars()
    out = []
    for c in rows:
        cid = b64e(c.id)
        by = unconfirmed_by(session, cid, c.unconfirmed, c.budget_reset_at)
        out.append(
            {
                "container_id": cid,
                "label": c.label,
                "medium": c.medium,
                "unconfirmed": c.unconfirmed,
                "attempt_budget": c.attempt_budget,
                "attempts_by": _ranked(by),
            }
        )
    return out


def unconfirmed_by(
    session: Session, cid_text: str, unconfirmed: int, since: datetime | None
) -> dict[str, int]:
    """Who made the container's ``unconfirmed`` unconfirmed evaluations since ``since``.

    spec §receipt: a receipt confirms the one evaluation it answers, audited with that
    evaluation's ``evaluated_at`` by the same principal, so the audit log (kept for good,
    unlike the challenges the sweep drops after the attempt window) tells them apart.
    Read newest first, page by page, until as many unconfirmed ones as the row counts are
    found or the last budget reset (``since``) is reached: a clerk's daily confirmed
    openings before them are not all read. A receipt comes after its evaluation, so it is
    seen first. An evaluation whose entry was held at an earlier entry's time (the clock
    stepped back, spec §audit) is not matched by its receipt and may be counted instead
    of an older one: the names are for the official to ask, the count is the row's.
    """
    counts: dict[str, int] = {}
    confirmed: set[tuple[str, str]] = set()
    found = 0
    before: int | None = None
    while found < unconfirmed:
        stmt = select(
            AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.details
        ).where(
            AuditEntry.container == cid_text,
            AuditEntry.action.in_(("evaluate", "receipt")),
            AuditEntry.outcome == "ok",
        )
        if before is not None:
            stmt = stmt.where(AuditEntry.seq < before)
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        rows = session.execute(stmt.order_by(AuditEntry.seq.desc()).limit(_PAGE)).all()
        for _seq, at, actor, action, details in rows:
            facts = json.loads(details)
            if action == "receipt":
                confirmed.add((actor, facts.get("evaluated_at")))
            elif facts.get("mode") == "read" and (actor, fmt_time(at)) not in confirmed:
                counts[actor] = counts.get(actor, 0) + 1
                found += 1
                if found == unconfirmed:
                    break
        if len(rows) < _PAGE:
            break
        before = rows[-1][0]
    return counts


def _ranked(by: dict[str, int]) -> list[dict[str, Any]]:
    """Whose attempts, most first (then by name), as the pages list them."""
    ranked = sorted(by.items(), key=lambda item: (-item[1], item[0]))
    return [{"actor": name, "attempts": n} for name, n in ranked]


class AttemptLimitOps:
    """The official's reset of an active container's attempt count, and what it shows."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings

    def reset_budget(
        self, actor: Actor, container_id: str, reason: str, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Reset an active container's count of unconfirmed attempts to 0 (officials).

        spec §receipt: what a restore of a budget suspension does to the count, for a
        container that is not suspended (at its limit, or on its way there). One
        transaction, one ``budget.reset`` entry with the official as actor, the reason and
        the count before. Evaluations issued before the reset are no longer refunded by
        their receipts, as after a restore.

        Returns:
            ``{container_id, unconfirmed_before, unconfirmed}``.

        Raises:
            NotFoundError: No such container (with the nearest ids).
            DestroyedError: Its keys are destroyed.
            ConflictError: It is suspended (its restore resets the count) or pending.
            RowIntegrityError: Its row fails its MAC (spec §row-integrity; audited).
        """
        cid = decode_container_id(container_id)
        self._ledger.require(
            actor,
            OFFICIAL,
            N_("resetting attempt counts"),
            action=RESET_ACTION,
            container=container_id,
            ctx=ctx,
        )
        check_text(reason, "reason", REASON_MAX)
        try:
            with self._ledger.tx() as session:
                now = self._ledger.now()
                lock_head(session)
                c = repository.container_for_update(session, cid)
                if c is None:
                    raise missing_container(session, container_id, issuer_id=None)
                if c.state == State.DESTROYED.value:
                    raise destroyed_refusal(repository.view_of(session, c), self._settings.contact)
                if c.state == State.SUSPENDED.value:
                    # One way back per state: a suspended container is restored, and the
                    # restore of its budget suspension resets the count (spec §lifecycle).
                    raise ConflictError(
                        N_("the container is suspended: restore it (that resets its count)")
                    )
                if c.state != State.ACTIVE.value:
                    raise ConflictError(N_("the container is not committed yet"))
                if (problem := rowmacs.session_problem(session, c)) is not None:
                    # spec §row-integrity: an edited row is not granted anything on its word.
                    raise problem
                before = c.unconfirmed
                c.unconfirmed = 0
                c.budget_reset_at = now
                c.changed_by = actor.name
                c.reason = reason
                c.public_reason = None
                entry = self._ledger.audit_ok(
                    session,
                    actor,
                    RESET_ACTION,
                    ctx,
                    {
                        "reason": reason,
                        "unconfirmed_before": before,
                        "attempt_budget": c.attempt_budget,
                    },
                    container=container_id,
                    at=now,
                )
                c.last_audit_seq = entry.seq
        except RowIntegrityError as exc:
            # Recorded in a transaction of its own: the refused one was rolled back.
            raise self._ledger.refuse(actor, RESET_ACTION, container_id, ctx, exc) from None
        return {"container_id": container_id, "unconfirmed_before": before, "unconfirmed": 0}

    def unconfirmed_attempts(
        self, actor: Actor, container_id: str, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """A container's count and whose unconfirmed attempts it holds (officials, auditors).

        What the console's confirmation of a reset shows (:func:`unconfirmed_by`).

        Returns:
            ``{container_id, unconfirmed, attempt_budget, attempts_by}``.
        """
        cid = decode_container_id(container_id)
        self._ledger.require(
            actor,
            OVERSIGHT,
            N_("reading a container"),
            action="status",
            container=container_id,
            ctx=ctx,
        )
        with self._ledger.reads() as session:
            c = session.get(Container, cid)
            if c is None:
                raise missing_container(session, container_id, issuer_id=None)
            by = unconfirmed_by(session, container_id, c.unconfirmed, c.budget_reset_at)
            return {
                "container_id": container_id,
                "unconfirmed": c.unconfirmed,
                "attempt_budget": c.attempt_budget,
                "attempts_by": _ranked(by),
            }
