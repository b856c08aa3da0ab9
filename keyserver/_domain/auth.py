"""Bearer-token authentication rules, without I/O (spec §auth).

The service looks a token up by its SHA-256 (keyserver/_store/repository.py for ordinary
requests, keyserver/_release/hotpath.py inside the key-release transaction); both then decide
here, so every route authenticates by the same rules and messages. The messages are the
catalogue's (spec §problems): a reader or official who asks in Japanese is told in Japanese
why the token was refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from keyserver._domain import keys
from keyserver._domain.errors import UnauthenticatedError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor


@dataclass(frozen=True)
class TokenRow:
    """A token with its principal, roles and groups (keyserver._store.repository.token_lookup)."""

    token_hash: bytes
    revoked_at: datetime | None
    expires_at: datetime | None
    principal_id: int
    name: str
    organisation: str | None
    roles: frozenset[str]
    groups: frozenset[str]


TOKEN_LENGTH = 47  # "rwc_" + 43 base64url characters (spec §auth)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header.

    Raises:
        UnauthenticatedError: No header, or another scheme.
    """
    if authorization is None:
        raise UnauthenticatedError(N_("missing Authorization: Bearer token"))
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthenticatedError(N_("the Authorization header must be 'Bearer <token>'"))
    return token.strip()


def token_digest(token: str) -> bytes:
    """SHA-256 of a well-formed token (the lookup key).

    Raises:
        UnauthenticatedError: The token is not ``rwc_`` + 43 base64url characters.
    """
    if not token.startswith(keys.TOKEN_PREFIX) or len(token) != TOKEN_LENGTH:
        raise UnauthenticatedError(N_("the bearer token is malformed"))
    return keys.token_hash(token)


def matches(row: TokenRow | None, digest: bytes) -> bool:
    """True when ``row`` is the token with SHA-256 ``digest``.

    The row was found by an index lookup on the hash; comparing again in constant time
    is defence in depth: the lookup's timing depends only on a hash of the token.
    """
    return row is not None and hmac.compare_digest(row.token_hash, digest)


def actor_for(row: TokenRow | None, digest: bytes, now: datetime) -> Actor:
    """The principal a looked-up token authenticates.

    Raises:
        UnauthenticatedError: Unknown, revoked or expired token.
    """
    if row is None or not matches(row, digest):
        raise UnauthenticatedError(N_("unknown bearer token"))
    if row.revoked_at is not None:
        raise UnauthenticatedError(N_("the bearer token was revoked"))
    if row.expires_at is not None and now >= row.expires_at:
        raise UnauthenticatedError(N_("the bearer token has expired"))
    return Actor(
        name=row.name,
        roles=row.roles,
        groups=row.groups,
        principal_id=row.principal_id,
        organisation=row.organisation,
    )
