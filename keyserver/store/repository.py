"""Small storage layer: the queries the service needs, nothing else.

All functions take the caller's :class:`Session`; the service owns transactions.
Set-based state changes live in keyserver/store/transitions.py and row MACs in
keyserver/store/rowmacs.py (split by job, issue 9). What stays here is one job, reading:
the service's lookups and the release path's pre-built statements, which
keyserver/release/hotpath.py compiles and tests/keyserver/test_hotpath.py compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from keyserver.domain import rowmac
from keyserver.domain.auth import TokenRow
from keyserver.domain.encoding import b64e
from keyserver.domain.lifecycle import ContainerView, State
from keyserver.store.models import (
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
    return ContainerView(
        state=State(c.state),
        issuer_id=c.issuer_id,
        pending_expires_at=c.pending_expires_at,
        not_after=c.not_after,
        destroyed_at=c.destroyed_at,
        public_reason=c.public_reason,
        readers=frozenset(names),
        reader_groups=frozenset(groups),
        suspend_cause=c.suspend_cause,
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


# --- The key-release hot path, in SQLAlchemy Core (no ORM unit of work per request). ---

_TABLES = Base.metadata.tables
_C = _TABLES[Container.__tablename__]
_READERS = _TABLES[ContainerReader.__tablename__]
_READER_GROUPS = _TABLES[ContainerReaderGroup.__tablename__]
_CHALLENGES = _TABLES[Challenge.__tablename__]
_TOKENS = _TABLES[Token.__tablename__]
_PRINCIPALS = _TABLES[Principal.__tablename__]
_ROLES = _TABLES[PrincipalRole.__tablename__]
_GROUPS = _TABLES[PrincipalGroup.__tablename__]


@dataclass(frozen=True)
class EvaluationRow:
    """What an evaluation needs of a locked container row.

    ``view.readers`` / ``view.reader_groups`` hold only the policy entries that match the
    requesting actor (its name; its groups when one of them is listed): enough for
    :func:`keyserver.domain.lifecycle.evaluation_refusal`, without loading the whole policy.
    ``principal_unconfirmed`` and ``medium_unconfirmed`` are the committed window counts
    (spec §receipt) as the statement saw them; the batch adds its own queued attempts.
    """

    view: ContainerView
    seed_sealed: bytes | None
    unconfirmed: int
    attempt_budget: int
    header_digest: bytes | None = None  # set at commit (spec §commit), compared at §evaluate
    password_required: bool = True
    medium: str | None = None
    principal_unconfirmed: int = 0
    medium_unconfirmed: int = 0
    key_generation: int = 1  # spec §rotation: the master-key generation of seed_sealed
    # spec §row-integrity: the MACed values as read (keyserver/domain/rowmac.py FIELDS),
    # the stored MAC, and whether the audit log holds entries after the row's
    # last_audit_seq that may concern it (then keyserver/release/rowcheck.py asks).
    mac_fields: Mapping[str, Any] = field(default_factory=dict)
    row_mac: bytes | None = None
    log_is_newer: bool = False


#: The challenges as attempts (spec §receipt), in the window counts of the release path.
ATTEMPTS = _CHALLENGES.alias("attempts")
_CH = ATTEMPTS


def in_window(since: Any) -> tuple[ColumnElement[bool], ...]:
    """An attempt in the window since ``since``, not confirmed by a receipt (spec §receipt).

    The one definition: the evaluation statement's counts below and the batch's
    (keyserver/release/facts.py).
    """
    return (_CH.c.issued_at > since, _CH.c.confirmed_at.is_(None))


def _window_count(*conds: ColumnElement[bool]) -> Any:
    """Unconfirmed evaluations in the attempt window matching ``conds`` (spec §receipt)."""
    return (
        select(func.count())
        .select_from(_CH)
        .where(*conds, *in_window(bindparam("since")))
        .scalar_subquery()
    )


# The window counts of a row: by the medium of the row, and by the acting principal.
MEDIUM_WINDOW = _window_count(_CH.c.medium == _C.c.medium).label("medium_unconfirmed")
PRINCIPAL_WINDOW = _window_count(_CH.c.principal_id == bindparam("pid")).label(
    "principal_unconfirmed"
)

_LOG = _TABLES[AuditEntry.__tablename__]

# spec §row-integrity: the MACed columns the policy decision does not read anyway.
EXTRA_MAC_COLUMNS = (
    _C.c.id,
    _C.c.receipt_key_sealed,
    _C.c.destroy_after,
    _C.c.budget_reset_at,
    _C.c.last_audit_seq,
    # spec §rotation: selects the row_key (and the seal key) of the row's generation.
    _C.c.key_generation,
)
# Constants rendered in the SQL: the hot path compiles its statements to text, binding
# every parameter per call (an IN list of bound values would be left for "post-compile").
IS_BULK_ACTION = _LOG.c.action.in_([literal_column(f"'{a}'") for a in rowmac.BULK_ACTIONS])
# The newest entry naming a container (an index-only probe of ix_audit_container_seq),
# and the newest bulk change after a row's last_audit_seq (ix_audit_action_seq): when
# neither is after the row, the log has nothing newer to say about it.
OWN_NEWEST = (
    select(func.max(_LOG.c.seq)).where(_LOG.c.container == bindparam("cid_text")).scalar_subquery()
)
BULK_NEWEST = (
    select(func.max(_LOG.c.seq))
    .where(
        IS_BULK_ACTION,
        _LOG.c.seq > _C.c.last_audit_seq,
        _LOG.c.container.is_(None),
    )
    .scalar_subquery()
    .label("bulk_newest")
)

# Built once (statement construction costs more than executing it on SQLite); values
# are bound per call. The window counts ride along as scalar subqueries: no round trip
# of their own on the release path.
EVALUATION_STMT = (
    select(
        _C.c.state,
        _C.c.issuer_id,
        _C.c.pending_expires_at,
        _C.c.not_after,
        _C.c.destroyed_at,
        _C.c.public_reason,
        _C.c.seed_sealed,
        _C.c.unconfirmed,
        _C.c.attempt_budget,
        exists()
        .where(_READERS.c.container_id == _C.c.id, _READERS.c.name == bindparam("actor"))
        .label("by_name"),
        exists()
        .where(
            _READER_GROUPS.c.container_id == _C.c.id,
            _READER_GROUPS.c.group_name.in_(bindparam("groups", expanding=True)),
        )
        .label("by_group"),
        _C.c.header_digest,
        _C.c.suspend_cause,
        _C.c.password_required,
        _C.c.medium,
        MEDIUM_WINDOW,
        PRINCIPAL_WINDOW,
        *EXTRA_MAC_COLUMNS,
        _C.c.row_mac,
        OWN_NEWEST.label("own_newest"),
        BULK_NEWEST,
    )
    .where(_C.c.id == bindparam("cid"))
    .with_for_update(of=_C)
)

# The epoch: window counts asked for without a window count everything.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def evaluation_row(
    conn: Connection,
    cid: bytes,
    actor_name: str,
    actor_groups: frozenset[str],
    *,
    principal_id: int = 0,
    since: datetime = EPOCH,
) -> EvaluationRow | None:
    """Lock a container row (FOR UPDATE) and check the actor against its policy.

    ONE statement: the row, two EXISTS probes of the reader policy, and the window
    counts of the row's medium and of ``principal_id`` since ``since``.
    """
    row = conn.execute(
        EVALUATION_STMT,
        {
            "cid": cid,
            "actor": actor_name,
            "groups": sorted(actor_groups),
            "pid": principal_id,
            "since": since,
            "cid_text": b64e(cid),
        },
    ).one_or_none()
    if row is None:
        return None
    view = ContainerView(
        state=State(row.state),
        issuer_id=row.issuer_id,
        pending_expires_at=row.pending_expires_at,
        not_after=row.not_after,
        destroyed_at=row.destroyed_at,
        public_reason=row.public_reason,
        readers=frozenset({actor_name}) if row.by_name else frozenset(),
        reader_groups=actor_groups if row.by_group else frozenset(),
        suspend_cause=row.suspend_cause,
    )
    return EvaluationRow(
        view,
        row.seed_sealed,
        row.unconfirmed,
        row.attempt_budget,
        row.header_digest,
        password_required=bool(row.password_required),
        medium=row.medium,
        principal_unconfirmed=int(row.principal_unconfirmed),
        medium_unconfirmed=int(row.medium_unconfirmed),
        key_generation=int(row.key_generation),
        **integrity_members(row._mapping),
    )


def integrity_members(values: Mapping[Any, Any]) -> dict[str, Any]:
    """:class:`EvaluationRow`'s row-integrity members from a row's columns by name.

    ``own_newest`` (the newest entry naming the container, absent when not probed) and
    ``bulk_newest`` say whether the log holds anything after the row's ``last_audit_seq``.
    """
    last = values["last_audit_seq"]
    own, bulk = values.get("own_newest"), values.get("bulk_newest")
    newer = bulk is not None or (own is not None and (last is None or own > last))
    stored = values["row_mac"]
    return {
        "mac_fields": {name: values[name] for name in (*rowmac.FIELD_NAMES, rowmac.GENERATION)},
        "row_mac": None if stored is None else bytes(stored),
        "log_is_newer": newer,
    }


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
