"""Container operations of writers and readers: register, commit, receipt, status, search.

Key releases (evaluate) are the release package's (keyserver/release/batch.py).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from keyserver.domain import budget, keys
from keyserver.domain.context import EVALUATORS, LOCAL, OVERSIGHT, WRITER, RequestContext
from keyserver.domain.encoding import b64e
from keyserver.domain.errors import (
    ConflictError,
    InvalidReceiptError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
    PendingError,
    SuspendedError,
)
from keyserver.domain.i18n import N_
from keyserver.domain.lifecycle import (
    Actor,
    State,
    destroyed_refusal,
    evaluation_refusal,
    refusal_for_state,
)
from keyserver.domain.media import canonical_medium, nearest
from keyserver.domain.validation import (
    CHALLENGE_BYTES,
    CONTAINER_ID_BYTES,
    SUITE,
    check_name,
    check_text,
    decode_container_id,
    fmt_time,
)
from keyserver.service.media import (
    missing_container,
    register_medium,
    resolve_medium,
    resolve_principal,
)
from keyserver.store import repository, rowmacs
from keyserver.store.audit import NewEntry, lock_head
from keyserver.store.ledger import Ledger
from keyserver.store.models import (
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Principal,
)


class ContainerOps:
    """Per-container operations of writers and readers (all but evaluate)."""

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
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Register a pending container for the writer ``actor``.

        Returns:
            ``{container_id, public_key, suite, server_id, state, pending_expires_at}``.
        """
        self._ledger.require(
            actor, WRITER, N_("registering containers"), action="register", ctx=ctx
        )
        if actor.principal_id is None:
            raise InvalidRequestError("only a principal can register containers")
        check_text(label, "label")
        if medium is not None:
            # spec §media: one canonical form, fixed at the medium's first registration;
            # what cannot be made unambiguous is refused here, never stored.
            canonical_medium(medium)
        elif self._settings.require_medium:
            raise InvalidRequestError(
                "this key server requires a medium: name the USB stick or disk the "
                "container goes on (its serial number or asset tag)"
            )
        reader_set = sorted({check_name(r, "reader") for r in readers})
        group_set = sorted({check_name(g, "reader group") for g in reader_groups})
        if not reader_set and not group_set:
            raise InvalidRequestError("a container needs at least one reader or reader group")
        budget = self._settings.default_attempt_budget if attempt_budget is None else attempt_budget
        if not 1 <= budget <= 1000:
            raise InvalidRequestError("attempt_budget must be in 1..1000")
        now = self._ledger.now()
        if not_after is not None and not_after <= now:
            raise InvalidRequestError("not_after must be in the future")
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
                hint = f"; did you mean {', '.join(names)}?" if names else ""
                raise InvalidRequestError(
                    f"unknown reader principals: {', '.join(missing)}{hint}", suggestions=names
                )
            if medium is not None:
                medium = register_medium(session, medium, now)
            # spec §rotation: sealed under the newest generation, even mid-rotation.
            generation = self._ledger.sealing_generation(session)
            entry = self._ledger.audit(
                session,
                NewEntry(
                    actor=actor.name,
                    action="register",
                    outcome="ok",
                    container=b64e(cid),
                    remote=ctx.remote,
                    details={
                        "label": label,
                        "medium": medium,
                        "readers": reader_set,
                        "reader_groups": group_set,
                        "not_after": fmt_time(not_after),
                        "attempt_budget": budget,
                    },
                ),
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
            raise InvalidRequestError("header_digest and receipt_key must be 32 bytes")
        refusal: KeyServerError | None = None
        with self._ledger.tx() as session:
            now = self._ledger.now()
            lock_head(session)
            c = repository.container_for_update(session, cid)
            if c is None:
                raise NotFoundError("no such container")
            # spec §row-integrity: nothing is decided on an edited or restored row.
            if (problem := rowmacs.session_problem(session, c)) is not None:
                refusal = problem
            elif c.issuer_id != actor.principal_id:
                refusal = NotAllowedError("only the issuing writer may commit a container")
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            elif c.state != State.PENDING.value:
                refusal = ConflictError(f"the container is {c.state}, not pending")
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
                entry = self._ledger.audit(
                    session,
                    NewEntry(
                        actor=actor.name,
                        action="commit",
                        outcome="ok",
                        container=cid_text,
                        remote=ctx.remote,
                        details={"header_digest": header_digest.hex()},
                    ),
                    at=now,
                )
                c.last_audit_seq = entry.seq
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
        attacker cannot lower the count behind a suspension either.

        Returns:
            ``{confirmed: true}``.
        """
        cid = decode_container_id(cid_text)
        self._ledger.require(
            actor, EVALUATORS, N_("receipts"), action="receipt", container=cid_text, ctx=ctx
        )
        if len(challenge) != CHALLENGE_BYTES or len(mac) != 32:
            raise InvalidRequestError("challenge and mac must be 32 bytes")
        refusal: KeyServerError | None = None
        with self._ledger.tx() as session:
            now = self._ledger.now()
            lock_head(session)
            c = repository.container_for_update(session, cid)
            row = repository.challenge_by_hash(session, keys.challenge_hash(challenge))
            if c is None:
                raise NotFoundError("no such container")
            if (problem := rowmacs.session_problem(session, c)) is not None:
                refusal = problem  # spec §row-integrity
            elif row is None or row.container_id != cid or row.principal_id != actor.principal_id:
                refusal = InvalidReceiptError("unknown challenge")
            elif row.consumed_at is not None:
                refusal = ConflictError("the challenge was already used")
            elif now >= row.expires_at:
                refusal = InvalidReceiptError("the challenge has expired")
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self._settings.contact)
            elif c.state == State.SUSPENDED.value:
                refusal = SuspendedError(
                    "the container is suspended; receipts are not accepted",
                    reason=c.public_reason,
                    contact=self._settings.contact,
                )
            elif c.receipt_key_sealed is None:
                refusal = PendingError("the container is not committed yet")
            else:
                row.consumed_at = now  # single use, whether or not the MAC verifies
                key = self._keyring.open(
                    cid, keys.PURPOSE_RECEIPT, c.receipt_key_sealed, c.key_generation
                )
                expected = keys.receipt_mac(key, cid, challenge)
                if not hmac.compare_digest(expected, mac):
                    refusal = InvalidReceiptError("the receipt MAC does not verify")
                else:
                    row.confirmed_at = now
                    # An evaluation issued before the last budget reset no longer counts:
                    # refunding it would lower the count below what the restore left.
                    reset = c.budget_reset_at
                    refunded = (reset is None or row.issued_at >= reset) and c.unconfirmed > 0
                    if refunded:
                        c.unconfirmed -= 1
                    c.last_confirmed_at = now
                    entry = self._ledger.audit(
                        session,
                        NewEntry(
                            actor=actor.name,
                            action="receipt",
                            outcome="ok",
                            container=cid_text,
                            remote=ctx.remote,
                            details={
                                "evaluated_at": fmt_time(row.issued_at),
                                "refunded": refunded,
                                "unconfirmed": c.unconfirmed,
                            },
                        ),
                        at=now,
                    )
                    c.last_audit_seq = entry.seq
            if refusal is not None:
                # Commit the consumption and the refusal record together.
                self._ledger.audit_refusal(session, actor, "receipt", cid_text, ctx, refusal, now)
        if refusal is not None:
            raise refusal
        self._ledger.metrics.inc("rwc_receipts_total")
        return {"confirmed": True}

    def _status_doc(self, session: Session, c: Container) -> dict[str, Any]:
        names, groups = repository.readers_of(session, c.id)
        issuer = session.get(Principal, c.issuer_id)
        return {
            "container_id": b64e(c.id),
            "label": c.label,
            "medium": c.medium,
            "issuer": issuer.name if issuer is not None else None,
            "state": c.state,
            "created_at": fmt_time(c.created_at),
            "pending_expires_at": fmt_time(c.pending_expires_at),
            "activated_at": fmt_time(c.activated_at),
            "not_after": fmt_time(c.not_after),
            "suspended_at": fmt_time(c.suspended_at),
            "destroyed_at": fmt_time(c.destroyed_at),
            "destroy_after": fmt_time(c.destroy_after),
            "loss_reported_at": fmt_time(c.loss_reported_at),
            "lost_at": fmt_time(c.lost_at),
            "suspend_cause": c.suspend_cause,
            "last_confirmed_at": fmt_time(c.last_confirmed_at),
            "changed_by": c.changed_by,
            "reason": c.reason,
            "public_reason": c.public_reason,
            "unconfirmed": c.unconfirmed,
            "attempt_budget": c.attempt_budget,
            "password_required": c.password_required,
            "readers": names,
            "reader_groups": groups,
            "public_key": b64e(c.public_key),
            "header_digest": None if c.header_digest is None else b64e(c.header_digest),
            "last_audit_seq": c.last_audit_seq,
        }

    def status(self, actor: Actor, cid_text: str, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """Return a container's status (officials, auditors, its issuing writer)."""
        cid = decode_container_id(cid_text)
        if not actor.has_any(OVERSIGHT | WRITER):
            # Writers pass the gate (their own containers only, checked below); the
            # problem detail names the roles that see every container.
            self._ledger.require(
                actor,
                OVERSIGHT,
                N_("container status"),
                action="status",
                container=cid_text,
                ctx=ctx,
            )
        with self._ledger.reads() as session:
            c = session.get(Container, cid)
            if c is None:
                # Suggestions from what the caller may see: all, or a writer's own.
                own = None if actor.has_any(OVERSIGHT) or actor.local else actor.principal_id
                raise missing_container(session, cid_text, issuer_id=own)
            if actor.has_any(OVERSIGHT):
                return self._status_doc(session, c)
            doc = self._status_doc(session, c) if c.issuer_id == actor.principal_id else None
        if doc is None:
            # spec §audit: a writer asking about another writer's container is refused
            # and, like every refusal, recorded (after the read snapshot is closed).
            refusal = NotAllowedError("only officials, auditors and the issuer see this")
            raise self._ledger.refuse(actor, "status", cid_text, ctx, refusal)
        # The issuing writer (often a contractor) sees the public reason only: the
        # internal one may name people or incidents meant for officials and auditors.
        doc["reason"] = doc["public_reason"]
        return doc

    def search(
        self,
        actor: Actor,
        *,
        label: str | None = None,
        medium: str | None = None,
        issuer: str | None = None,
        state: str | None = None,
        limit: int = 100,
        after: str | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Search containers (officials, auditors); cursor pagination by id.

        Returns:
            ``{containers: [status...], next: cursor | null}``.
        """
        self._ledger.require(actor, OVERSIGHT, N_("searching containers"), action="search", ctx=ctx)
        if not 1 <= limit <= self._settings.max_list_limit:
            raise InvalidRequestError(f"limit must be in 1..{self._settings.max_list_limit}")
        if state is not None and state not in {s.value for s in State}:
            raise InvalidRequestError("unknown state")
        after_id = decode_container_id(after) if after else None
        if label is not None:
            check_text(label, "label")
        if medium is not None:
            canonical_medium(medium)
        if issuer is not None:
            check_name(issuer, "issuer")
        with self._ledger.reads() as session:
            filters: list[ColumnElement[bool]] = []
            if label is not None:
                filters.append(Container.label == label)
            if medium is not None:
                # spec §media: a medium or issuer that matches nothing is not-found with
                # the nearest names, never an empty list an official could misread.
                filters.append(Container.medium == resolve_medium(session, medium).name)
            if state is not None:
                filters.append(Container.state == state)
            if issuer is not None:
                filters.append(
                    Container.issuer_id == resolve_principal(session, issuer, "issuer").id
                )
            rows = repository.search_containers(session, filters, after_id, limit)
            docs = [self._status_doc(session, c) for c in rows]
        nxt = docs[-1]["container_id"] if len(docs) == limit else None
        return {"containers": docs, "next": nxt}

    def access(self, actor: Actor, cid_text: str, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """What a reader needs before asking for a password (spec §access).

        Releases nothing and counts nothing. Decided like an evaluation (authorisation
        first, then state: the same refusal evaluate would give, audited as ``access``),
        so it tells an admitted reader only what evaluate would.

        Returns:
            ``{container_id, state, password_required, attempts_remaining}``
            (``attempts_remaining`` is null for the writer's own pending container).
        """
        cid = decode_container_id(cid_text)
        self._ledger.require(
            actor, EVALUATORS, N_("container access"), action="access", container=cid_text, ctx=ctx
        )
        now = self._ledger.now()
        refusal: KeyServerError | None = None
        with self._ledger.reads() as session:
            c = session.get(Container, cid)
            if c is None:
                raise NotFoundError("no such container")
            mode, refusal = evaluation_refusal(
                repository.view_of(session, c), actor, self._settings.contact, now
            )
            since = now - self._settings.attempt_window
            counts = budget.Counts(
                container=c.unconfirmed,
                budget=c.attempt_budget,
                principal=repository.unconfirmed_in_window(
                    session, principal_id=actor.principal_id or 0, medium=None, since=since
                ),
                principal_cap=self._settings.principal_attempt_cap,
                medium=0
                if c.medium is None
                else repository.unconfirmed_in_window(
                    session, principal_id=None, medium=c.medium, since=since
                ),
                medium_cap=self._settings.medium_attempt_cap,
            )
            doc = {
                "container_id": cid_text,
                "state": c.state,
                "password_required": c.password_required,
                "attempts_remaining": None if mode == "seal" else budget.available(counts),
            }
        if refusal is not None:
            raise self._ledger.refuse(actor, "access", cid_text, ctx, refusal)
        return doc
