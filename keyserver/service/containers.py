"""Container operations: register, evaluate, commit, receipt, status, search.

spec §evaluate: an evaluation is released only after its audit entry commits.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session

from keyserver.domain import auth, keys
from keyserver.domain.encoding import b64e
from keyserver.domain.errors import (
    ConflictError,
    ForbiddenError,
    HeaderMismatchError,
    InvalidReceiptError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
    PendingError,
    UnauthenticatedError,
)
from keyserver.domain.lifecycle import (
    BUDGET_REASON,
    Actor,
    State,
    destroyed_refusal,
    evaluation_refusal,
    refusal_for_state,
)
from keyserver.domain.metrics import Metrics
from keyserver.domain.settings import Settings
from keyserver.domain.validation import (
    CHALLENGE_BYTES,
    CONTAINER_ID_BYTES,
    SUITE,
    check_name,
    check_text,
    decode_container_id,
    fmt_time,
)
from keyserver.release.group_commit import GroupCommit, Take
from keyserver.release.hotpath import Batch, HotPath
from keyserver.service.base import (
    EVALUATORS,
    LOCAL,
    OVERSIGHT,
    SYSTEM_ACTOR,
    WRITER,
    RequestContext,
    ServiceBase,
)
from keyserver.service.unauthenticated import UNAUTHENTICATED_ACTOR, valid_container_id
from keyserver.store import repository
from keyserver.store.audit import Head, NewEntry, append_row, lock_head
from keyserver.store.models import (
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Principal,
)


@dataclass(frozen=True)
class _EvalJob:
    """One queued evaluation request (see :meth:`ContainerOps.evaluate`).

    Either ``actor`` is set (the caller authenticated it), or the batch authenticates
    the request inside its own transaction from ``digest`` (``auth_error`` when the
    header was already unusable). ``input_error`` is answered only after that, so a
    malformed request cannot skip the audited authentication refusal (spec §evaluate).
    """

    cid_text: str
    ctx: RequestContext
    actor: Actor | None = None
    digest: bytes | None = None
    auth_error: UnauthenticatedError | None = None
    cid: bytes = b""
    blinded: Any = None
    input_error: InvalidRequestError | None = None
    header_digest: bytes | None = None


def _parse_inputs(cid_text: str, blinded_element: bytes) -> tuple[bytes, Any]:
    """Decode the container id and the blinded element (spec §evaluate).

    Raises:
        InvalidRequestError: Malformed id, or not a canonical non-identity element.
    """
    cid = decode_container_id(cid_text)
    try:
        return cid, keys.parse_blinded(blinded_element)
    except ValueError as exc:
        # spec §evaluate: the identity and non-canonical encodings are refused.
        raise InvalidRequestError("blinded_element is not a valid ristretto255 element") from exc


def _finish_release(outcome: dict[str, Any] | BaseException) -> dict[str, Any] | BaseException:
    """Evaluate a release whose audit entry has committed (spec §evaluate).

    The release was decided, counted and audited under the container's row lock; the
    evaluation is pure computation on the seed read there, so running it after COMMIT
    changes nothing a client can observe (the answer still leaves only after the
    commit) but keeps ~0.3 ms of CPU per release out of the serialised section.
    """
    if isinstance(outcome, BaseException):
        return outcome
    element, proof = keys.evaluate(outcome.pop("_seed"), outcome.pop("_blinded"))
    return {"evaluated_element": b64e(element), "proof": b64e(proof), **outcome}


def _altered_copy(row: repository.EvaluationRow, job: _EvalJob, mode: str) -> bool:
    """True when a read-mode request names another header than the committed one.

    spec §evaluate: compared in constant time on the prefetched row (no extra query). A
    pending container has no digest yet (seal mode), and a request without a digest is
    not compared (the digest is public; only honest readers gain from sending it).
    """
    if mode != "read" or job.header_digest is None or row.header_digest is None:
        return False
    return not hmac.compare_digest(row.header_digest, job.header_digest)


def _only(job: _EvalJob) -> Take[_EvalJob]:
    """A ``take`` for a batch of one job (the one-by-one retry after a failed batch)."""
    return lambda: (job,)


def _bearer_job(
    authorization: str | None,
    cid_text: str,
    blinded_element: bytes,
    ctx: RequestContext,
    header_digest: bytes | None = None,
) -> _EvalJob:
    """A job that authenticates inside the batch (header checked, token hashed, here)."""
    digest: bytes | None = None
    auth_error: UnauthenticatedError | None = None
    try:
        digest = auth.token_digest(auth.bearer_token(authorization))
    except UnauthenticatedError as exc:
        auth_error = exc
    try:
        cid, blinded = _parse_inputs(cid_text, blinded_element)
    except InvalidRequestError as exc:
        return _EvalJob(cid_text, ctx, digest=digest, auth_error=auth_error, input_error=exc)
    return _EvalJob(
        cid_text,
        ctx,
        digest=digest,
        auth_error=auth_error,
        cid=cid,
        blinded=blinded,
        header_digest=header_digest,
    )


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
        self._require(actor, WRITER, "registering containers", action="register", ctx=ctx)
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
        # The batch runs its statements as pre-compiled DB-API calls (db/hotpath.py).
        self._hot = HotPath(self.engine.dialect)

    def evaluate(
        self,
        actor: Actor,
        cid_text: str,
        blinded_element: bytes,
        *,
        ctx: RequestContext = LOCAL,
        header_digest: bytes | None = None,
    ) -> dict[str, Any]:
        """Evaluate a blinded element with the container's key (spec §evaluate).

        ONE transaction: lock, check state/policy/expiry/budget, issue a single-use
        challenge, count, audit, COMMIT; only then evaluate and return. Concurrent
        requests share that transaction (group commit); each gets its answer only after
        the commit that holds its audit entry.

        Returns:
            ``{evaluated_element, proof, challenge, challenge_expires_at}`` (challenge is
            None for the writer's own sealing evaluation: there is no receipt key yet).
        """
        cid, blinded = _parse_inputs(cid_text, blinded_element)
        job = _EvalJob(
            cid_text, ctx, actor=actor, cid=cid, blinded=blinded, header_digest=header_digest
        )
        return self._submit(job)

    async def evaluate_bearer(
        self,
        authorization: str | None,
        cid_text: str,
        blinded_element: bytes,
        *,
        ctx: RequestContext,
        header_digest: bytes | None = None,
    ) -> dict[str, Any]:
        """Like :meth:`evaluate`, authenticating the Authorization header in the batch.

        The HTTP route's path, awaited on the event loop (no worker thread). The token
        is looked up inside the release transaction (no separate read), and a refused
        token is audited in that same transaction, as ``(unauthenticated)`` or as the
        owner of a revoked or expired token.
        """
        job = _bearer_job(authorization, cid_text, blinded_element, ctx, header_digest)
        try:
            result = await self._evaluations.submit_async(job)
        except KeyServerError as exc:
            self._count_refusal(job, exc)
            raise
        return self._count_release(result)

    def _submit(self, job: _EvalJob) -> dict[str, Any]:
        try:
            result = self._evaluations.submit(job)
        except KeyServerError as exc:
            self._count_refusal(job, exc)
            raise
        return self._count_release(result)

    def _count_refusal(self, job: _EvalJob, exc: KeyServerError) -> None:
        if exc is not job.input_error:  # a malformed request is not a refusal
            self.metrics.inc("rwc_refusals_total", action="evaluate", reason=exc.slug)

    def _count_release(self, result: dict[str, Any]) -> dict[str, Any]:
        self.metrics.inc("rwc_evaluations_total", mode=result.pop("_mode"))
        return result

    def close(self) -> None:
        """Finish queued evaluations, stop the committer thread, dispose of the pool."""
        self._evaluations.close()
        super().close()

    def _evaluate_batch(self, take: Take[_EvalJob]) -> list[dict[str, Any] | BaseException]:
        """Run evaluations in ONE transaction (head locked once); refusals are returned.

        The jobs are taken (``take()``) once the transaction holds the chain head, so
        every request queued while another transaction or process held it joins this one
        (group_commit.py). A refusal is audited in the same transaction and returned as
        the exception to raise. An unexpected error rolls the whole batch back; then each
        job is retried alone, so one broken row cannot fail the others.
        """
        out: list[dict[str, Any] | BaseException] = []
        jobs: Sequence[_EvalJob] = ()
        hot = self._hot
        try:
            with self._core_tx() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                cur = raw.cursor()
                try:
                    batch = hot.batch(cur)
                    head = batch.lock_head()  # lock order: chain head, then container rows
                    jobs = take()
                    now = self.now()
                    batch.prefetch(self._requests(batch, jobs))
                    out.extend(self._evaluate_one(batch, head, job, now) for job in jobs)
                    batch.store_head(head)
                except hot.dbapi_error as exc:
                    # Raised by the driver, not by SQLAlchemy: translate it so the one
                    # database-error handler answers (503, nothing released) and drop
                    # a connection that died under us.
                    gone = self.engine.dialect.is_disconnect(exc, raw, cur)  # type: ignore[arg-type]
                    if gone:
                        conn.invalidate(exc)
                    raise hot.translate(exc, invalidated=gone) from exc
                finally:
                    cur.close()
        except Exception as exc:  # rolled back; reported to its caller(s)
            if not jobs:
                raise  # nothing taken yet: group_commit.py fails the queued jobs with it
            if len(jobs) == 1 or isinstance(exc, (OperationalError, SATimeoutError)):
                # The database is unreachable or busy: retrying job by job would only
                # multiply the wait (503 for all of them, spec §problems: unavailable).
                return [exc] * len(jobs)
        else:
            return [_finish_release(o) for o in out]
        retried: list[dict[str, Any] | BaseException] = []
        for job in jobs:
            retried.extend(self._evaluate_batch(_only(job)))
        return retried

    @staticmethod
    def _requests(
        batch: Batch, jobs: Sequence[_EvalJob]
    ) -> list[tuple[bytes, str, frozenset[str]]]:
        """(container, actor, groups) of each job that will read its container.

        Tokens are looked up here (once per batch and token, Batch.token); nothing is
        decided or audited yet: that happens job by job, in order, in _evaluate_one.
        """
        requests = []
        for job in jobs:
            if job.input_error is not None or job.auth_error is not None:
                continue
            if job.actor is not None:
                requests.append((job.cid, job.actor.name, job.actor.groups))
                continue
            assert job.digest is not None
            row = batch.token(job.digest)
            if row is not None:
                requests.append((job.cid, row.name, row.groups))
        return requests

    def _evaluate_one(
        self, batch: Batch, head: Head, job: _EvalJob, now: datetime
    ) -> dict[str, Any] | KeyServerError:
        """One evaluation inside the batch transaction (spec §evaluate, in this order).

        Authentication (refusal audited), then the request's own form (not audited:
        nothing was attempted), then role (audited), then the container's state and
        policy (audited, keyserver/domain/lifecycle.py), then the release.
        """
        actor = job.actor
        if actor is None:
            authenticated = self._authenticate(batch, job, now)
            if isinstance(authenticated, tuple):
                return self._refused(head, now, job, *authenticated)
            actor = authenticated
        if job.input_error is not None:
            return job.input_error
        refusal: KeyServerError | None
        if not actor.has_any(EVALUATORS) or actor.local:
            refusal = ForbiddenError("evaluation needs the reader or writer role")
            return self._refused(head, now, job, actor.name, refusal)
        row = batch.evaluation_row(job.cid, actor.name, actor.groups)
        if row is None:
            refusal = NotFoundError("no such container")
        else:
            mode, refusal = evaluation_refusal(row.view, actor, self.settings.contact, now)
            if refusal is None and _altered_copy(row, job, mode):
                # spec §evaluate: the header before anything counts. Audited below; no
                # challenge, unconfirmed unchanged, nothing released.
                refusal = HeaderMismatchError(
                    "the container header does not match the one committed: the copy was altered"
                )
            if refusal is None:
                return self._release(batch, head, row, job, actor, mode=mode, now=now)
        return self._refused(head, now, job, actor.name, refusal)

    def _authenticate(
        self, batch: Batch, job: _EvalJob, now: datetime
    ) -> Actor | tuple[str, UnauthenticatedError]:
        """Authenticate a queued request inside the batch transaction (spec §auth).

        Returns:
            The actor, or (the name to audit the refusal under, the refusal): the owner
            of a revoked or expired token (worth knowing whose token leaked), else
            ``(unauthenticated)``.
        """
        if job.auth_error is not None:
            return UNAUTHENTICATED_ACTOR, job.auth_error
        assert job.digest is not None
        row = batch.token(job.digest)
        try:
            return auth.actor_for(row, job.digest, now)
        except UnauthenticatedError as exc:
            owner = row.name if row is not None and auth.matches(row, job.digest) else None
            return owner or UNAUTHENTICATED_ACTOR, exc

    def _refused(
        self, head: Head, now: datetime, job: _EvalJob, actor_name: str, error: KeyServerError
    ) -> KeyServerError:
        """Audit a refused evaluation in the batch transaction; return the error."""
        append_row(
            self.keyring.audit_key,
            head,
            now,
            NewEntry(
                actor=actor_name,
                action="evaluate",
                outcome="refused",
                # Only a well-formed id is recorded (never junk from the URL).
                container=valid_container_id(job.cid_text),
                remote=job.ctx.remote,
                details={"reason": error.slug, "detail": error.detail},
            ),
        )
        return error

    def _release(
        self,
        batch: Batch,
        head: Head,
        row: repository.EvaluationRow,
        job: _EvalJob,
        actor: Actor,
        *,
        mode: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The releasing half of an evaluation (inside the batch transaction)."""
        cid = job.cid
        assert row.seed_sealed is not None and actor.principal_id is not None
        # Decrypted here (a wrong master key fails the transaction, releasing nothing);
        # the VOPRF itself runs after COMMIT, outside the write lock (_finish_release).
        seed = self.keyring.open(cid, keys.PURPOSE_SEED, row.seed_sealed)
        challenge: bytes | None = None
        expires: datetime | None = None
        details: dict[str, Any] = {"mode": mode}
        values: dict[str, Any] = {}
        if mode == "read":
            # Single-use challenge; only its hash is stored, so a database reader learns
            # nothing that lets them answer it (and the MAC needs the receipt key anyway).
            challenge = self.settings.rng(CHALLENGE_BYTES)
            expires = now + self.settings.challenge_ttl
            batch.insert_challenge(
                keys.challenge_hash(challenge), cid, actor.principal_id, now, expires
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
        batch.update_container(cid, values)
        return {
            "_seed": seed,
            "_blinded": job.blinded,
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
        self._require(
            actor, WRITER, "committing containers", action="commit", container=cid_text, ctx=ctx
        )
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
                self._audit_refusal(session, actor, "commit", cid_text, ctx, refusal, now)
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
        self._require(actor, EVALUATORS, "receipts", action="receipt", container=cid_text, ctx=ctx)
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
                self._audit_refusal(session, actor, "receipt", cid_text, ctx, refusal, now)
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

    def status(self, actor: Actor, cid_text: str, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """Return a container's status (officials, auditors, its issuing writer)."""
        cid = decode_container_id(cid_text)
        if not actor.has_any(OVERSIGHT | WRITER):
            # Writers pass the gate (their own containers only, checked below); the
            # problem detail names the roles that see every container.
            self._require(
                actor, OVERSIGHT, "container status", action="status", container=cid_text, ctx=ctx
            )
        with self._sessions() as session:
            c = session.get(Container, cid)
            if c is None:
                raise NotFoundError("no such container")
            if actor.has_any(OVERSIGHT):
                return self._status_doc(session, c)
            doc = self._status_doc(session, c) if c.issuer_id == actor.principal_id else None
        if doc is None:
            # spec §audit: a writer asking about another writer's container is refused
            # and, like every refusal, recorded (after the read snapshot is closed).
            refusal = NotAllowedError("only officials, auditors and the issuer see this")
            raise self._refuse(actor, "status", cid_text, ctx, refusal)
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
        self._require(actor, OVERSIGHT, "searching containers", action="search", ctx=ctx)
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
