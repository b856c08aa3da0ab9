"""Small storage layer: the queries the service needs, nothing else.

All functions take the caller's :class:`Session`; the service owns transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, literal, select, update
from sqlalchemy.orm import Session

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
from keyserver.lifecycle import TRANSITIONS, ContainerView, Op, State


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


def token_with_principal(session: Session, digest: bytes) -> tuple[Token, Principal] | None:
    """Return the token with this SHA-256 and its principal (indexed unique lookup)."""
    row = session.execute(
        select(Token, Principal)
        .join(Principal, Principal.id == Token.principal_id)
        .where(Token.token_hash == digest)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


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
    return ContainerView(
        state=State(c.state),
        issuer_id=c.issuer_id,
        pending_expires_at=c.pending_expires_at,
        not_after=c.not_after,
        destroyed_at=c.destroyed_at,
        public_reason=c.public_reason,
        readers=frozenset(names),
        reader_groups=frozenset(groups),
    )


def scope_filter(scope: str, target: bytes | str | int) -> ColumnElement[bool]:
    """WHERE clause selecting the containers of a scope (container, medium or issuer)."""
    if scope == "container":
        return Container.id == target
    if scope == "medium":
        return Container.medium == target
    return Container.issuer_id == target


def apply_transition(
    session: Session,
    op: Op,
    where: ColumnElement[bool],
    values: dict[str, Any],
) -> list[bytes]:
    """Set-based state change of every container matching ``where`` (ONE UPDATE).

    Only containers in a source state of ``op`` (lifecycle.TRANSITIONS) change; the ids of
    the changed containers are returned.
    """
    sources, target = TRANSITIONS[op]
    stmt = (
        update(Container)
        .where(and_(where, Container.state.in_([s.value for s in sources])))
        .values(state=target.value, **values)
        .returning(Container.id)
        .execution_options(synchronize_session=False)
    )
    return list(session.execute(stmt).scalars())


def consume_expired_challenges(session: Session, now: datetime) -> int:
    """Delete challenges past their expiry (they can no longer confirm anything)."""
    result = session.execute(delete(Challenge).where(Challenge.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def challenge_by_hash(session: Session, digest: bytes) -> Challenge | None:
    """Return the challenge with this hash."""
    return session.get(Challenge, digest)


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
