"""Append-only audit log as a KEYED hash chain (spec §audit): its encoding and appends.

Each entry's ``hash = HMAC-SHA-256(audit_key, prev_hash || canonical JSON of the entry)``
with ``audit_key`` HKDF-derived from the master key. Why keyed: a plain SHA-256 chain can
be recomputed by anyone who can write the database (edit an entry, rehash everything after
it, and the chain verifies again). With the HMAC, rewriting history needs the master key,
which is not in the database. Truncating the tail and rolling the head row back is only
detectable against an earlier recorded head (``verify(expected_head=...)``): export or
record the head (seq, hash) regularly (e.g. from ``GET /v1/audit/verify``).

Appends lock the single chain-head row (``SELECT ... FOR UPDATE``; SQLite serialises
writers at ``BEGIN IMMEDIATE``), so several server instances on one database extend ONE
chain, with no gaps and no forks.

One job per module (issue 9): this one writes the chain (the canonical encoding, the
head, both append paths); ``audit_verify`` reads it back and checks it (``verify``, the
transparency follower's rows); ``loss_window`` maps a time of loss to a sequence number.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyserver._domain.encoding import format_time
from keyserver._store.models import AuditEntry, AuditHead, Base, Container

GENESIS_HASH = b"\x00" * 32
HEAD_ID = 1


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """Return the JSON-able content of an entry (what the HMAC covers, plus hashes)."""
    return row_document(
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.container,
        entry.outcome,
        entry.remote,
        entry.details,
    )


def row_document(  # noqa: PLR0917 - the columns of one entry
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    container: str | None,
    outcome: str,
    remote: str | None,
    details: str,
) -> dict[str, Any]:
    """The document of an entry from its columns (``details`` is stored as JSON text)."""
    return {
        "seq": seq,
        "at": format_time(at),
        "actor": actor,
        "action": action,
        "container": container,
        "outcome": outcome,
        "remote": remote,
        "details": json.loads(details),
    }


def chain_mac(audit_key: bytes, prev_hash: bytes, encoding: bytes) -> bytes:
    """HMAC-SHA-256(audit_key, prev_hash || encoding): THE chain link (spec §audit)."""
    # hmac.digest: one C call (OpenSSL's one-shot HMAC), no HMAC object per entry.
    return hmac.digest(audit_key, prev_hash + encoding, "sha256")


_SCALAR = json.JSONEncoder(ensure_ascii=False).encode


def entry_text(  # noqa: PLR0917 - the columns of one entry
    seq: int,
    at_text: str,
    actor: str,
    action: str,
    container: str | None,
    outcome: str,
    remote: str | None,
    details: str,
) -> str:
    """``canonical_json(row_document(...))`` without building and re-encoding the document.

    The release batch appends under the chain-head lock, where a second ``json.dumps``
    and a ``json.loads`` of the details per entry were a fifth of its Python (issue 15).
    Keys in sorted order, scalars encoded as canonical_json encodes them, ``details``
    already canonical. A property test holds the two equal
    (tests/keyserver/test_audit_entry_text.py); ``audit_verify.verified_text`` says
    when a reader may use it on stored rows.
    """
    e = _SCALAR
    return (
        f'{{"action":{e(action)},"actor":{e(actor)},"at":{e(at_text)},'
        f'"container":{e(container)},"details":{details},"outcome":{e(outcome)},'
        f'"remote":{e(remote)},"seq":{seq:d}}}'
    )


def entry_hash(audit_key: bytes, prev_hash: bytes, entry: AuditEntry) -> bytes:
    """HMAC-SHA-256(audit_key, prev_hash || canonical JSON of the entry)."""
    return chain_mac(audit_key, prev_hash, canonical_json(entry_document(entry)).encode("utf-8"))


def not_before(at: datetime, previous: datetime | None) -> datetime:
    """The time to record for a new entry: ``at``, but never before the previous entry's.

    spec §audit: audit time is taken inside the serialising transaction (after the head
    lock) and never goes backwards, so time order equals sequence order even when the
    clock steps back (an NTP correction, a VM restored from a snapshot). Without this, a
    release ordered before a destroy could show a later time than the destroy, and an
    official reading the log by time would see them the wrong way round (issue 14).
    """
    return at if previous is None or at >= previous else previous


def lock_head(session: Session) -> AuditHead:
    """Lock and return the chain-head row (first lock of every writing transaction).

    Every writer takes this lock FIRST and container row locks after it, so lock order is
    the same everywhere and transactions cannot deadlock.
    """
    return session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()


@dataclass(frozen=True)
class NewEntry:
    """The caller-supplied fields of an audit entry."""

    actor: str
    action: str
    outcome: str
    container: str | None = None
    remote: str | None = None
    details: Mapping[str, Any] | None = None


def append(
    session: Session,
    audit_key: bytes,
    at: datetime,
    new: NewEntry,
    head: AuditHead | None = None,
    *,
    stamp: Container | None = None,
) -> AuditEntry:
    """Append one entry to the chain within the caller's transaction.

    The caller commits; the entry and the action it records commit (or roll back)
    together. ``head`` is the row the caller already locked with :func:`lock_head`
    (saves a second locking query); by default it is locked here. ``stamp``: the
    container row whose change the entry records; its ``last_audit_seq`` is set to the
    entry's seq before the flush, so the row is written (and MACed) once, not again at
    COMMIT.
    """
    # No autoflush for these two reads: the caller's pending changes (a container row, a
    # challenge) go out in the one flush below with the entry, not in a flush of their
    # own before each read (issue 15: a receipt flushed, and MACed its row, twice).
    with session.no_autoflush:
        if head is None:
            head = lock_head(session)
        at = not_before(at, _last_at(session, head.seq))
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at,
        actor=new.actor,
        action=new.action,
        container=new.container,
        outcome=new.outcome,
        remote=new.remote,
        details=canonical_json(dict(new.details or {})),
        prev_hash=head.hash,
        hash=b"",
    )
    entry.hash = entry_hash(audit_key, head.hash, entry)
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    if stamp is not None:
        stamp.last_audit_seq = entry.seq
    session.flush()
    session.info[_LAST_AT] = (entry.seq, at)
    return entry


# session.info key: (seq, at) of the last entry this session appended, so a transaction
# that appends several entries reads the previous entry's time once.
_LAST_AT = "rwc_audit_last_at"


def _last_at(session: Session, seq: int) -> datetime | None:
    """The time of entry ``seq`` (the locked head's), None for the genesis head."""
    known = session.info.get(_LAST_AT)
    if known is not None and known[0] == seq:
        return known[1]  # type: ignore[no-any-return]
    if seq == 0:
        return None
    return session.execute(select(AuditEntry.at).where(AuditEntry.seq == seq)).scalar()


@dataclass
class Head:
    """The locked chain head, carried through one transaction of the Core hot path.

    Attributes:
        seq: Sequence number of the last entry.
        hash: Hash of the last entry.
        at: Time of the last entry (None before the first): no entry gets an earlier one.
        at_text: The last entry time appended and its canonical text (formatted once).
        pending: Entries appended since the lock, inserted by
            :meth:`keyserver._release.hotpath.Batch.store_head` in one executemany (nothing
            reads them back within the transaction).
    """

    seq: int
    hash: bytes
    at: datetime | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    at_text: tuple[datetime, str] | None = None


_HEAD_TABLE = Base.metadata.tables[AuditHead.__tablename__]
# The entries' table for Core statements (rows as tuples, no ORM objects).
LOG_TABLE = Base.metadata.tables[AuditEntry.__tablename__]
# Built once; values are bound per call.
# The head's row, locked, with the time of its entry (the floor of the next entry's time,
# :func:`not_before`): one statement, no extra round trip under the lock.
LOCK_HEAD_STMT = (
    select(
        _HEAD_TABLE.c.seq,
        _HEAD_TABLE.c.hash,
        select(LOG_TABLE.c.at)
        .where(LOG_TABLE.c.seq == _HEAD_TABLE.c.seq)
        .scalar_subquery()
        .label("at"),
    )
    .where(_HEAD_TABLE.c.id == HEAD_ID)
    .with_for_update(of=_HEAD_TABLE)
)


def append_row(audit_key: bytes, head: Head, at: datetime, new: NewEntry) -> int:
    """Append one entry after the locked ``head`` (the release batch); return its seq.

    Same chain and hash as :func:`append`; ``head`` advances in memory and is written
    back once per transaction (keyserver/_release/hotpath.py, ``Batch.store_head``).
    """
    seq = head.seq + 1
    at = not_before(at, head.at)
    if head.at_text is None or head.at_text[0] != at:  # one format per batch, not per entry
        head.at_text = (at, format_time(at))
    details = canonical_json(dict(new.details or {}))
    text = entry_text(
        seq, head.at_text[1], new.actor, new.action, new.container, new.outcome, new.remote, details
    )
    digest = chain_mac(audit_key, head.hash, text.encode("utf-8"))
    head.pending.append(
        {
            "seq": seq,
            "at": at,
            "actor": new.actor,
            "action": new.action,
            "container": new.container,
            "outcome": new.outcome,
            "remote": new.remote,
            "details": details,
            "prev_hash": head.hash,
            "hash": digest,
        },
    )
    head.seq, head.hash, head.at = seq, digest, at
    return seq


def read_head(session: Session) -> tuple[int, bytes] | None:
    """The chain-head row's (seq, hash), without locking it (None if the row is missing)."""
    row = session.execute(
        select(_HEAD_TABLE.c.seq, _HEAD_TABLE.c.hash).where(_HEAD_TABLE.c.id == HEAD_ID)
    ).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def stored_hash(session: Session, seq: int) -> bytes | None:
    """The hash column of entry ``seq`` (None if there is no such entry)."""
    found = session.execute(select(LOG_TABLE.c.hash).where(LOG_TABLE.c.seq == seq)).scalar()
    return None if found is None else bytes(found)
