"""SQLAlchemy 2 typed models. The schema itself is created by the alembic chain.

Times are stored as naive UTC and returned as aware UTC (:class:`UTCDateTime`) so SQLite
and PostgreSQL behave the same and audit hashes recompute identically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware-UTC datetimes stored as naive UTC (microsecond precision on both backends)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to naive UTC; refuse naive input (a bug, not data)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to stored values."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


# Audit sequence numbers and the transparency tree's sizes and indexes: 64-bit on
# PostgreSQL (migrations 0004_seq_bigint, 0007_tlog_bigint); SQLite's INTEGER is 64-bit
# already (and must stay INTEGER to remain the rowid alias).
SeqInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of all key server tables."""


class Principal(Base):
    """A person or system that authenticates with tokens."""

    __tablename__ = "principals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    organisation: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PrincipalRole(Base):
    """One role held by a principal (a principal may hold several)."""

    __tablename__ = "principal_roles"
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class PrincipalGroup(Base):
    """Group membership of a principal (container policies may name groups)."""

    __tablename__ = "principal_groups"
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    group: Mapped[str] = mapped_column("group_name", String(64), primary_key=True)


class Token(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Container(Base):
    """A container's server-side record; key columns become NULL when destroyed."""

    __tablename__ = "containers"
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), index=True)
    # NULL: registered without a medium; no medium-scoped action or report reaches it.
    medium: Mapped[str | None] = mapped_column(String(200))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    seed_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    receipt_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    header_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    password_required: Mapped[bool] = mapped_column(Boolean)
    attempt_budget: Mapped[int] = mapped_column(Integer)
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pending_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    destroy_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    loss_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    public_reason: Mapped[str | None] = mapped_column(Text)
    last_audit_seq: Mapped[int | None] = mapped_column(SeqInt)
    # spec §lifecycle: why the container is suspended (``loss-report``, ``official``,
    # ``budget``), or why a pending one is locked (``loss-report``); NULL otherwise.
    suspend_cause: Mapped[str | None] = mapped_column(String(16))
    # spec §media: when the medium was lost (given in the loss report; the report's window
    # starts here, which may be long before ``loss_reported_at``).
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # spec §receipt: a receipt refunds its evaluation only if the challenge was issued
    # after the last budget reset (a budget restore), else the count it added is gone.
    budget_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # spec §rotation: the master-key generation the sealed columns are under.
    key_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # spec §row-integrity: HMAC-SHA-256 under row_key of the columns listed in
    # keyserver/_domain/rowmac.py; a row that does not verify is refused for every use.
    row_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # spec §endpoints: how many people's personal data it holds, as its writer declared;
    # NULL = not declared. Informational: nothing is decided on it, so no MAC covers it.
    people: Mapped[int | None] = mapped_column(Integer)

    # Few indexes on purpose: a bulk state change rewrites every row of a medium, and
    # each index on a changed column multiplies that work. ``state`` is not indexed;
    # ``key_generation`` changes only in a rotation, which looks rows up by it.
    __table_args__ = (
        Index("ix_containers_medium", "medium"),
        Index("ix_containers_key_generation", "key_generation"),
    )


class KeyGeneration(Base):
    """One master key (file or HSM) and the carried keys sealed under it (spec §rotation).

    keyserver/_domain/keygen.py says what each column holds.
    """

    __tablename__ = "key_generations"
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    carried: Mapped[bytes] = mapped_column(LargeBinary)
    hsm_key_label: Mapped[str | None] = mapped_column(String(200))
    hsm_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    prior_under_this: Mapped[bytes | None] = mapped_column(LargeBinary)
    this_under_prior: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Medium(Base):
    """A medium (USB stick, disk) as first registered: the unit of loss reports.

    spec §media: ``key`` is the canonical id case-folded (keyserver/_domain/media.py); every
    mention of a medium is matched by it, and ``name`` (the canonical form fixed at the
    first registration) is what containers store and people see.
    """

    __tablename__ = "media"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    loss_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # spec §report: the first audit entry at or after ``lost_at``, fixed when the loss is
    # reported. The report's window is decided by it: sequence order is the order things
    # happened, which a clock stepped back cannot change (times are for display).
    lost_seq: Mapped[int | None] = mapped_column(SeqInt)
    # spec §loss: the time of loss the official was told, when the report counts from an
    # earlier ``lost_at`` to include reader key releases just before it (the console's
    # "Not sure" answer); NULL otherwise, and for reports made before 0014_told_at.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ContainerReader(Base):
    """A principal name allowed to open a container."""

    __tablename__ = "container_readers"
    container_id: Mapped[bytes] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class ContainerReaderGroup(Base):
    """A group whose members may open a container."""

    __tablename__ = "container_reader_groups"
    container_id: Mapped[bytes] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    group: Mapped[str] = mapped_column("group_name", String(64), primary_key=True)


class Challenge(Base):
    """A single-use receipt challenge, stored as SHA-256 only."""

    __tablename__ = "challenges"
    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    container_id: Mapped[bytes] = mapped_column(ForeignKey("containers.id", ondelete="CASCADE"))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # spec §receipt: set by a receipt whose MAC verified; an evaluation whose challenge
    # has no ``confirmed_at`` counts against the per-principal and per-medium windows.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The container's medium when the challenge was issued (counted per medium without a
    # join on the release path).
    medium: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # Keyed by container, then hash (migration 0015): a receipt names its container,
        # and the one key serves both lookups (by challenge, and a container's challenges
        # of one instant), where a key on the hash and an index on the container were
        # two b-trees written at a random place by every release (issue 15: ~1 WAL page
        # each per release, bench/profiles/keyserver.md). A challenge is 32 random bytes:
        # unique per container is unique.
        PrimaryKeyConstraint("container_id", "challenge_hash"),
        # confirmed_at second: the window counts read only unconfirmed entries (at most
        # the cap), however many confirmed openings a busy clerk has in the window.
        Index("ix_challenges_principal_window", "principal_id", "confirmed_at", "issued_at"),
        Index("ix_challenges_medium_window", "medium", "confirmed_at", "issued_at"),
    )


class AuditEntry(Base):
    """One entry of the append-only, keyed hash chain (see keyserver/_store/audit.py)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    container: Mapped[str | None] = mapped_column(String(22))
    outcome: Mapped[str] = mapped_column(String(16))
    remote: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (
        Index("ix_audit_container_seq", "container", "seq"),
        Index("ix_audit_actor_seq", "actor", "seq"),
        Index("ix_audit_action_seq", "action", "seq"),
    )


class AuditHead(Base):
    """The single chain-head row; appends lock it so all instances write ONE chain."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(SeqInt)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditVerifiedHead(Base):
    """How far the audit chain was verified (one row, id 1; spec §audit, incremental).

    keyserver/_domain/verified_head.py: ``mac`` (under the audit key) makes a row written
    by anyone but the server fail, so it cannot skip the verification of an edited entry.
    """

    __tablename__ = "audit_verified_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(SeqInt)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    full_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    mac: Mapped[bytes] = mapped_column(LargeBinary(32))


class TlogState(Base):
    """How many audit entries the transparency tree holds (one row; the follower locks it)."""

    __tablename__ = "tlog_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(SeqInt)


class TlogTile(Base):
    """Hashes of the RFC 9162 tree at level ``8 * level``, indexes ``[idx * 256, ...)``.

    keyserver/_domain/transparency/tiles.py: every other complete node is computed from them.
    """

    __tablename__ = "tlog_tiles"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class TlogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint note with the log's signature only)."""

    __tablename__ = "tlog_checkpoints"
    size: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text)


class TlogCosignature(Base):
    """A witness's verified cosignature line on one checkpoint."""

    __tablename__ = "tlog_cosignatures"
    size: Mapped[int] = mapped_column(
        SeqInt, ForeignKey("tlog_checkpoints.size", ondelete="CASCADE"), primary_key=True
    )
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(4), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RestoreState(Base):
    """Present while a restored database awaits its replay (spec §backup; one row, id 1).

    While it exists, no writing transaction runs (keyserver/_store/restore_state.py): not
    even an audit entry, so that ``keyserver restore --replay`` can put the original
    entries recorded after the backup back in their place.
    """

    __tablename__ = "restore_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    backup_head_seq: Mapped[int] = mapped_column(SeqInt)
    source: Mapped[str] = mapped_column(Text)


class ConsoleSession(Base):
    """A signed-in officials' console session (keyserver/_service/console.py).

    Server-side, in the shared database, so every worker and instance sees a sign-in and a
    sign-out at once. Only the SHA-256 of the session id is stored: a copy of the database
    does not let anyone take over a session. The session holds the SHA-256 of the token it
    was opened with (the same lookup key as ``tokens.token_hash``), so every request is
    authenticated by the token rules again: a revoked or expired token ends its sessions.
    """

    __tablename__ = "console_sessions"
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Approval(Base):
    """A request for an irreversible action awaiting a second principal (spec §approvals).

    ``params`` holds the action's own arguments and ``affects`` what it would affect when
    it was asked for (canonical JSON, shown to the approver); ``affected_sha256`` is the
    digest of the container ids listed then, compared again at approval, so an approval
    carries out exactly what the approver was shown or nothing.
    """

    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text)
    affects: Mapped[str] = mapped_column(Text)
    affected_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_seq: Mapped[int] = mapped_column(SeqInt)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decision_seq: Mapped[int | None] = mapped_column(SeqInt)
