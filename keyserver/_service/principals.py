"""Principals and tokens: authentication, creation, listing, revocation.

Tokens are ``rwc_`` + base64url(32 random bytes), shown once, stored as SHA-256 only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyserver._domain import auth, keys
from keyserver._domain.context import ADMIN, LOCAL, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import ConflictError, InvalidRequestError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.validation import TOKEN_ID_RE, check_name, check_text, fmt_time, recordable
from keyserver._service.media import missing_token, resolve_principal
from keyserver._store import repository
from keyserver._store.ledger import Ledger
from keyserver._store.models import Principal, PrincipalGroup, PrincipalRole, Token


class PrincipalOps:
    """Principal and token operations."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    def authenticate(self, token: str) -> Actor:
        """Resolve a bearer token to its principal.

        Raises:
            UnauthenticatedError: Malformed, unknown, expired or revoked token.
        """
        digest = auth.token_digest(token)
        # Core, one round trip (token, principal, roles, groups): this runs per request.
        with self._ledger.single_read_engine.connect() as conn:
            row = repository.token_lookup(conn, digest)
            conn.rollback()
        return auth.actor_for(row, digest, self._ledger.now())

    def local_actor(self, name: str) -> Actor:
        """The actor for local (data-dir) operation, audited under ``name``.

        If a principal called ``name`` exists its id is attached (so e.g. its own
        containers are recognised); role checks are skipped either way (see
        :class:`~keyserver._domain.lifecycle.Actor`).
        """
        check_name(name, "actor name")
        with self._ledger.reads() as session:
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
        token = keys.new_token(self._settings.rng)
        token_id = "tk_" + b64e(self._settings.rng(12))
        session.add(
            Token(
                id=token_id,
                principal_id=principal_id,
                token_hash=keys.token_hash(token),
                created_at=self._ledger.now(),
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
        group_set = self.check_add(actor, name, roles, organisation, groups, ctx=ctx)
        with self._ledger.tx() as session:
            return self.add_in(session, actor, name, roles, organisation, group_set, ctx=ctx)

    def check_add(
        self,
        actor: Actor,
        name: str,
        roles: list[str],
        organisation: str | None = None,
        groups: list[str] | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> list[str]:
        """The role gate and argument checks of :meth:`add_principal`; the sorted groups."""
        self._ledger.require(
            actor,
            ADMIN,
            N_("adding principals"),
            action="principal.add",
            target=_named(name),
            ctx=ctx,
        )
        check_name(name, "name")
        if not roles or any(r not in ROLES for r in roles):
            raise InvalidRequestError(
                N_("roles must be a non-empty subset of %(roles)s", roles=sorted(ROLES))
            )
        group_set = sorted({check_name(g, "group") for g in groups or []})
        if organisation is not None:
            check_text(organisation, "organisation")
        return group_set

    def add_in(  # noqa: PLR0917 - the arguments of add_principal
        self,
        session: Session,
        actor: Actor,
        name: str,
        roles: list[str],
        organisation: str | None,
        group_set: list[str],
        *,
        ctx: RequestContext,
        audit_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`add_principal` inside the caller's transaction (checked arguments)."""
        if repository.principal_by_name(session, name) is not None:
            raise ConflictError(N_("a principal named %(name)s exists", name=repr(name)))
        principal = Principal(name=name, organisation=organisation, created_at=self._ledger.now())
        session.add(principal)
        session.flush()
        session.add_all(PrincipalRole(principal_id=principal.id, role=r) for r in set(roles))
        session.add_all(PrincipalGroup(principal_id=principal.id, group=g) for g in group_set)
        token, token_id = self._new_token(session, principal.id, None)
        self._ledger.audit_ok(
            session,
            actor,
            "principal.add",
            ctx,
            {
                "name": name,
                "roles": sorted(set(roles)),
                "groups": group_set,
                "organisation": organisation,
                "token_id": token_id,
                **(audit_extra or {}),
            },
        )
        return {"name": name, "token": token, "token_id": token_id}

    def list_principals(self, actor: Actor, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """List principals with roles and groups (admin)."""
        self._ledger.require(
            actor, ADMIN, N_("listing principals"), action="principal.list", ctx=ctx
        )
        with self._ledger.reads() as session:
            out = []
            for p in session.execute(select(Principal).order_by(Principal.name)).scalars():
                roles, groups = repository.roles_and_groups(session, p.id)
                out.append(
                    {
                        "name": p.name,
                        "roles": sorted(roles),
                        "organisation": p.organisation,
                        "groups": sorted(groups),
                        "created_at": fmt_time(p.created_at),
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
        self.check_issue(actor, name, ctx=ctx)
        with self._ledger.tx() as session:
            return self.issue_in(session, actor, name, expires_at, ctx=ctx)

    def check_issue(self, actor: Actor, name: str, *, ctx: RequestContext = LOCAL) -> None:
        """The role gate and argument checks of :meth:`issue_token`."""
        self._ledger.require(
            actor, ADMIN, N_("issuing tokens"), action="token.issue", target=_named(name), ctx=ctx
        )
        check_name(name, "name")

    def issue_in(
        self,
        session: Session,
        actor: Actor,
        name: str,
        expires_at: datetime | None,
        *,
        ctx: RequestContext,
        audit_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`issue_token` inside the caller's transaction (checked arguments)."""
        # spec §media: a name that matches nothing is not-found with the nearest names.
        principal = resolve_principal(session, name, "name")
        token, token_id = self._new_token(session, principal.id, expires_at)
        self._ledger.audit_ok(
            session,
            actor,
            "token.issue",
            ctx,
            {
                "name": name,
                "token_id": token_id,
                "expires_at": fmt_time(expires_at),
                **(audit_extra or {}),
            },
        )
        return {
            "name": name,
            "token": token,
            "token_id": token_id,
            "expires_at": fmt_time(expires_at),
        }

    def list_tokens(self, actor: Actor, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """List tokens (ids and metadata only; never hashes) (admin)."""
        self._ledger.require(actor, ADMIN, N_("listing tokens"), action="token.list", ctx=ctx)
        with self._ledger.reads() as session:
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
                    "created_at": fmt_time(t.created_at),
                    "expires_at": fmt_time(t.expires_at),
                    "revoked_at": fmt_time(t.revoked_at),
                }
                for t, name in rows
            ]
        }

    def revoke_token(
        self, actor: Actor, token_id: str, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Revoke a token (admin); effective for the next request on every instance."""
        well_formed = TOKEN_ID_RE.fullmatch(token_id) is not None
        self._ledger.require(
            actor,
            ADMIN,
            N_("revoking tokens"),
            action="token.revoke",
            target={"token_id": token_id} if well_formed else {},
            ctx=ctx,
        )
        with self._ledger.tx() as session:
            token = session.get(Token, token_id) if well_formed else None
            if token is None:
                raise missing_token(session, token_id)
            already = token.revoked_at is not None
            if not already:
                token.revoked_at = self._ledger.now()
            self._ledger.audit_ok(
                session,
                actor,
                "token.revoke",
                ctx,
                {"token_id": token_id, "already_revoked": already},
            )
            return {"token_id": token_id, "revoked_at": fmt_time(token.revoked_at)}


def _named(name: str) -> dict[str, str]:
    """A refused principal or token operation records the principal named, when valid."""
    return recordable("name", lambda v: check_name(v, "name"), name)
