"""The key server's service layer: every operation, its checks and its audit entry.

The HTTP routers and the local CLI both call :class:`KeyService`; results are JSON-able
dicts identical to the HTTP response bodies (spec §protocol). Each mutating operation is
ONE transaction that takes the audit chain-head lock first (keyserver/audit.py), applies
the change, appends its audit entry, and commits before anything is returned: no key
evaluation leaves the server before its audit record is durable, and a suspension or
destruction that has returned is visible to every instance sharing the database.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from keyserver import keys, repository
from keyserver.audit import (
    NewEntry,
    append,
    canonical_json,
    entry_document,
    entry_hash,
    format_time,
    lock_head,
)
from keyserver.audit import verify as verify_chain
from keyserver.db.engine import READ_ONLY_OPTION, make_engine
from keyserver.db.models import (
    AuditEntry,
    Challenge,
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Principal,
    PrincipalGroup,
    PrincipalRole,
    Token,
)
from keyserver.encoding import b64d, b64e
from keyserver.errors import (
    ConflictError,
    ForbiddenError,
    InvalidReceiptError,
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
    PendingError,
    UnauthenticatedError,
)
from keyserver.lifecycle import (
    BUDGET_REASON,
    ROLES,
    Actor,
    Op,
    State,
    destroyed_refusal,
    evaluation_refusal,
    refusal_for_state,
    require_role,
)
from keyserver.metrics import Metrics
from keyserver.settings import ConfigError, Settings

log = logging.getLogger("keyserver")

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
ACTION_RE = re.compile(r"[a-z][a-z.]{0,31}")
TOKEN_ID_RE = re.compile(r"tk_[A-Za-z0-9_-]{16}")
TEXT_MAX = 200
REASON_MAX = 2000
CONTAINER_ID_BYTES = 16
CHALLENGE_BYTES = 32
SUITE = "ristretto255-SHA512"
SYSTEM_ACTOR = "system"

OFFICIAL = frozenset({"official"})
OVERSIGHT = frozenset({"official", "auditor"})
ADMIN = frozenset({"admin"})
WRITER = frozenset({"writer"})
EVALUATORS = frozenset({"writer", "reader"})


def check_name(value: str, what: str) -> str:
    """Validate a principal or group name."""
    if not NAME_RE.fullmatch(value):
        raise InvalidRequestError(f"{what} must match {NAME_RE.pattern}")
    return value


def check_text(value: str, what: str, max_len: int = TEXT_MAX) -> str:
    """Validate free text: 1..max_len characters, no control characters."""
    # Control characters (NUL breaks PostgreSQL text) and lone surrogates (not encodable
    # as UTF-8) are refused here, before they reach the database or the audit log.
    if not 1 <= len(value) <= max_len or any(
        ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value
    ):
        raise InvalidRequestError(f"{what} must be 1..{max_len} printable characters")
    return value


def parse_time(value: str, what: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{what} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise InvalidRequestError(f"{what} needs a UTC offset (e.g. Z)")
    return parsed


def decode_container_id(text: str) -> bytes:
    """Decode a container id from its URL form (22 base64url characters)."""
    return b64d(text, CONTAINER_ID_BYTES, "container id")


def _t(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from (recorded in audit entries)."""

    remote: str | None = None


LOCAL = RequestContext(remote="local")


class KeyService:
    """All key server operations over one database.

    Args:
        settings: Configuration (includes the injectable clock and rng).
        engine: An existing engine; by default one is created from the settings.
        metrics: Counters to update (a fresh set by default).
    """

    def __init__(
        self, settings: Settings, engine: Engine | None = None, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine if engine is not None else make_engine(settings)
        self.keyring = keys.KeyRing.from_master(settings.load_master_key())
        self.metrics = metrics if metrics is not None else Metrics()
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads never take SQLite's write lock (PostgreSQL ignores the option).
        self._sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    @property
    def now(self) -> Callable[[], datetime]:
        """The injected clock."""
        return self.settings.clock

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._write_sessions() as session, session.begin():
            yield session

    def _audit(self, session: Session, new: NewEntry, at: datetime | None = None) -> AuditEntry:
        return append(session, self.keyring.audit_key, at or self.now(), new)

    def _refuse(
        self,
        actor: Actor,
        action: str,
        container: str | None,
        ctx: RequestContext,
        error: KeyServerError,
    ) -> KeyServerError:
        """Record a refusal in its own committed transaction; return the error to raise."""
        self.metrics.inc("rwc_refusals_total", action=action, reason=error.slug)
        with self._tx() as session:
            self._audit(
                session,
                NewEntry(
                    actor=actor.name,
                    action=action,
                    outcome="refused",
                    container=container,
                    remote=ctx.remote,
                    details={"reason": error.slug, "detail": error.detail},
                ),
            )
        return error

    # ------------------------------------------------------------------ principals

    def authenticate(self, token: str) -> Actor:
        """Resolve a bearer token to its principal.

        Raises:
            UnauthenticatedError: Malformed, unknown, expired or revoked token.
        """
        if not token.startswith(keys.TOKEN_PREFIX) or len(token) != 47:
            raise UnauthenticatedError("the bearer token is malformed")
        digest = keys.token_hash(token)
        with self._sessions() as session:
            found = repository.token_with_principal(session, digest)
            # Lookup by hash, then a constant-time compare (defence in depth: the index
            # lookup's timing depends only on a hash of the token, never on the token).
            if found is None or not hmac.compare_digest(found[0].token_hash, digest):
                raise UnauthenticatedError("unknown bearer token")
            row, principal = found
            now = self.now()
            if row.revoked_at is not None:
                raise UnauthenticatedError("the bearer token was revoked")
            if row.expires_at is not None and now >= row.expires_at:
                raise UnauthenticatedError("the bearer token has expired")
            roles, groups = repository.roles_and_groups(session, principal.id)
            return Actor(
                name=principal.name,
                roles=roles,
                groups=groups,
                principal_id=principal.id,
                organisation=principal.organisation,
            )

    def local_actor(self, name: str) -> Actor:
        """The actor for local (data-dir) operation, audited under ``name``.

        If a principal called ``name`` exists its id is attached (so e.g. its own
        containers are recognised); role checks are skipped either way (see
        :class:`~keyserver.lifecycle.Actor`).
        """
        check_name(name, "actor name")
        with self._sessions() as session:
            principal = repository.principal_by_name(session, name)
            pid = principal.id if principal is not None else None
        return Actor(name=name, roles=ROLES, principal_id=pid, local=True)

    def whoami(self, actor: Actor) -> dict[str, Any]:
        """Return the actor's name, roles, organisation and groups."""
        return {
            "name": actor.name,
            "roles": sorted(actor.roles),
            "organisation": actor.organisation,
            "groups": sorted(actor.groups),
        }

    def _new_token(
        self, session: Session, principal_id: int, expires_at: datetime | None
    ) -> tuple[str, str]:
        token = keys.new_token(self.settings.rng)
        token_id = "tk_" + b64e(self.settings.rng(12))
        session.add(
            Token(
                id=token_id,
                principal_id=principal_id,
                token_hash=keys.token_hash(token),
                created_at=self.now(),
                expires_at=expires_at,
            )
        )
        return token, token_id

    def add_principal(
        self,
        actor: Actor,
        name: str,
        roles: list[str],
        organisation: str | None = None,
        groups: list[str] | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Create a principal with a first token (shown once).

        Returns:
            ``{name, token, token_id}``.
        """
        require_role(actor, ADMIN, "adding principals")
        check_name(name, "name")
        if not roles or any(r not in ROLES for r in roles):
            raise InvalidRequestError(f"roles must be a non-empty subset of {sorted(ROLES)}")
        group_set = sorted({check_name(g, "group") for g in groups or []})
        if organisation is not None:
            check_text(organisation, "organisation")
        with self._tx() as session:
            if repository.principal_by_name(session, name) is not None:
                raise ConflictError(f"a principal named {name!r} exists")
            principal = Principal(name=name, organisation=organisation, created_at=self.now())
            session.add(principal)
            session.flush()
            session.add_all(PrincipalRole(principal_id=principal.id, role=r) for r in set(roles))
            session.add_all(PrincipalGroup(principal_id=principal.id, group=g) for g in group_set)
            token, token_id = self._new_token(session, principal.id, None)
            self._audit(
                session,
                NewEntry(
                    actor=actor.name,
                    action="principal.add",
                    outcome="ok",
                    remote=ctx.remote,
                    details={
                        "name": name,
                        "roles": sorted(set(roles)),
                        "groups": group_set,
                        "organisation": organisation,
                        "token_id": token_id,
                    },
                ),
            )
        return {"name": name, "token": token, "token_id": token_id}

    def list_principals(self, actor: Actor) -> dict[str, Any]:
        """List principals with roles and groups (admin)."""
        require_role(actor, ADMIN, "listing principals")
        with self._sessions() as session:
            out = []
            for p in session.execute(select(Principal).order_by(Principal.name)).scalars():
                roles, groups = repository.roles_and_groups(session, p.id)
                out.append(
                    {
                        "name": p.name,
                        "roles": sorted(roles),
                        "organisation": p.organisation,
                        "groups": sorted(groups),
                        "created_at": _t(p.created_at),
                    }
                )
        return {"principals": out}

    def issue_token(
        self,
        actor: Actor,
        name: str,
        expires_at: datetime | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Issue another token for principal ``name`` (admin); shown once."""
        require_role(actor, ADMIN, "issuing tokens")
        check_name(name, "name")
        with self._tx() as session:
            principal = repository.principal_by_name(session, name)
            if principal is None:
                raise NotFoundError(f"no principal named {name!r}")
            token, token_id = self._new_token(session, principal.id, expires_at)
            self._audit(
                session,
                NewEntry(
                    actor=actor.name,
                    action="token.issue",
                    outcome="ok",
                    remote=ctx.remote,
                    details={"name": name, "token_id": token_id, "expires_at": _t(expires_at)},
                ),
            )
        return {"name": name, "token": token, "token_id": token_id, "expires_at": _t(expires_at)}

    def list_tokens(self, actor: Actor) -> dict[str, Any]:
        """List tokens (ids and metadata only; never hashes) (admin)."""
        require_role(actor, ADMIN, "listing tokens")
        with self._sessions() as session:
            rows = session.execute(
                select(Token, Principal.name)
                .join(Principal, Principal.id == Token.principal_id)
                .order_by(Token.created_at, Token.id)
            ).all()
        return {
            "tokens": [
                {
                    "token_id": t.id,
                    "name": name,
                    "created_at": _t(t.created_at),
                    "expires_at": _t(t.expires_at),
                    "revoked_at": _t(t.revoked_at),
                }
                for t, name in rows
            ]
        }

    def revoke_token(
        self, actor: Actor, token_id: str, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Revoke a token (admin); effective for the next request on every instance."""
        require_role(actor, ADMIN, "revoking tokens")
        if not TOKEN_ID_RE.fullmatch(token_id):
            raise NotFoundError("no such token")
        with self._tx() as session:
            token = session.get(Token, token_id)
            if token is None:
                raise NotFoundError("no such token")
            already = token.revoked_at is not None
            if not already:
                token.revoked_at = self.now()
            self._audit(
                session,
                NewEntry(
                    actor=actor.name,
                    action="token.revoke",
                    outcome="ok",
                    remote=ctx.remote,
                    details={"token_id": token_id, "already_revoked": already},
                ),
            )
            return {"token_id": token_id, "revoked_at": _t(token.revoked_at)}

    # ------------------------------------------------------------------ containers

    def register(
        self,
        actor: Actor,
        *,
        label: str,
        medium: str,
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
                        "not_after": _t(not_after),
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
            "pending_expires_at": _t(pending_expires),
        }

    def evaluate(
        self,
        actor: Actor,
        cid_text: str,
        blinded_element: bytes,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Evaluate a blinded element with the container's key (spec §protocol-evaluate).

        ONE transaction: lock, check state/policy/expiry/budget, evaluate, issue a
        single-use challenge, count, audit, COMMIT, and only then return.

        Returns:
            ``{evaluated_element, proof, challenge, challenge_expires_at}`` (challenge is
            None for the writer's own sealing evaluation: there is no receipt key yet).
        """
        cid = decode_container_id(cid_text)
        try:
            blinded = keys.parse_blinded(blinded_element)
        except ValueError as exc:
            # spec §protocol-evaluate: the identity and non-canonical encodings are refused.
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
        refusal: KeyServerError | None = None
        result: dict[str, Any] = {}
        with self._tx() as session:
            now = self.now()
            lock_head(session)  # lock order: chain head, then container row
            c = repository.container_for_update(session, cid)
            if c is None:
                refusal = NotFoundError("no such container")
            else:
                mode, refusal = evaluation_refusal(
                    repository.view_of(session, c), actor, self.settings.contact, now
                )
                if refusal is None:
                    result = self._release(
                        session, c, actor, mode=mode, blinded=blinded, now=now, ctx=ctx
                    )
        if refusal is not None:
            raise self._refuse(actor, "evaluate", cid_text, ctx, refusal)
        self.metrics.inc("rwc_evaluations_total", mode=result.pop("_mode"))
        return result

    def _release(
        self,
        session: Session,
        c: Container,
        actor: Actor,
        *,
        mode: str,
        blinded: Any,
        now: datetime,
        ctx: RequestContext,
    ) -> dict[str, Any]:
        """The releasing half of :meth:`evaluate` (inside its transaction)."""
        assert c.seed_sealed is not None and actor.principal_id is not None
        seed = self.keyring.open(c.id, keys.PURPOSE_SEED, c.seed_sealed)
        element, proof = keys.evaluate(seed, blinded)
        challenge: bytes | None = None
        expires: datetime | None = None
        details: dict[str, Any] = {"mode": mode}
        if mode == "read":
            # Single-use challenge; only its hash is stored, so a database reader learns
            # nothing that lets them answer it (and the MAC needs the receipt key anyway).
            challenge = self.settings.rng(CHALLENGE_BYTES)
            expires = now + self.settings.challenge_ttl
            session.add(
                Challenge(
                    challenge_hash=keys.challenge_hash(challenge),
                    container_id=c.id,
                    principal_id=actor.principal_id,
                    issued_at=now,
                    expires_at=expires,
                )
            )
            c.unconfirmed += 1
            details["unconfirmed"] = c.unconfirmed
        entry = self._audit(
            session,
            NewEntry(
                actor=actor.name,
                action="evaluate",
                outcome="ok",
                container=b64e(c.id),
                remote=ctx.remote,
                details=details,
            ),
            at=now,
        )
        if mode == "read" and c.unconfirmed >= c.attempt_budget:
            # Too many unconfirmed evaluations in a row: an online password-guessing
            # attack looks exactly like this. Suspend until an official restores.
            c.state = State.SUSPENDED.value
            c.suspended_at = now
            c.reason = BUDGET_REASON
            c.public_reason = BUDGET_REASON
            c.changed_by = SYSTEM_ACTOR
            entry = self._audit(
                session,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="suspend",
                    outcome="ok",
                    container=b64e(c.id),
                    remote=ctx.remote,
                    details={"reason": BUDGET_REASON, "trigger": actor.name},
                ),
                at=now,
            )
            self.metrics.inc("rwc_budget_suspensions_total")
        c.last_audit_seq = entry.seq
        return {
            "evaluated_element": b64e(element),
            "proof": b64e(proof),
            "challenge": None if challenge is None else b64e(challenge),
            "challenge_expires_at": _t(expires),
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
        """Activate a pending container (its issuing writer only).

        Returns:
            ``{container_id, state: "active"}``.
        """
        cid = decode_container_id(cid_text)
        require_role(actor, WRITER, "committing containers")
        if len(header_digest) != 32 or len(receipt_key) != 32:
            raise InvalidRequestError("header_digest and receipt_key must be 32 bytes")
        with self._tx() as session:
            now = self.now()
            lock_head(session)
            c = repository.container_for_update(session, cid)
            if c is None:
                raise NotFoundError("no such container")
            if c.issuer_id != actor.principal_id:
                raise NotAllowedError("only the issuing writer may commit a container")
            if c.state != State.PENDING.value:
                if c.state == State.DESTROYED.value:
                    raise destroyed_refusal(repository.view_of(session, c), self.settings.contact)
                raise ConflictError(f"the container is {c.state}, not pending")
            refusal = refusal_for_state(repository.view_of(session, c), self.settings.contact, now)
            if refusal is not None:
                raise refusal
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
        """Confirm a successful open: verify the receipt MAC, reset the counter.

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
            "created_at": _t(c.created_at),
            "pending_expires_at": _t(c.pending_expires_at),
            "activated_at": _t(c.activated_at),
            "not_after": _t(c.not_after),
            "suspended_at": _t(c.suspended_at),
            "destroyed_at": _t(c.destroyed_at),
            "destroy_after": _t(c.destroy_after),
            "loss_reported_at": _t(c.loss_reported_at),
            "last_confirmed_at": _t(c.last_confirmed_at),
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
            if not actor.has_any(OVERSIGHT) and c.issuer_id != actor.principal_id:
                raise NotAllowedError("only officials, auditors and the issuer see this")
            return self._status_doc(session, c)

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

    # ------------------------------------------------------------------ revocation

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
        require_role(actor, OFFICIAL, f"{op.value} containers")
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        if scope not in {"container", "medium", "issuer"}:
            raise InvalidRequestError("scope must be container, medium or issuer")
        with self._tx() as session:
            now = self.now()
            lock_head(session)
            key: bytes | str | int
            if scope == "container":
                key = decode_container_id(target)
                c = session.get(Container, key)
                if c is None:
                    raise NotFoundError("no such container")
                if c.state == State.DESTROYED.value and op is not Op.DESTROY:
                    # Irreversible: restoring or suspending a destroyed container is refused.
                    raise destroyed_refusal(repository.view_of(session, c), self.settings.contact)
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
        shown = ids[: self.settings.audit_inline_ids_max]
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
        self._audit(
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
                    **_ids_details(ids, self.settings.audit_inline_ids_max),
                },
            ),
            at=now,
        )
        self.metrics.inc("rwc_state_changes_total", len(ids), op=op.value)
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
        require_role(actor, OFFICIAL, "loss reports")
        check_text(medium, "medium")
        check_text(reason, "reason", REASON_MAX)
        if public_reason is not None:
            check_text(public_reason, "public_reason", REASON_MAX)
        wait = self.settings.loss_waiting_period if waiting_period is None else waiting_period
        if wait < timedelta(0) or wait > timedelta(days=self.settings.max_waiting_period_days):
            raise InvalidRequestError("waiting period out of range")
        with self._tx() as session:
            now = self.now()
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
                return {**self._bulk_result(ids), "destroy_after": _t(now)}
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
        return {**self._bulk_result(ids), "affected": affected, "destroy_after": _t(destroy_after)}

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
        with self._tx() as session:
            at = now or self.now()
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

    def medium_report(
        self, actor: Actor, medium: str, since: datetime | None = None
    ) -> dict[str, Any]:
        """What happened to a medium's containers (officials, auditors).

        For each container: state, the last confirmed open before the loss report, and
        every attempt (evaluation or receipt, successful or refused) since the loss
        report (or since ``since``; everything when neither is set).
        """
        require_role(actor, OVERSIGHT, "medium reports")
        check_text(medium, "medium")
        with self._sessions() as session:
            rows = list(
                session.execute(
                    select(Container).where(Container.medium == medium).order_by(Container.id)
                ).scalars()
            )
            out = []
            for c in rows:
                cid = b64e(c.id)
                cutoff = since or c.loss_reported_at
                last_ok = None
                if c.loss_reported_at is not None:
                    last_ok = session.execute(
                        select(AuditEntry)
                        .where(
                            AuditEntry.container == cid,
                            AuditEntry.action == "receipt",
                            AuditEntry.outcome == "ok",
                            AuditEntry.at < c.loss_reported_at,
                        )
                        .order_by(AuditEntry.seq.desc())
                        .limit(1)
                    ).scalar_one_or_none()
                stmt = select(AuditEntry).where(
                    AuditEntry.container == cid,
                    AuditEntry.action.in_(["evaluate", "receipt"]),
                )
                if cutoff is not None:
                    stmt = stmt.where(AuditEntry.at >= cutoff)
                attempts = session.execute(stmt.order_by(AuditEntry.seq)).scalars().all()
                issuer = session.get(Principal, c.issuer_id)
                out.append(
                    {
                        "container_id": cid,
                        "label": c.label,
                        "issuer": issuer.name if issuer else None,
                        "state": c.state,
                        "loss_reported_at": _t(c.loss_reported_at),
                        "destroy_after": _t(c.destroy_after),
                        "destroyed_at": _t(c.destroyed_at),
                        "last_confirmed_open_before_loss": None
                        if last_ok is None
                        else {
                            "at": _t(last_ok.at),
                            "actor": last_ok.actor,
                            "remote": last_ok.remote,
                        },
                        "attempts_since": _t(cutoff),
                        "attempts": [_attempt(a) for a in attempts],
                        "opened_after_loss": any(
                            a.action == "receipt" and a.outcome == "ok" for a in attempts
                        )
                        if c.loss_reported_at is not None
                        else None,
                    }
                )
        return {"medium": medium, "containers": out}

    # ------------------------------------------------------------------ audit

    def audit_list(
        self,
        actor: Actor,
        *,
        container: str | None = None,
        action: str | None = None,
        actor_name: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """List audit entries (auditors, officials).

        Returns:
            ``{entries: [...], next_after_seq: int | null}``.
        """
        require_role(actor, OVERSIGHT, "reading the audit log")
        if not 1 <= limit <= self.settings.max_list_limit or after_seq < 0:
            raise InvalidRequestError("bad limit or after_seq")
        if container is not None:
            decode_container_id(container)
        if action is not None and not ACTION_RE.fullmatch(action):
            raise InvalidRequestError("unknown action")
        if actor_name is not None:
            check_name(actor_name, "actor")
        filters: list[ColumnElement[bool]] = []
        if container is not None:
            filters.append(AuditEntry.container == container)
        if action is not None:
            filters.append(AuditEntry.action == action)
        if actor_name is not None:
            filters.append(AuditEntry.actor == actor_name)
        with self._sessions() as session:
            rows = repository.audit_page(session, filters, after_seq, limit)
            docs = [export_document(e) for e in rows]
        nxt = docs[-1]["seq"] if len(docs) == limit else None
        return {"entries": docs, "next_after_seq": nxt}

    def audit_export(self, actor: Actor) -> Iterator[str]:
        """Yield every audit entry as one JSON line (with prev_hash and hash, hex)."""
        require_role(actor, OVERSIGHT, "exporting the audit log")
        after = 0
        while True:
            with self._sessions() as session:
                rows = repository.audit_page(session, [], after, 1000)
                lines = [canonical_json(export_document(e)) + "\n" for e in rows]
            if not rows:
                return
            yield from lines
            after = rows[-1].seq

    def audit_verify(
        self, actor: Actor, expected_head: tuple[int, bytes] | None = None
    ) -> dict[str, Any]:
        """Verify the keyed audit chain (auditors, officials)."""
        require_role(actor, OVERSIGHT, "verifying the audit log")
        with self._sessions() as session:
            result = verify_chain(session, self.keyring.audit_key, expected_head)
        if not result.ok:
            log.error("audit chain verification failed: %s", result.problem)
        return result.as_dict()

    def counts_by_state(self) -> dict[str, int]:
        """Number of containers per state (for /metrics)."""
        with self._sessions() as session:
            rows = session.execute(
                select(Container.state, func.count()).group_by(Container.state)
            ).all()
        return {str(state): int(n) for state, n in rows}

    def check_master_key(self) -> None:
        """Refuse a master key that did not write this database's audit chain.

        A wrong key would not open any sealed seed (nothing could be released) but would
        append entries the right key cannot verify, breaking the chain. Checking the last
        entry's keyed hash at start-up catches it first.

        Raises:
            ConfigError: The last audit entry does not verify under this master key.
        """
        with self._sessions() as session:
            last = session.execute(
                select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
            ).scalar_one_or_none()
            if last is None:
                return
            expected = entry_hash(self.keyring.audit_key, last.prev_hash, last)
            if not hmac.compare_digest(expected, last.hash):
                raise ConfigError("the master key does not match this database")

    def ping(self) -> None:
        """Run a trivial query (readiness)."""
        with self._sessions() as session:
            session.execute(select(1)).scalar_one()


def export_document(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as exported: its hashed content plus prev_hash and hash (hex)."""
    doc = entry_document(entry)
    doc["prev_hash"] = entry.prev_hash.hex()
    doc["hash"] = entry.hash.hex()
    return doc


def _attempt(a: AuditEntry) -> dict[str, Any]:
    doc = entry_document(a)
    return {
        "seq": a.seq,
        "at": doc["at"],
        "actor": a.actor,
        "action": a.action,
        "remote": a.remote,
        "outcome": a.outcome,
        "reason": doc["details"].get("reason"),
    }


def _ids_details(ids: list[bytes], inline_max: int) -> dict[str, Any]:
    """Audit details naming the affected containers (inline, or count + digest).

    ``ids`` must be sorted: the digest is over the sorted concatenation.
    """
    ordered = ids
    digest = hashlib.sha256(b"".join(ordered)).hexdigest()
    if len(ordered) <= inline_max:
        return {"container_ids": [b64e(i) for i in ordered], "container_ids_sha256": digest}
    return {"container_ids_sha256": digest}
