"""Container operations that write: register, commit, receipt (writers and readers).

Key releases (evaluate) are the release package's (keyserver/_release/batch.py); what
only reads a container (status, search, access) is container_queries.py's.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyserver._domain import budget, keys
from keyserver._domain.budget import ATTEMPT_BUDGET_MAX
from keyserver._domain.context import EVALUATORS, LOCAL, SYSTEM_ACTOR, WRITER, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import (
    ConflictError,
    InvalidReceiptError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
    PendingError,
)
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import (
    Actor,
    Cause,
    Op,
    State,
    destroyed_refusal,
    refusal_for_state,
    suspended_refusal,
)
from keyserver._domain.media import canonical_medium, nearest
from keyserver._domain.rowmac import LaterEntry
from keyserver._domain.validation import (
    CHALLENGE_BYTES,
    CONTAINER_ID_BYTES,
    SUITE,
    check_name,
    check_people,
    check_text,
    decode_container_id,
    fmt_time,
)
from keyserver._service.media import (
    register_medium,
)
from keyserver._service.revocation import ids_details
from keyserver._store import repository, rowmacs
from keyserver._store.audit import NewEntry, lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import (
    AuditEntry,
    Challenge,
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Principal,
)


class ContainerOps:
    """The writes of one container's life before and after its key releases."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    def register(
        self,
        actor: Actor,
        *,
        label: str,
        medium: str | None,
        readers: list[str],
        reader_groups: list[str],
        not_after: datetime | None = None,
        password_required: bool = True,
        attempt_budget: int | None = None,
        people: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Register a pending container for the writer ``actor``.

        ``people``: how many people's personal data it holds, as the writer declared (None:
        not declared); shown to officials and in the medium report, never decided on.

        Returns:
            ``{container_id, public_key, suite, server_id, state, pending_expires_at}``.
        """
        self._ledger.require(
            actor, WRITER, N_("registering containers"), action="register", ctx=ctx
        )
        if actor.principal_id is None:
            raise InvalidRequestError(N_("only a principal can register containers"))
        check_text(label, "label", field="label")
        if medium is not None:
            # spec §media: one canonical form, fixed at the medium's first registration;
            # what cannot be made unambiguous is refused here, never stored.
            canonical_medium(medium)
        elif self._settings.require_medium:
            raise InvalidRequestError(
                N_(
                    "this key server requires a medium: name the USB stick or disk the "
                    "container goes on (its serial number or asset tag)"
                ),
                field="medium",
            )
        reader_set = sorted({check_name(r, "reader", field="readers") for r in readers})
        group_set = sorted(
            {check_name(g, "reader group", field="reader_groups") for g in reader_groups}
        )
        if not reader_set and not group_set:
            raise InvalidRequestError(N_("a container needs at least one reader or reader group"))
        budget = self._settings.default_attempt_budget if attempt_budget is None else attempt_budget
        if not 1 <= budget <= ATTEMPT_BUDGET_MAX:
            raise InvalidRequestError(
                N_("attempt_budget must be in 1..%(most)s", most=ATTEMPT_BUDGET_MAX),
                field="attempt_budget",
            )
        check_people(people)
        now = self._ledger.now()
        if not_after is not None and not_after <= now:
            raise InvalidRequestError(N_("not_after must be in the future"), field="not_after")
        cid = self._settings.rng(CONTAINER_ID_BYTES)
        seed = self._settings.rng(keys.SEED_BYTES)
        pk = keys.public_key(seed)
        pending_expires = now + self._settings.pending_ttl
        with self._ledger.tx() as session:
            lock_head(session)  # one registration of a new medium at a time (spec §media)
            known = set(
                session.execute(
                    select(Principal.name).where(Principal.name.in_(reader_set))
                ).scalars()
            )
            missing = sorted(set(reader_set) - known)
            if missing:
                names = nearest(missing[0], repository.principal_names(session))
                # spec §problems: the nearest names go in `suggestions` only, and each
                # client asks "did you mean ...?" once in its reader's language (as for
                # media, service/media.py); the detail is the catalogue's.
                raise InvalidRequestError(
                    N_("unknown reader principals: %(names)s", names=", ".join(missing)),
                    suggestions=names,
                )
            if medium is not None:
                medium = register_medium(session, medium, now)
            # spec §rotation: sealed under the newest generation, even mid-rotation.
            generation = self._ledger.sealing_generation(session)
            entry = self._ledger.audit_ok(
                session,
                actor,
                "register",
                ctx,
                {
                    "label": label,
                    "medium": medium,
                    "readers": reader_set,
                    "reader_groups": group_set,
                    "not_after": fmt_time(not_after),
                    "attempt_budget": budget,
                    # Recorded only when declared: the entries of registrations that
                    # declare nothing stay as they were (the export, §backup, carries it).
                    **({} if people is None else {"people": people}),
                },
                container=b64e(cid),
                at=now,
            )
            session.add(
                Container(
                    id=cid,
                    label=label,
                    medium=medium,
                    issuer_id=actor.principal_id,
                    state=State.PENDING.value,
                    public_key=pk,
                    seed_sealed=self._keyring.seal(
                        cid, keys.PURPOSE_SEED, seed, self._settings.rng, generation
                    ),
                    key_generation=generation,
                    password_required=password_required,
                    attempt_budget=budget,
                    people=people,
                    unconfirmed=0,
                    created_at=now,
                    pending_expires_at=pending_expires,
                    not_after=not_after,
                    changed_by=actor.name,
                    last_audit_seq=entry.seq,
                )
            )
            session.flush()
            session.add_all(ContainerReader(container_id=cid, name=n) for n in reader_set)
            session.add_all(ContainerReaderGroup(container_id=cid, group=g) for g in group_set)
        return {
            "container_id": b64e(cid),
            "public_key": b64e(pk),
            "suite": SUITE,
            "server_id": self._settings.server_id,
            "state": State.PENDING.value,
            "pending_expires_at": fmt_time(pending_expires),
        }

    def commit(
        self,
        actor: Actor,
        cid_text: str,
        *,
        header_digest: bytes,
        receipt_key: bytes,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Activate a pending container (its issuing writer only; spec §commit).

        Returns:
            ``{container_id, state: "active"}``.
        """
        cid = decode_container_id(cid_text)
        self._ledger.require(
            actor, WRITER, N_("committing containers"), action="commit", container=cid_text, ctx=ctx
        )
        if len(header_digest) != 32 or len(receipt_key) != 32:
            raise InvalidRequestError(N_("header_digest and receipt_key must be 32 bytes"))
        refusal: KeyServerError | None = None
        with self._ledger.tx() as session:
            now = self._ledger.now()
            head = lock_head(session)
            c = repository.container_for_update(session, cid)
            if c is None:
                raise NotFoundError(N_("no such container"))
            # spec §row-integrity: nothing is decided on an edited or restored row.
            if (problem := rowmacs.session_problem(session, c)) is not None:
                refusal = problem
            elif c.issuer_id != actor.principal_id:
                refusal = NotAllowedError(N_("only the issuing writer may commit a container"))
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            elif c.state != State.PENDING.value:
                refusal = ConflictError(
                    N_("the container is %(state)s, not pending", state=c.state)
                )
            else:
                refusal = refusal_for_state(
                    repository.view_of(session, c), self._settings.contact, now
                )
            if refusal is not None:
                # Every refusal is audited (spec §audit), in the transaction that refuses.
                self._ledger.audit_refusal(session, actor, "commit", cid_text, ctx, refusal, now)
            else:
                c.state = State.ACTIVE.value
                c.activated_at = now
                c.pending_expires_at = None
                c.header_digest = header_digest
                # One row, one generation (spec §rotation): the seed's.
                c.receipt_key_sealed = self._keyring.seal(
                    cid, keys.PURPOSE_RECEIPT, receipt_key, self._settings.rng, c.key_generation
                )
                c.changed_by = actor.name
                self._ledger.audit_ok(
                    session,
                    actor,
                    "commit",
                    ctx,
                    {"header_digest": header_digest.hex()},
                    container=cid_text,
                    at=now,
                    head=head,  # locked above
                    stamp=c,  # c written (and MACed) once, with last_audit_seq
                )
        # Raised after the transaction so that the refusal's audit record is committed.
        if refusal is not None:
            raise refusal
        return {"container_id": cid_text, "state": State.ACTIVE.value}

    def receipt(
        self,
        actor: Actor,
        cid_text: str,
        *,
        challenge: bytes,
        mac: bytes,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Confirm an open: verify the receipt MAC, refund its evaluation (spec §receipt).

        The receipt refunds exactly the evaluation whose challenge it answers (if that
        evaluation still counts: issued after the last budget reset), nothing issued
        before or after it; it is refused while the container is suspended, so an
        attacker cannot lower the count behind a suspension either. The one exception:
        the receipt of the very evaluation that used up the budget also lifts the
        suspension that evaluation caused (budget.receipt_lifts), if nothing else
        happened to the container since.

        Returns:
            ``{confirmed: true}``.
        """
        cid = decode_container_id(cid_text)
        self._ledger.require(
            actor, EVALUATORS, N_("receipts"), action="receipt", container=cid_text, ctx=ctx
        )
        if len(challenge) != CHALLENGE_BYTES or len(mac) != 32:
            raise InvalidRequestError(N_("challenge and mac must be 32 bytes"))
        refusal: KeyServerError | None = None
        with self._ledger.tx() as session:
            now = self._ledger.now()
            head = lock_head(session)
            c = repository.container_for_update(session, cid)
            row = repository.challenge_by_hash(session, cid, keys.challenge_hash(challenge))
            if c is None:
                raise NotFoundError(N_("no such container"))
            if (problem := rowmacs.session_problem(session, c)) is not None:
                refusal = problem  # spec §row-integrity
            elif row is None or row.container_id != cid or row.principal_id != actor.principal_id:
                refusal = InvalidReceiptError(N_("unknown challenge"))
            elif row.consumed_at is not None:
                refusal = ConflictError(N_("the challenge was already used"))
            elif now >= row.expires_at:
                refusal = InvalidReceiptError(N_("the challenge has expired"))
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            elif c.state == State.SUSPENDED.value and not budget.receipt_lifts(
                self._suspension_facts(session, c, row), cid_text, actor.name
            ):
                # spec §receipt: refused while suspended, the challenge kept, except the
                # receipt of the very evaluation that used up the budget (below).
                refusal = suspended_refusal(
                    repository.view_of(session, c),
                    self._settings.contact,
                    N_("the container is suspended; receipts are not accepted"),
                )
            elif c.receipt_key_sealed is None:
                refusal = PendingError(N_("the container is not committed yet"))
            else:
                row.consumed_at = now  # single use, whether or not the MAC verifies
                key = self._keyring.open(
                    cid, keys.PURPOSE_RECEIPT, c.receipt_key_sealed, c.key_generation
                )
                expected = keys.receipt_mac(key, cid, challenge)
                if not hmac.compare_digest(expected, mac):
                    refusal = InvalidReceiptError(N_("the receipt MAC does not verify"))
                else:
                    row.confirmed_at = now
                    # An evaluation issued before the last budget reset no longer counts:
                    # refunding it would lower the count below what the restore left.
                    reset = c.budget_reset_at
                    refunded = (reset is None or row.issued_at >= reset) and c.unconfirmed > 0
                    if refunded:
                        c.unconfirmed -= 1
                    c.last_confirmed_at = now
                    entry = self._ledger.audit_ok(
                        session,
                        actor,
                        "receipt",
                        ctx,
                        {
                            "evaluated_at": fmt_time(row.issued_at),
                            "refunded": refunded,
                            "unconfirmed": c.unconfirmed,
                        },
                        container=cid_text,
                        at=now,
                        head=head,  # locked above: not a second SELECT ... FOR UPDATE
                        stamp=c,  # last_audit_seq set before the flush: c written once
                    )
                    if c.state == State.SUSPENDED.value:
                        # Reached only when budget.receipt_lifts said so (above).
                        entry = self._lift_budget_suspension(session, c, actor, ctx, now)
                        c.last_audit_seq = entry.seq
            if refusal is not None:
                # Commit the consumption and the refusal record together.
                self._ledger.audit_refusal(session, actor, "receipt", cid_text, ctx, refusal, now)
        if refusal is not None:
            raise refusal
        self._ledger.metrics.inc("rwc_receipts_total")
        return {"confirmed": True}

    def _suspension_facts(
        self, session: Session, c: Container, row: Challenge
    ) -> budget.SuspensionFacts:
        """What budget.receipt_lifts weighs, read under the row lock (spec §receipt)."""
        cid_text = b64e(c.id)
        last = int(c.last_audit_seq or 0)
        entry = session.execute(
            select(
                AuditEntry.seq,
                AuditEntry.container,
                AuditEntry.action,
                AuditEntry.at,
                AuditEntry.details,
                AuditEntry.actor,
            ).where(AuditEntry.seq == last, AuditEntry.outcome == "ok")
        ).one_or_none()
        suspension = None
        if entry is not None:
            details = json.loads(entry.details)
            suspension = LaterEntry(entry.seq, entry.container, entry.action, entry.at, details)
        together = session.execute(
            select(func.count()).where(
                Challenge.container_id == c.id, Challenge.issued_at == row.issued_at
            )
        ).scalar_one()

        def run(stmt: Any, params: Mapping[str, Any]) -> Iterable[Sequence[Any]]:
            return session.execute(stmt, params).all()

        return budget.SuspensionFacts(
            cause=c.suspend_cause,
            suspension=suspension,
            suspension_actor=None if entry is None else entry.actor,
            suspended_at=c.suspended_at,
            issued_at=row.issued_at,
            issued_together=int(together),
            later=tuple(rowmacs.later_entries(run, cid_text, last)),
            medium=c.medium,
            issuer=session.execute(rowmacs.ISSUER_STMT, {"pid": c.issuer_id}).scalar_one_or_none(),
        )

    def _lift_budget_suspension(
        self, session: Session, c: Container, actor: Actor, ctx: RequestContext, now: datetime
    ) -> AuditEntry:
        """Lift the budget suspension the receipt's own evaluation caused (spec §receipt).

        Audited as a restore of the ``budget`` cause by the system, in the shape of an
        official's restore of one container (so the container's history and the medium
        report list it with the others), naming the principal whose receipt it was.
        Unlike an official's restore it resets nothing: the unconfirmed evaluations before
        this one stay counted (``unconfirmed`` is the budget minus one).
        """
        cid_text = b64e(c.id)
        c.state = State.ACTIVE.value
        c.suspended_at = None
        c.suspend_cause = None
        c.reason = c.public_reason = budget.LIFT_REASON
        c.changed_by = SYSTEM_ACTOR
        entry = self._ledger.audit(
            session,
            NewEntry(
                actor=SYSTEM_ACTOR,
                action=Op.RESTORE.value,
                outcome="ok",
                container=cid_text,
                remote=ctx.remote,
                details={
                    "scope": "container",
                    "target": cid_text,
                    "reason": budget.LIFT_REASON,
                    "public_reason": budget.LIFT_REASON,
                    "cause": Cause.BUDGET.value,
                    "affected": 1,
                    **ids_details([c.id], self._settings.audit_inline_ids_max),
                    "principal": actor.name,
                    "unconfirmed": c.unconfirmed,
                },
            ),
            at=now,
        )
        self._ledger.metrics.inc("rwc_state_changes_total", 1, op=Op.RESTORE.value)
        # Counted beside rwc_budget_suspensions_total, which counted this suspension: the
        # alert on suspensions (possible guessing) subtracts the ones a receipt lifted.
        self._ledger.metrics.inc("rwc_budget_lifts_total")
        return entry
