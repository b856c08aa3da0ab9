"""Container operations: register, evaluate, commit, receipt, status, search.

spec §evaluate: an evaluation is released only after its audit entry commits.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session

from keyserver import keys, repository
from keyserver.audit import Head, NewEntry, append_row, lock_head, lock_head_row, store_head
from keyserver.db.models import (
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Principal,
)
from keyserver.encoding import b64e
from keyserver.errors import (
    ConflictError,
    ForbiddenError,
    InvalidReceiptError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
    PendingError,
)
from keyserver.group_commit import GroupCommit
from keyserver.lifecycle import (
    BUDGET_REASON,
    Actor,
    State,
    destroyed_refusal,
    evaluation_refusal,
    refusal_for_state,
    require_role,
)
from keyserver.metrics import Metrics
from keyserver.service_base import (
    EVALUATORS,
    LOCAL,
    OVERSIGHT,
    SYSTEM_ACTOR,
    WRITER,
    RequestContext,
    ServiceBase,
)
from keyserver.settings import Settings
from keyserver.validation import (
    CHALLENGE_BYTES,
    CONTAINER_ID_BYTES,
    SUITE,
    check_name,
    check_text,
    decode_container_id,
    fmt_time,
)


@dataclass(frozen=True)
class _EvalJob:
    """One queued evaluation request (see :meth:`ContainerOps.evaluate`)."""

    actor: Actor
    cid: bytes
    cid_text: str
    blinded: Any
    ctx: RequestContext


class ContainerOps(ServiceBase):
    """Per-container operations of writers and readers."""

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
        require_role(actor, WRITER, "registering containers")
        if actor.principal_id is None:
            raise InvalidRequestError("only a principal can register containers")
        check_text(label, "label")
        if medium is not None:
            # spec §endpoints: optional; without one, only the container id and the
            # issuer address it (medium-scoped actions and reports never match NULL).
            check_text(medium, "medium")
        reader_set = sorted({check_name(r, "reader") for r in readers})
        group_set = sorted({check_name(g, "reader group") for g in reader_groups})
        if not reader_set and not group_set:
            raise InvalidRequestError("a container needs at least one reader or reader group")
        budget = self.settings.default_attempt_budget if attempt_budget is None else attempt_budget
        if not 1 <= budget <= 1000:
            raise InvalidRequestError("attempt_budget must be in 1..1000")
        now = self.now()
        if not_after is not None and not_after <= now:
            raise InvalidRequestError("not_after must be in the future")
        cid = self.settings.rng(CONTAINER_ID_BYTES)
        seed = self.settings.rng(keys.SEED_BYTES)
        pk = keys.public_key(seed)
        pending_expires = now + self.settings.pending_ttl
        with self._tx() as session:
            known = set(
                session.execute(
                    select(Principal.name).where(Principal.name.in_(reader_set))
                ).scalars()
            )
            missing = sorted(set(reader_set) - known)
            if missing:
                raise InvalidRequestError(f"unknown reader principals: {', '.join(missing)}")
            entry = self._audit(
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
                    seed_sealed=self.keyring.seal(cid, keys.PURPOSE_SEED, seed, self.settings.rng),
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
            "server_id": self.settings.server_id,
            "state": State.PENDING.value,
            "pending_expires_at": fmt_time(pending_expires),
        }

    def __init__(
        self, settings: Settings, engine: Engine | None = None, metrics: Metrics | None = None
    ) -> None:
        super().__init__(settings, engine, metrics)
        # Concurrent evaluations share one transaction and one fsync (group_commit.py).
        self._evaluations: GroupCommit[_EvalJob, dict[str, Any]] = GroupCommit(self._evaluate_batch)

    def evaluate(
        self, actor: Actor, cid_text: str, blinded_element: bytes, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Evaluate a blinded element with the container's key (spec §evaluate).

        ONE transaction: lock, check state/policy/expiry/budget, evaluate, issue a
        single-use challenge, count, audit, COMMIT, and only then return. Concurrent
        requests share that transaction (group commit); each gets its answer only after
        the commit that holds its audit entry.

        Returns:
            ``{evaluated_element, proof, challenge, challenge_expires_at}`` (challenge is
            None for the writer's own sealing evaluation: there is no receipt key yet).
        """
        cid = decode_container_id(cid_text)
        try:
            blinded = keys.parse_blinded(blinded_element)
        except ValueError as exc:
            # spec §evaluate: the identity and non-canonical encodings are refused.
            raise InvalidRequestError(
                "blinded_element is not a valid ristretto255 element"
            ) from exc
        if not actor.has_any(EVALUATORS) or actor.local:
            raise self._refuse(
                actor,
                "evaluate",
                cid_text,
                ctx,
                ForbiddenError("evaluation needs the reader or writer role"),
            )
        try:
            result = self._evaluations.submit(_EvalJob(actor, cid, cid_text, blinded, ctx))
        except KeyServerError as exc:
            self.metrics.inc("rwc_refusals_total", action="evaluate", reason=exc.slug)
            raise
        self.metrics.inc("rwc_evaluations_total", mode=result.pop("_mode"))
        return result

    def _evaluate_batch(self, jobs: Sequence[_EvalJob]) -> list[dict[str, Any] | BaseException]:
        """Run evaluations in ONE transaction (head locked once); refusals are returned.

        A refusal is audited in the same transaction and returned as the exception to
        raise. An unexpected error rolls the whole batch back; then each job is retried
        alone, so one broken row cannot fail the others.
        """
        out: list[dict[str, Any] | BaseException] = []
        try:
            with self._tx() as session:
                conn = session.connection()
                now = self.now()
                head = lock_head_row(conn)  # lock order: chain head, then container rows
                out.extend(self._evaluate_one(conn, head, job, now) for job in jobs)
                store_head(conn, head)
        except Exception as exc:  # noqa: BLE001 - rolled back; reported to its caller(s)
            if len(jobs) == 1 or isinstance(exc, (OperationalError, SATimeoutError)):
                # The database is unreachable or busy: retrying job by job would only
                # multiply the wait (503 for all of them, spec §problems: unavailable).
                return [exc] * len(jobs)
        else:
            return out
        retried: list[dict[str, Any] | BaseException] = []
        for job in jobs:
            retried.extend(self._evaluate_batch([job]))
        return retried

    def _evaluate_one(
        self, conn: Connection, head: Head, job: _EvalJob, now: datetime
    ) -> dict[str, Any] | KeyServerError:
        """One evaluation inside the batch transaction (SQLAlchemy Core: the hot path)."""
        actor = job.actor
        row = repository.evaluation_row(conn, job.cid, actor.name, actor.groups)
        refusal: KeyServerError | None
        if row is None:
            refusal = NotFoundError("no such container")
        else:
            mode, refusal = evaluation_refusal(row.view, actor, self.settings.contact, now)
            if refusal is None:
                return self._release(conn, head, row, job, mode=mode, now=now)
        append_row(
            self.keyring.audit_key,
            head,
            now,
            NewEntry(
                actor=actor.name,
                action="evaluate",
                outcome="refused",
                container=job.cid_text,
                remote=job.ctx.remote,
                details={"reason": refusal.slug, "detail": refusal.detail},
            ),
        )
        return refusal

    def _release(
        self,
        conn: Connection,
        head: Head,
        row: repository.EvaluationRow,
        job: _EvalJob,
        *,
        mode: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The releasing half of an evaluation (inside the batch transaction)."""
        actor, cid = job.actor, job.cid
        assert row.seed_sealed is not None and actor.principal_id is not None
        seed = self.keyring.open(cid, keys.PURPOSE_SEED, row.seed_sealed)
        element, proof = keys.evaluate(seed, job.blinded)
        challenge: bytes | None = None
        expires: datetime | None = None
        details: dict[str, Any] = {"mode": mode}
        values: dict[str, Any] = {}
        if mode == "read":
            # Single-use challenge; only its hash is stored, so a database reader learns
            # nothing that lets them answer it (and the MAC needs the receipt key anyway).
            challenge = self.settings.rng(CHALLENGE_BYTES)
            expires = now + self.settings.challenge_ttl
            repository.insert_challenge(
                conn, keys.challenge_hash(challenge), cid, actor.principal_id, now, expires
            )
            values["unconfirmed"] = row.unconfirmed + 1
            details["unconfirmed"] = values["unconfirmed"]
        seq = append_row(
            self.keyring.audit_key,
            head,
            now,
            NewEntry(
                actor=actor.name,
                action="evaluate",
                outcome="ok",
                container=job.cid_text,
                remote=job.ctx.remote,
                details=details,
            ),
        )
        if mode == "read" and values["unconfirmed"] >= row.attempt_budget:
            # Too many unconfirmed evaluations in a row: an online password-guessing
            # attack looks exactly like this. Suspend until an official restores.
            values.update(
                state=State.SUSPENDED.value,
                suspended_at=now,
                reason=BUDGET_REASON,
                public_reason=BUDGET_REASON,
                changed_by=SYSTEM_ACTOR,
            )
            seq = append_row(
                self.keyring.audit_key,
                head,
                now,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="suspend",
                    outcome="ok",
                    container=job.cid_text,
                    remote=job.ctx.remote,
                    details={"reason": BUDGET_REASON, "trigger": actor.name},
                ),
            )
            self.metrics.inc("rwc_budget_suspensions_total")
        values["last_audit_seq"] = seq
        repository.update_container(conn, cid, values)
        return {
            "evaluated_element": b64e(element),
            "proof": b64e(proof),
            "challenge": None if challenge is None else b64e(challenge),
            "challenge_expires_at": fmt_time(expires),
            "_mode": mode,
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
        require_role(actor, WRITER, "committing containers")
        if len(header_digest) != 32 or len(receipt_key) != 32:
            raise InvalidRequestError("header_digest and receipt_key must be 32 bytes")
        refusal: KeyServerError | None = None
        with self._tx() as session:
            now = self.now()
            lock_head(session)
            c = repository.container_for_update(session, cid)
            if c is None:
                raise NotFoundError("no such container")
            if c.issuer_id != actor.principal_id:
                refusal = NotAllowedError("only the issuing writer may commit a container")
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self.settings.contact)
            elif c.state != State.PENDING.value:
                refusal = ConflictError(f"the container is {c.state}, not pending")
            else:
                refusal = refusal_for_state(
                    repository.view_of(session, c), self.settings.contact, now
                )
            if refusal is not None:
                # Every refusal is audited (spec §audit), in the transaction that refuses.
                self.metrics.inc("rwc_refusals_total", action="commit", reason=refusal.slug)
                self._audit(
                    session,
                    NewEntry(
                        actor=actor.name,
                        action="commit",
                        outcome="refused",
                        container=cid_text,
                        remote=ctx.remote,
                        details={"reason": refusal.slug, "detail": refusal.detail},
                    ),
                    at=now,
                )
            else:
                c.state = State.ACTIVE.value
                c.activated_at = now
                c.pending_expires_at = None
                c.header_digest = header_digest
                c.receipt_key_sealed = self.keyring.seal(
                    cid, keys.PURPOSE_RECEIPT, receipt_key, self.settings.rng
                )
                c.changed_by = actor.name
                entry = self._audit(
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
        """Confirm an open: verify the receipt MAC, reset the counter (spec §receipt).

        Returns:
            ``{confirmed: true}``.
        """
        cid = decode_container_id(cid_text)
        require_role(actor, EVALUATORS, "receipts")
        if len(challenge) != CHALLENGE_BYTES or len(mac) != 32:
            raise InvalidRequestError("challenge and mac must be 32 bytes")
        refusal: KeyServerError | None = None
        with self._tx() as session:
            now = self.now()
            lock_head(session)
            c = repository.container_for_update(session, cid)
            row = repository.challenge_by_hash(session, keys.challenge_hash(challenge))
            if c is None:
                raise NotFoundError("no such container")
            if row is None or row.container_id != cid or row.principal_id != actor.principal_id:
                refusal = InvalidReceiptError("unknown challenge")
            elif row.consumed_at is not None:
                refusal = ConflictError("the challenge was already used")
            elif now >= row.expires_at:
                refusal = InvalidReceiptError("the challenge has expired")
            elif c.state == State.DESTROYED.value:
                refusal = destroyed_refusal(repository.view_of(session, c), self.settings.contact)
            elif c.receipt_key_sealed is None:
                refusal = PendingError("the container is not committed yet")
            else:
                row.consumed_at = now  # single use, whether or not the MAC verifies
                key = self.keyring.open(cid, keys.PURPOSE_RECEIPT, c.receipt_key_sealed)
                expected = keys.receipt_mac(key, cid, challenge)
                if not hmac.compare_digest(expected, mac):
                    refusal = InvalidReceiptError("the receipt MAC does not verify")
                else:
                    c.unconfirmed = 0
                    c.last_confirmed_at = now
                    self._audit(
                        session,
                        NewEntry(
                            actor=actor.name,
                            action="receipt",
                            outcome="ok",
                            container=cid_text,
                            remote=ctx.remote,
                        ),
                        at=now,
                    )
            if refusal is not None:
                # Commit the consumption and the refusal record together.
                self.metrics.inc("rwc_refusals_total", action="receipt", reason=refusal.slug)
                self._audit(
                    session,
                    NewEntry(
                        actor=actor.name,
                        action="receipt",
                        outcome="refused",
                        container=cid_text,
                        remote=ctx.remote,
                        details={"reason": refusal.slug, "detail": refusal.detail},
                    ),
                    at=now,
                )
        if refusal is not None:
            raise refusal
        self.metrics.inc("rwc_receipts_total")
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

    def status(self, actor: Actor, cid_text: str) -> dict[str, Any]:
        """Return a container's status (officials, auditors, its issuing writer)."""
        cid = decode_container_id(cid_text)
        if not actor.has_any(OVERSIGHT | WRITER):
            require_role(actor, OVERSIGHT, "container status")
        with self._sessions() as session:
            c = session.get(Container, cid)
            if c is None:
                raise NotFoundError("no such container")
            if actor.has_any(OVERSIGHT):
                return self._status_doc(session, c)
            if c.issuer_id != actor.principal_id:
                raise NotAllowedError("only officials, auditors and the issuer see this")
            doc = self._status_doc(session, c)
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
    ) -> dict[str, Any]:
        """Search containers (officials, auditors); cursor pagination by id.

        Returns:
            ``{containers: [status...], next: cursor | null}``.
        """
        require_role(actor, OVERSIGHT, "searching containers")
        if not 1 <= limit <= self.settings.max_list_limit:
            raise InvalidRequestError(f"limit must be in 1..{self.settings.max_list_limit}")
        if state is not None and state not in {s.value for s in State}:
            raise InvalidRequestError("unknown state")
        after_id = decode_container_id(after) if after else None
        for value, what in ((label, "label"), (medium, "medium")):
            if value is not None:
                check_text(value, what)
        if issuer is not None:
            check_name(issuer, "issuer")
        with self._sessions() as session:
            filters: list[ColumnElement[bool]] = []
            if label is not None:
                filters.append(Container.label == label)
            if medium is not None:
                filters.append(Container.medium == medium)
            if state is not None:
                filters.append(Container.state == state)
            if issuer is not None:
                p = repository.principal_by_name(session, issuer)
                if p is None:
                    return {"containers": [], "next": None}
                filters.append(Container.issuer_id == p.id)
            rows = repository.search_containers(session, filters, after_id, limit)
            docs = [self._status_doc(session, c) for c in rows]
        nxt = docs[-1]["container_id"] if len(docs) == limit else None
        return {"containers": docs, "next": nxt}
