"""Small storage layer: the queries the service needs, nothing else.

All functions take the caller's :class:`Session`; the service owns transactions.
Set-based state changes live in keyserver/_store/transitions.py and row MACs in
keyserver/_store/rowmacs.py (split by job, issue 9). What stays here is one job, reading:
the service's lookups and the token statement; the release path's reads of a container
row are in keyserver/_store/evaluation.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    bindparam,
    delete,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from keyserver._domain.auth import TokenRow
from keyserver._domain.lifecycle import ContainerView
from keyserver._store.models import (
    AuditEntry,
    Base,
    Challenge,
    Container,
    ContainerReader,
    ContainerReaderGroup,
    Medium,
    Principal,
    PrincipalGroup,
    PrincipalRole,
    Token,
)


def principal_by_name(session: Session, name: str) -> Principal | None:
    """Return the principal called ``name``."""
    return session.execute(select(Principal).where(Principal.name == name)).scalar_one_or_none()


def roles_and_groups(session: Session, principal_id: int) -> tuple[frozenset[str], frozenset[str]]:
    """Return (roles, groups) of a principal (one round trip)."""
    rows = session.execute(
        select(literal("r"), PrincipalRole.role)
        .where(PrincipalRole.principal_id == principal_id)
        .union_all(
            select(literal("g"), PrincipalGroup.group).where(
                PrincipalGroup.principal_id == principal_id
            )
        )
    ).all()
    return (
        frozenset(v for k, v in rows if k == "r"),
        frozenset(v for k, v in rows if k == "g"),
    )


def container_for_update(session: Session, cid: bytes) -> Container | None:
    """Return the container row, locked (FOR UPDATE on PostgreSQL).

    SQLite has no row locks: there the whole transaction holds the write lock taken at
    BEGIN IMMEDIATE, which is stronger.
    """
    return session.execute(
        select(Container).where(Container.id == cid).with_for_update()
    ).scalar_one_or_none()


def readers_of(session: Session, cid: bytes) -> tuple[list[str], list[str]]:
    """Return (reader names, reader groups) of a container, sorted."""
    names = session.execute(
        select(ContainerReader.name).where(ContainerReader.container_id == cid)
    ).scalars()
    groups = session.execute(
        select(ContainerReaderGroup.group).where(ContainerReaderGroup.container_id == cid)
    ).scalars()
    return sorted(names), sorted(groups)


def view_of(session: Session, c: Container) -> ContainerView:
    """Build the lifecycle view of a container row."""
    names, groups = readers_of(session, c.id)
    return ContainerView.of_columns(
        partial(getattr, c), readers=frozenset(names), reader_groups=frozenset(groups)
    )


def consume_expired_challenges(
    session: Session, now: datetime, keep_since: datetime | None = None
) -> int:
    """Delete challenges past their expiry that left the attempt window.

    An expired challenge can no longer confirm anything, but an unconfirmed one still
    counts against its principal and medium until it is older than ``keep_since``
    (now - ``attempt_window``, spec §receipt).
    """
    cond = Challenge.expires_at < now
    if keep_since is not None:
        cond = cond & (Challenge.issued_at < keep_since)
    result = session.execute(delete(Challenge).where(cond))
    return int(getattr(result, "rowcount", 0) or 0)


# --- Media (spec §media) ---


def medium_by_key(session: Session, key: str) -> Medium | None:
    """The medium whose matching key (canonical id, case-folded) is ``key``."""
    return session.get(Medium, key)


def medium_names(session: Session) -> list[str]:
    """Every medium's canonical name (for "did you mean ...?")."""
    return list(session.execute(select(Medium.name)).scalars())


def principal_names(session: Session) -> list[str]:
    """Every principal's name (for "did you mean ...?")."""
    return list(session.execute(select(Principal.name)).scalars())


def container_ids_from(
    session: Session, prefix: bytes, *, issuer_id: int | None, limit: int
) -> list[bytes]:
    """Container ids starting with ``prefix`` (for "did you mean ...?"): one PK range.

    ``issuer_id``: only that writer's containers (what a writer may see).
    """
    stmt = select(Container.id).where(Container.id >= prefix)
    end = int.from_bytes(prefix, "big") + 1
    if end < 256 ** len(prefix):
        stmt = stmt.where(Container.id < end.to_bytes(len(prefix), "big"))
    if issuer_id is not None:
        stmt = stmt.where(Container.issuer_id == issuer_id)
    return list(session.execute(stmt.order_by(Container.id).limit(limit)).scalars())


def token_ids(session: Session) -> list[str]:
    """Every token id (for "did you mean ...?"; admins list them all anyway)."""
    return list(session.execute(select(Token.id)).scalars())


def media_page(
    session: Session, after: str | None, limit: int
) -> list[tuple[Medium, dict[str, int]]]:
    """Media ordered by key after a cursor, each with its container count per state."""
    stmt = select(Medium)
    if after is not None:
        stmt = stmt.where(Medium.key > after)
    rows = list(session.execute(stmt.order_by(Medium.key).limit(limit)).scalars())
    counts: dict[str, dict[str, int]] = {m.name: {} for m in rows}
    if rows:
        for name, state, n in session.execute(
            select(Container.medium, Container.state, func.count())
            .where(Container.medium.in_(list(counts)))
            .group_by(Container.medium, Container.state)
        ).all():
            counts[str(name)][str(state)] = int(n)
    return [(m, counts[m.name]) for m in rows]


def counts_by_state(session: Session) -> dict[str, int]:
    """Number of containers per state (states with none are absent)."""
    rows = session.execute(select(Container.state, func.count()).group_by(Container.state)).all()
    return {str(state): int(n) for state, n in rows}


def medium_states(session: Session, name: str) -> dict[str, int]:
    """Container count per state of the medium called ``name``."""
    rows = session.execute(
        select(Container.state, func.count())
        .where(Container.medium == name)
        .group_by(Container.state)
    ).all()
    return {str(state): int(n) for state, n in rows}


def unconfirmed_in_window(
    session: Session, *, principal_id: int | None, medium: str | None, since: datetime
) -> int:
    """Unconfirmed evaluations in the window by a principal, or on a medium (spec §receipt)."""
    stmt = (
        select(func.count())
        .select_from(Challenge)
        .where(Challenge.issued_at > since, Challenge.confirmed_at.is_(None))
    )
    if principal_id is not None:
        stmt = stmt.where(Challenge.principal_id == principal_id)
    if medium is not None:
        stmt = stmt.where(Challenge.medium == medium)
    return int(session.execute(stmt).scalar_one())


def challenge_by_hash(session: Session, cid: bytes, digest: bytes) -> Challenge | None:
    """Return container ``cid``'s challenge with this hash (the table's key, models.py).

    A challenge issued for another container is not found, so its receipt is refused
    as ``invalid-receipt`` (spec §problems: a challenge that belongs to another container).
    """
    return session.get(Challenge, (cid, digest))


def search_containers(
    session: Session,
    filters: Sequence[ColumnElement[bool]],
    after: bytes | None,
    limit: int,
) -> list[Container]:
    """Return containers matching all ``filters``, ordered by id, after a cursor."""
    stmt = select(Container).where(*filters)
    if after is not None:
        stmt = stmt.where(Container.id > after)
    return list(session.execute(stmt.order_by(Container.id).limit(limit)).scalars())


def audit_page(
    session: Session,
    filters: Sequence[ColumnElement[bool]],
    after_seq: int,
    limit: int,
) -> list[AuditEntry]:
    """Return audit entries matching ``filters`` after ``after_seq``, in order."""
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq, *filters)
    return list(session.execute(stmt.order_by(AuditEntry.seq).limit(limit)).scalars())


# --- Tokens: one statement for a token with its principal, roles and groups. ---

_TABLES = Base.metadata.tables
_TOKENS = _TABLES[Token.__tablename__]
_PRINCIPALS = _TABLES[Principal.__tablename__]
_ROLES = _TABLES[PrincipalRole.__tablename__]
_GROUPS = _TABLES[PrincipalGroup.__tablename__]


def token_statement(
    match: ColumnElement[bool], kind: Callable[[str], Any] = literal
) -> CompoundSelect[Any]:
    """Token, principal, roles (``r`` rows) and groups (``g`` rows) of the tokens ``match``.

    ``kind``: how the row kind is written (bound; the release path renders constants).
    """
    base = (
        _TOKENS.c.token_hash,
        _TOKENS.c.revoked_at,
        _TOKENS.c.expires_at,
        _PRINCIPALS.c.id,
        _PRINCIPALS.c.name,
        _PRINCIPALS.c.organisation,
    )
    joined = _TOKENS.join(_PRINCIPALS, _PRINCIPALS.c.id == _TOKENS.c.principal_id)
    return union_all(
        select(*base, kind("r").label("kind"), _ROLES.c.role.label("value"))
        .select_from(joined.outerjoin(_ROLES, _ROLES.c.principal_id == _PRINCIPALS.c.id))
        .where(match),
        select(*base, kind("g").label("kind"), _GROUPS.c.group_name.label("value"))
        .select_from(joined.join(_GROUPS, _GROUPS.c.principal_id == _PRINCIPALS.c.id))
        .where(match),
    )


TOKEN_STMT = token_statement(_TOKENS.c.token_hash == bindparam("digest"))


def token_lookup(conn: Connection, digest: bytes) -> TokenRow | None:
    """Token, principal, roles and groups by the token's SHA-256: ONE round trip."""
    rows = conn.execute(TOKEN_STMT, {"digest": digest}).all()
    if not rows:
        return None
    first = rows[0]
    return TokenRow(
        token_hash=first[0],
        revoked_at=first[1],
        expires_at=first[2],
        principal_id=first[3],
        name=first[4],
        organisation=first[5],
        roles=frozenset(r[7] for r in rows if r[6] == "r" and r[7] is not None),
        groups=frozenset(r[7] for r in rows if r[6] == "g"),
    )
