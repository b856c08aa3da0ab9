"""The key-release batch: token, role, policy, budget and audit per job, in order.

spec §evaluate: an evaluation is released only after its audit entry commits. Requests
queue in :class:`~keyserver._release.group_commit.GroupCommit`; one committer thread runs
everything queued as ONE transaction (:meth:`Releaser._evaluate_batch`), on statements
pre-compiled by :mod:`keyserver._release.compiled`; the VOPRF itself runs after COMMIT
(:func:`_finish_release`). Read in this order: jobs.py (a queued request), this
module, group_commit.py, hotpath.py (the transaction's reads and writes), compiled.py
(its statements), then the HTTP endpoint (keyserver/_http/release.py).

Why one module of ~620 lines: every step here runs inside the one batch transaction and
shares its error handling (a failed statement fails every job of the batch, never releases
a key without its audit entry); split, a reader would follow one transaction across files.
The host committer's two ends (:meth:`Releaser.commit_for_workers`, a worker's jobs joining
this batch, and :meth:`Releaser._forward_batch`, a worker handing its batch over and
evaluating the answers) are that same batch seen from either side, so they stay beside it.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from keyserver._domain import auth, budget, keys
from keyserver._domain.context import (
    EVALUATORS,
    LOCAL,
    SYSTEM_ACTOR,
    UNAUTHENTICATED_ACTOR,
    RequestContext,
)
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import (
    ForbiddenError,
    HeaderMismatchError,
    KeyServerError,
    NotFoundError,
    UnauthenticatedError,
)
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import BUDGET_REASON, Actor, Cause, State, evaluation_refusal
from keyserver._domain.validation import (
    CHALLENGE_BYTES,
    fmt_time,
    valid_container_id,
)
from keyserver._release import rowcheck
from keyserver._release.compiled import HotPath
from keyserver._release.group_commit import GroupCommit, Take
from keyserver._release.held import HeldConnection
from keyserver._release.hostcommit import CommitterClient
from keyserver._release.hotpath import Batch
from keyserver._release.jobs import EvalJob, bearer_job, parse_inputs
from keyserver._release.lockclock import LockClock
from keyserver._store.audit import Head, NewEntry, append_row
from keyserver._store.engine import driver_errors
from keyserver._store.evaluation import EvaluationRow
from keyserver._store.ledger import Ledger


def _finish_release(outcome: dict[str, Any] | BaseException) -> dict[str, Any] | BaseException:
    """Evaluate a release whose audit entry has committed (spec §evaluate).

    The release was decided, counted and audited under the container's row lock; the
    evaluation is pure computation on the seed read there, so running it after COMMIT
    changes nothing a client can observe (the answer still leaves only after the
    commit) but keeps ~0.3 ms of CPU per release out of the serialised section; the
    challenge and its expiry are encoded here too, for the same reason.
    """
    if isinstance(outcome, BaseException):
        return outcome
    outcome.pop("_sealed", None)
    element, proof = keys.evaluate(outcome.pop("_seed"), outcome.pop("_blinded"))
    challenge = outcome.pop("_challenge")
    return {
        "evaluated_element": b64e(element),
        "proof": b64e(proof),
        "challenge": None if challenge is None else b64e(challenge),
        "challenge_expires_at": fmt_time(outcome.pop("_expires")),
        **outcome,
    }


def _for_worker(outcome: dict[str, Any] | BaseException) -> dict[str, Any] | BaseException:
    """A committed release as the host committer hands it back (hostcommit.py).

    The opened seed and the blinded element stay out of the message: the worker opens
    the sealed seed with its own key ring and evaluates (keyserver/_release/hostcommit.py:
    no key material over the socket).
    """
    if isinstance(outcome, BaseException):
        return outcome
    del outcome["_seed"]
    del outcome["_blinded"]
    return outcome


def _altered_copy(row: EvaluationRow, job: EvalJob, mode: str) -> bool:
    """True when a read-mode request names another header than the committed one.

    spec §evaluate: compared in constant time on the prefetched row (no extra query). A
    pending container has no digest yet (seal mode), and a request without a digest is
    not compared (the digest is public; only honest readers gain from sending it).
    """
    if mode != "read" or job.header_digest is None or row.header_digest is None:
        return False
    return not hmac.compare_digest(row.header_digest, job.header_digest)


def _only(job: EvalJob) -> Take[EvalJob]:
    """A ``take`` for a batch of one job (the one-by-one retry after a failed batch)."""
    return lambda: (job,)


class Releaser:
    """Key releases (spec §evaluate) over a :class:`~keyserver._store.ledger.Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring
        # The batches' connection, kept from one batch to the next while they follow
        # each other (held.py: no checkout, ping or SQLite PRAGMA per batch under load);
        # given back once the committer has been idle (group_commit.py, on_idle).
        self._held = HeldConnection(ledger.engine, ledger.durability)
        # Concurrent evaluations share one transaction and one fsync (group_commit.py).
        self._evaluations: GroupCommit[EvalJob, dict[str, Any]] = GroupCommit(
            self._next_batch, on_idle=self._held.close
        )
        # The batch runs its statements as pre-compiled DB-API calls (hotpath.py).
        self._hot = HotPath(ledger.engine.dialect, async_commit=ledger.durability.early)
        # Where the reads before the chain-head lock run (_evaluate_batch), always on the
        # ONE pooled connection the batch then writes on (one checkout, one liveness ping
        # and one checkin per batch instead of two: issue 15, per-batch CPU, which two
        # workers pay twice as often per release). PostgreSQL: in the batch's own
        # transaction, before it locks anything; its READ COMMITTED isolation gives each
        # statement a snapshot of its own, as autocommit does, so the reads see the same
        # thing. SQLite: before that connection's BEGIN IMMEDIATE (the one writer lock of
        # every process), in autocommit on its DB-API cursor (the engine leaves BEGIN to
        # SQLAlchemy, keyserver/_store/engine.py), each SELECT its own read transaction.
        self._reads_in_tx = ledger.engine.dialect.name == "postgresql"
        # What a committed batch's releases become: evaluated here (one process), or
        # handed back with the seed still sealed (the host committer, hostcommit.py).
        self._finish: Callable[[dict[str, Any] | BaseException], dict[str, Any] | BaseException] = (
            _finish_release
        )
        self._committer: CommitterClient | None = None
        # The host committer's wait for the other workers' batches (hostcommit.py).
        self._gather: Callable[[], None] = lambda: None

    def use_committer(self, client: CommitterClient) -> None:
        """Hand the ordered part of every release to the host committer (hostcommit.py).

        For a worker of ``serve --workers N``: the committer's batch spans every
        worker's requests.

        The worker keeps its own group commit as the queue: one batch in flight to the
        committer at a time, the requests arriving meanwhile forming the next one.
        """
        self._committer = client
        self._evaluations = GroupCommit(self._forward_batch, name="rwc-release-forward")

    def set_gather(self, gather: Callable[[], None]) -> None:
        """Called before each batch takes its jobs (the host committer's gathering)."""
        self._gather = gather

    def _next_batch(self, take: Take[EvalJob]) -> list[dict[str, Any] | BaseException]:
        """The group commit's runner: gather (host committer only), then one batch."""
        self._gather()
        return self._evaluate_batch(take)

    def commit_for_workers(self, jobs: Sequence[EvalJob]) -> list[dict[str, Any] | BaseException]:
        """The host committer's entry: run ``jobs`` (one worker's batch) in the next batch.

        They join whatever the other workers queued; each outcome is returned once its
        batch committed, a release with its seed still sealed (_for_worker).
        """
        self._finish = _for_worker
        return self._evaluations.submit_many(jobs)

    def _forward_batch(self, take: Take[EvalJob]) -> list[dict[str, Any] | BaseException]:
        """A worker's batch: committed by the host committer, evaluated here after it."""
        assert self._committer is not None
        jobs = take()
        outcomes = self._committer.call(jobs)
        return [self._open_and_evaluate(job, o) for job, o in zip(jobs, outcomes, strict=True)]

    def _open_and_evaluate(self, job: EvalJob, outcome: Any) -> dict[str, Any] | BaseException:
        """Evaluate a release the committer committed (its audit entry is durable)."""
        if isinstance(outcome, BaseException):
            if (
                job.input_error is not None
                and type(outcome) is type(job.input_error)
                and outcome.args == job.input_error.args
            ):
                # The job's own form error, back from the committer: the very object, so
                # the caller tells it from a refusal (_count_refusal compares identity).
                return job.input_error
            return outcome
        sealed, generation = outcome.pop("_sealed")
        # A failure here (it cannot differ from the committer's open of the same seed
        # with the same key ring) answers an error: audited, nothing released.
        outcome["_seed"] = self._keyring.open(job.cid, keys.PURPOSE_SEED, sealed, generation)
        outcome["_blinded"] = job.blinded
        return _finish_release(outcome)

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
        cid, blinded = parse_inputs(cid_text, blinded_element)
        job = EvalJob(
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
        is looked up by the batch (before the head lock; again under it if a token was
        revoked since, spec §consistency), and judged, and a refusal audited, in the
        release transaction, as ``(unauthenticated)`` or as the owner of a revoked or
        expired token.
        """
        job = bearer_job(authorization, cid_text, blinded_element, ctx, header_digest)
        try:
            result = await self._evaluations.submit_async(job)
        except KeyServerError as exc:
            self._count_refusal(job, exc)
            raise
        return self._count_release(result)

    def _submit(self, job: EvalJob) -> dict[str, Any]:
        try:
            result = self._evaluations.submit(job)
        except KeyServerError as exc:
            self._count_refusal(job, exc)
            raise
        return self._count_release(result)

    def _count_refusal(self, job: EvalJob, exc: KeyServerError) -> None:
        if exc is not job.input_error:  # a malformed request is not a refusal
            self._ledger.metrics.inc("rwc_refusals_total", action="evaluate", reason=exc.slug)

    def _count_release(self, result: dict[str, Any]) -> dict[str, Any]:
        self._ledger.metrics.inc("rwc_evaluations_total", mode=result.pop("_mode"))
        return result

    def close(self) -> None:
        """Finish queued evaluations and stop the committer thread."""
        self._evaluations.close()
        self._held.close()
        if self._committer is not None:
            self._committer.close()

    def _evaluate_batch(self, take: Take[EvalJob]) -> list[dict[str, Any] | BaseException]:
        """Run evaluations in ONE transaction (head locked once); refusals are returned.

        Before the lock, the queued jobs are taken and what does not depend on the
        chain head is read (:meth:`_preread`: tokens, reader policy; on the connection
        the batch then writes on: on SQLite before its transaction begins, on PostgreSQL
        at the start of it), so the head is
        held only for the ordered part: container rows, attempt windows, decisions,
        appends, COMMIT (issue 15: the head's hold time per release bounds every
        instance's rate together). Once the transaction holds the head, ``take()``
        again adds every request queued meanwhile (group_commit.py). A refusal is
        audited in the same transaction and returned as the exception to raise. An
        unexpected error rolls the whole batch back; then each job is retried alone,
        so one broken row cannot fail the others.
        """
        out: list[dict[str, Any] | BaseException] = []
        jobs: Sequence[EvalJob] = ()
        hot = self._hot
        try:
            jobs = take()
            batch = Batch(hot, None)
            clock = LockClock()
            with contextlib.ExitStack() as tx:
                conn = tx.enter_context(self._held.batch())
                # Early lock release (keyserver/_store/durability.py): the COMMIT below
                # releases the head without waiting for the flush; leaving this context
                # (after COMMIT, before any evaluation: _finish runs after the with) waits
                # for the batch's commit to be durable, holding nothing.
                tx.enter_context(self._ledger.durability.release_commit(conn))
                # Left right after the transaction, i.e. once the head is released.
                tx.callback(clock.released)
                # The clock times the wait where it happens: PostgreSQL at the head's row
                # lock, SQLite at BEGIN IMMEDIATE (the writer lock, Ledger.core_tx).
                if self._reads_in_tx:
                    batch.use(self._enter_tx(tx, conn))
                    seen = self._preread(batch, jobs)
                    clock.waiting()
                else:
                    with self._cursor(conn) as cur:
                        batch.use(cur)
                        seen = self._preread(batch, jobs)
                    clock.waiting()
                    batch.use(self._enter_tx(tx, conn))
                head = batch.lock_head(seen)  # lock order: chain head, then container rows
                clock.locked()
                jobs = take()
                # spec §audit: the batch's one time, read under the head lock. Decisions
                # (expiry, the windows) use the clock as read; the entries record it held
                # at the previous entry's time if the clock stepped back (append_row).
                now = self._ledger.now()
                batch.since = now - self._settings.attempt_window
                batch.prefetch(self._requests(batch, jobs))
                out.extend(self._evaluate_one(batch, head, job, now) for job in jobs)
                if self._reads_in_tx:
                    # PostgreSQL: the writes and COMMIT in one round trip (together.py);
                    # the transaction's own COMMIT below then has nothing left to send.
                    clock.committing()
                    batch.store_head(head, commit=True)
                else:
                    batch.store_head(head)
                    clock.committing()
        except Exception as exc:  # rolled back (or committed, not durable); reported
            if not jobs:
                raise  # nothing taken yet: group_commit.py fails the queued jobs with it
            if len(jobs) == 1 or isinstance(exc, (OperationalError, SATimeoutError)):
                # The database is unreachable or busy: retrying job by job would only
                # multiply the wait (503 for all of them, spec §problems: unavailable).
                # A failed flush (DurabilityError, an OperationalError) lands here too:
                # that batch committed, so it must never be retried.
                return [exc] * len(jobs)
        else:
            clock.record(self._ledger.metrics, len(jobs))
            return [self._finish(o) for o in out]
        retried: list[dict[str, Any] | BaseException] = []
        for job in jobs:
            retried.extend(self._evaluate_batch(_only(job)))
        return retried

    def _preread(self, batch: Batch, jobs: Sequence[EvalJob]) -> int:
        """The reads before the chain-head lock; the head's seq the tokens are current as of.

        Tokens, reader policy and register entries: none of them depends on the head
        (Batch.preread, rowcheck.preread), so reading them first shortens the time the
        head is held; Batch.lock_head looks the tokens up again if one was revoked since.
        """
        seen = batch.read_tokens([j.digest for j in jobs if j.digest is not None])
        requests = self._requests(batch, jobs)
        batch.preread(requests)
        rowcheck.preread(self._keyring, batch, sorted({r[0] for r in requests}))
        return seen

    def _enter_tx(self, stack: contextlib.ExitStack, conn: Connection) -> Any:
        """Begin the batch's writing transaction on ``conn``; return its DB-API cursor.

        The cursor is entered after the transaction, so it is left first: a driver error
        is translated, and a dead connection invalidated, before the rollback.
        """
        stack.enter_context(self._ledger.core_tx(conn))
        return stack.enter_context(self._cursor(conn))

    @contextmanager
    def _cursor(self, conn: Connection) -> Iterator[Any]:
        """The DB-API cursor of ``conn``, its driver errors raised as SQLAlchemy's."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        try:
            # Raised by the driver, not by SQLAlchemy: translated so the one
            # database-error handler answers (503, nothing released), and a connection
            # that died under us dropped (the store's one translation, engine.driver_errors).
            with driver_errors(conn, cur):
                yield cur
        finally:
            # After invalidate() the connection is closed, its cursor with it: a second
            # close must not turn the 503 into a 500 (issue 14).
            with contextlib.suppress(self._hot.dbapi_error):
                cur.close()

    @staticmethod
    def _requests(
        batch: Batch, jobs: Sequence[EvalJob]
    ) -> list[tuple[bytes, str, frozenset[str], int]]:
        """(container, actor, groups, principal id) of each job that will read its container.

        Tokens are looked up here (once per batch and token, Batch.token: before the
        head lock for the jobs taken then, under it for the others); nothing is decided
        or audited yet: that happens job by job, in order, in _evaluate_one.
        """
        requests = []
        for job in jobs:
            if job.input_error is not None or job.auth_error is not None:
                continue
            if job.actor is not None:
                pid = job.actor.principal_id or 0
                requests.append((job.cid, job.actor.name, job.actor.groups, pid))
                continue
            assert job.digest is not None
            row = batch.token(job.digest)
            if row is not None:
                requests.append((job.cid, row.name, row.groups, row.principal_id))
        return requests

    def _evaluate_one(
        self, batch: Batch, head: Head, job: EvalJob, now: datetime
    ) -> dict[str, Any] | KeyServerError:
        """One evaluation inside the batch transaction (spec §evaluate, in this order).

        Authentication (refusal audited), then the request's own form (not audited:
        nothing was attempted), then role (audited), then the container's state and
        policy (audited, keyserver/_domain/lifecycle.py), then the release.
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
            refusal = ForbiddenError(N_("evaluation needs the reader or writer role"))
            return self._refused(head, now, job, actor.name, refusal)
        pid = actor.principal_id or 0
        row = batch.evaluation_row(job.cid, actor.name, actor.groups, pid)
        if row is None:
            refusal = NotFoundError(N_("no such container"))
        elif (refusal := rowcheck.mac_refusal(self._keyring, row)) is not None:
            pass  # spec §row-integrity: nothing in an edited row is trusted
        else:
            mode, refusal = evaluation_refusal(row.view, actor, self._settings.contact, now)
            counts = self._counts(batch, row, pid)
            if refusal is None and _altered_copy(row, job, mode):
                # spec §evaluate: the header before anything counts. Audited below; no
                # challenge, unconfirmed unchanged, nothing released.
                refusal = HeaderMismatchError(
                    N_(
                        "the container header does not match the one committed: "
                        "the copy was altered"
                    )
                )
            if refusal is None and mode == "read":
                # spec §receipt: the window caps refuse before anything is released.
                refusal = budget.refusal(counts, self._settings.contact)
            if refusal is None:
                # spec §row-integrity: a row older than the audit log (a restored backup).
                refusal = rowcheck.stale_refusal(batch, row, job.cid)
            if refusal is None and mode == "read":
                # spec §row-integrity: admitted by the policy as registered, not as edited.
                refusal = rowcheck.policy_refusal(
                    self._keyring, batch, job.cid, actor.name, actor.groups
                )
            if refusal is None:
                return self._release(
                    batch, head, row, job, actor, mode=mode, now=now, counts=counts
                )
        return self._refused(head, now, job, actor.name, refusal)

    def _counts(self, batch: Batch, row: EvaluationRow, pid: int) -> budget.Counts:
        """The attempt counts before this evaluation (spec §receipt)."""
        by_principal, on_medium = batch.window(pid, row.medium)
        return budget.Counts(
            container=row.unconfirmed,
            budget=row.attempt_budget,
            principal=by_principal,
            principal_cap=self._settings.principal_attempt_cap,
            medium=on_medium,
            medium_cap=self._settings.medium_attempt_cap,
        )

    def _authenticate(
        self, batch: Batch, job: EvalJob, now: datetime
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
        self, head: Head, now: datetime, job: EvalJob, actor_name: str, error: KeyServerError
    ) -> KeyServerError:
        """Audit a refused evaluation in the batch transaction; return the error."""
        append_row(
            self._keyring.audit_key,
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
        row: EvaluationRow,
        job: EvalJob,
        actor: Actor,
        *,
        mode: str,
        now: datetime,
        counts: budget.Counts,
    ) -> dict[str, Any]:
        """The releasing half of an evaluation (inside the batch transaction)."""
        cid = job.cid
        assert row.seed_sealed is not None and actor.principal_id is not None
        # Decrypted here (a wrong master key fails the transaction, releasing nothing);
        # the VOPRF itself runs after COMMIT, outside the write lock (_finish_release).
        seed = self._keyring.open(cid, keys.PURPOSE_SEED, row.seed_sealed, row.key_generation)
        challenge: bytes | None = None
        expires: datetime | None = None
        details: dict[str, Any] = {"mode": mode}
        values: dict[str, Any] = {}
        remaining: int | None = None
        limit: str | None = None
        if mode == "read":
            # Single-use challenge; only its hash is stored, so a database reader learns
            # nothing that lets them answer it (and the MAC needs the receipt key anyway).
            challenge = self._settings.rng(CHALLENGE_BYTES)
            expires = now + self._settings.challenge_ttl
            batch.insert_challenge(
                keys.challenge_hash(challenge),
                cid,
                actor.principal_id,
                now,
                expires,
                medium=row.medium,
            )
            values["unconfirmed"] = row.unconfirmed + 1
            details["unconfirmed"] = values["unconfirmed"]
            remaining = budget.remaining(counts)
            details["attempts_remaining"] = remaining
            # spec §receipt: which allowance that is (what running out of it does);
            # told to the reader only, the audit entry is unchanged.
            limit = budget.limit(counts)
        seq = append_row(
            self._keyring.audit_key,
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
        if mode == "read" and budget.exhausts_budget(counts):
            # Too many unconfirmed evaluations: an online password-guessing attack looks
            # exactly like this. Suspend until an official restores (cause: budget, so a
            # bulk restore of a found medium leaves it in place, spec §lifecycle).
            values.update(
                state=State.SUSPENDED.value,
                suspended_at=now,
                reason=BUDGET_REASON,
                public_reason=BUDGET_REASON,
                changed_by=SYSTEM_ACTOR,
                suspend_cause=Cause.BUDGET.value,
            )
            seq = append_row(
                self._keyring.audit_key,
                head,
                now,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="suspend",
                    outcome="ok",
                    container=job.cid_text,
                    remote=job.ctx.remote,
                    details={
                        "reason": BUDGET_REASON,
                        # spec §receipt: the entry says what refused readers are shown (the
                        # row's public reason), so the printed report has it (issue 12).
                        "public_reason": BUDGET_REASON,
                        "cause": Cause.BUDGET.value,
                        "trigger": actor.name,
                        "unconfirmed": values["unconfirmed"],
                    },
                ),
            )
            self._ledger.metrics.inc("rwc_budget_suspensions_total")
        values["last_audit_seq"] = seq
        values.update(rowcheck.mac_values(self._keyring, row, values))
        batch.update_container(cid, values)
        return {
            "_seed": seed,
            # For a worker of the host committer, which opens it itself (_for_worker).
            "_sealed": (row.seed_sealed, row.key_generation),
            "_blinded": job.blinded,
            "_challenge": challenge,  # encoded after COMMIT (_finish_release)
            "_expires": expires,
            "attempts_remaining": remaining,
            "attempts_limit": limit,
            "password_required": row.password_required,
            "_mode": mode,
        }
