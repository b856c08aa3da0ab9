"""Append-only audit log as a KEYED hash chain (spec §audit).

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
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyserver.domain.encoding import format_time
from keyserver.store.models import AuditEntry, AuditHead, Base

GENESIS_HASH = b"\x00" * 32
HEAD_ID = 1


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """Return the JSON-able content of an entry (what the HMAC covers, plus hashes)."""
    return _document(
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.container,
        entry.outcome,
        entry.remote,
        entry.details,
    )


def _document(  # noqa: PLR0917 - the columns of one entry
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    container: str | None,
    outcome: str,
    remote: str | None,
    details: str,
) -> dict[str, Any]:
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


def _hash(audit_key: bytes, prev_hash: bytes, document: dict[str, Any]) -> bytes:
    return _mac(audit_key, prev_hash, canonical_json(document))


def _mac(audit_key: bytes, prev_hash: bytes, text: str) -> bytes:
    return hmac.new(audit_key, prev_hash + text.encode("utf-8"), "sha256").digest()


_SCALAR = json.JSONEncoder(ensure_ascii=False).encode


def _entry_text(  # noqa: PLR0917 - the columns of one entry
    seq: int,
    at_text: str,
    actor: str,
    action: str,
    container: str | None,
    outcome: str,
    remote: str | None,
    details: str,
) -> str:
    """``canonical_json(_document(...))`` without building and re-encoding the document.

    The release batch appends under the chain-head lock, where a second ``json.dumps``
    and a ``json.loads`` of the details per entry were a fifth of its Python (issue 15).
    Keys in sorted order, scalars encoded as canonical_json encodes them, ``details``
    already canonical. verify() still recomputes through canonical_json, and a property
    test holds the two equal (tests/keyserver/test_audit_entry_text.py).
    """
    e = _SCALAR
    return (
        f'{{"action":{e(action)},"actor":{e(actor)},"at":{e(at_text)},'
        f'"container":{e(container)},"details":{details},"outcome":{e(outcome)},'
        f'"remote":{e(remote)},"seq":{seq:d}}}'
    )


def entry_hash(audit_key: bytes, prev_hash: bytes, entry: AuditEntry) -> bytes:
    """HMAC-SHA-256(audit_key, prev_hash || canonical JSON of the entry)."""
    return _hash(audit_key, prev_hash, entry_document(entry))


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
) -> AuditEntry:
    """Append one entry to the chain within the caller's transaction.

    The caller commits; the entry and the action it records commit (or roll back)
    together. ``head`` is the row the caller already locked with :func:`lock_head`
    (saves a second locking query); by default it is locked here.
    """
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
            :meth:`keyserver.release.hotpath.Batch.store_head` in one executemany (nothing
            reads them back within the transaction).
    """

    seq: int
    hash: bytes
    at: datetime | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    at_text: tuple[datetime, str] | None = None


_HEAD_TABLE = Base.metadata.tables[AuditHead.__tablename__]
_LOG_TABLE = Base.metadata.tables[AuditEntry.__tablename__]
# Built once; values are bound per call.
# The head's row, locked, with the time of its entry (the floor of the next entry's time,
# :func:`not_before`): one statement, no extra round trip under the lock.
LOCK_HEAD_STMT = (
    select(
        _HEAD_TABLE.c.seq,
        _HEAD_TABLE.c.hash,
        select(_LOG_TABLE.c.at)
        .where(_LOG_TABLE.c.seq == _HEAD_TABLE.c.seq)
        .scalar_subquery()
        .label("at"),
    )
    .where(_HEAD_TABLE.c.id == HEAD_ID)
    .with_for_update(of=_HEAD_TABLE)
)


def append_row(audit_key: bytes, head: Head, at: datetime, new: NewEntry) -> int:
    """Append one entry after the locked ``head`` (the release batch); return its seq.

    Same chain and hash as :func:`append`; ``head`` advances in memory and is written
    back once per transaction (keyserver/release/hotpath.py, ``Batch.store_head``).
    """
    seq = head.seq + 1
    at = not_before(at, head.at)
    if head.at_text is None or head.at_text[0] != at:  # one format per batch, not per entry
        head.at_text = (at, format_time(at))
    details = canonical_json(dict(new.details or {}))
    text = _entry_text(
        seq, head.at_text[1], new.actor, new.action, new.container, new.outcome, new.remote, details
    )
    digest = _mac(audit_key, head.hash, text)
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


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    Attributes:
        ok: True when every check passed.
        entries: Number of entries checked by this call.
        head_seq: Sequence number of the last entry verified (resume from here).
        head_hash: Hex hash of the last entry verified (record it to detect later
            truncation, or to resume from it).
        first_bad_seq: First sequence number where verification failed, if any.
        problem: What failed, if anything.
        from_seq: The verified head this call started after (0: the genesis).
        complete: True when the check reached the chain head (and compared the head row);
            False after ``limit`` entries with more to go: call again from the head.
    """

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    from_seq: int = 0
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "from_seq": self.from_seq,
            "complete": self.complete,
        }


def iter_entries(
    session: Session, batch: int = 2000, upto: int | None = None
) -> Iterator[AuditEntry]:
    """Yield the entries in sequence order (up to ``upto``), in batches (bounded memory)."""
    after = 0
    while True:
        stmt = select(AuditEntry).where(AuditEntry.seq > after)
        if upto is not None:
            stmt = stmt.where(AuditEntry.seq <= upto)
        rows = session.execute(stmt.order_by(AuditEntry.seq).limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def read_head(session: Session) -> tuple[int, bytes] | None:
    """The chain-head row's (seq, hash), without locking it (None if the row is missing)."""
    row = session.execute(
        select(_HEAD_TABLE.c.seq, _HEAD_TABLE.c.hash).where(_HEAD_TABLE.c.id == HEAD_ID)
    ).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def stored_hash(session: Session, seq: int) -> bytes | None:
    """The hash column of entry ``seq`` (None if there is no such entry)."""
    found = session.execute(select(_LOG_TABLE.c.hash).where(_LOG_TABLE.c.seq == seq)).scalar()
    return None if found is None else bytes(found)


def first_seq_at_or_after(session: Session, when: datetime, after: int = 0) -> int | None:
    """The first entry (in sequence order, after ``after``) whose time is at or after ``when``.

    spec §report: how a time of loss becomes a sequence number. The first in *sequence*
    order, so an entry recorded under a clock that ran ahead counts as at or after the loss
    too: the window may start earlier than the loss, never later (a report may list too
    much, never hide an opening).
    """
    found = session.execute(
        select(func.min(_LOG_TABLE.c.seq)).where(_LOG_TABLE.c.seq > after, _LOG_TABLE.c.at >= when)
    ).scalar()
    return None if found is None else int(found)


@dataclass(frozen=True)
class LossScan:
    """A search of the log for the time of loss, made before the chain-head lock.

    Attributes:
        lost_at: The time of loss.
        scanned: The head's seq when the log was searched.
        found: The first seq at or after ``lost_at`` among the entries searched, if any.
    """

    lost_at: datetime
    scanned: int
    found: int | None


def scan_loss(session: Session, lost_at: datetime) -> LossScan:
    """Search the log for the first entry at or after ``lost_at`` (no lock taken)."""
    head = read_head(session)
    scanned = 0 if head is None else head[0]
    return LossScan(lost_at, scanned, first_seq_at_or_after(session, lost_at))


def loss_seq(session: Session, scan: LossScan | None, own_seq: int) -> int:
    """The loss report's ``lost_seq``, under the chain-head lock (spec §report).

    Lost "now" (no scan): the report's own entry, ``own_seq``, whatever the clock says.
    Else the scan's find: entries appended since it come after it by seq, so they are
    searched only when it found none, and if they hold none either, the report's own entry.
    """
    if scan is None:
        return own_seq
    found = scan.found
    if found is None:
        found = first_seq_at_or_after(session, scan.lost_at, after=scan.scanned)
    return own_seq if found is None else found


# The columns the chain covers, in _document's argument order, then prev_hash and hash.
_VERIFY_COLUMNS = (
    _LOG_TABLE.c.seq,
    _LOG_TABLE.c.at,
    _LOG_TABLE.c.actor,
    _LOG_TABLE.c.action,
    _LOG_TABLE.c.container,
    _LOG_TABLE.c.outcome,
    _LOG_TABLE.c.remote,
    _LOG_TABLE.c.details,
    _LOG_TABLE.c.prev_hash,
    _LOG_TABLE.c.hash,
)
_VERIFY_BATCH = 5000


def _rows(session: Session, after: int, upto: int) -> Iterator[Any]:
    """Entry rows ``after < seq <= upto`` in order, as plain tuples, a batch at a time.

    Core rows, not ORM objects: a million of them are verified in one pass, and the ORM's
    identity map would cost more than the HMACs.
    """
    while after < upto:
        stmt = (
            select(*_VERIFY_COLUMNS)
            .where(_LOG_TABLE.c.seq > after, _LOG_TABLE.c.seq <= upto)
            .order_by(_LOG_TABLE.c.seq)
            .limit(_VERIFY_BATCH)
        )
        rows = session.execute(stmt).all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1][0])


def rows_between(session: Session, after: int, upto: int) -> Iterator[Any]:
    """Entry rows ``after < seq <= upto`` in seq order, as plain tuples (see :func:`_rows`).

    Columns: seq, at, actor, action, container, outcome, remote, details, prev_hash, hash.
    """
    return _rows(session, after, upto)


def row_leaf_and_hash(audit_key: bytes, prev_hash: bytes, row: Any) -> tuple[bytes, bytes]:
    """An entry row's canonical encoding (its transparency leaf) and its keyed hash.

    One canonical JSON for both: the HMAC covers ``prev_hash || encoding`` and the leaf
    IS the encoding (spec §audit, §transparency), so the follower encodes each entry once.
    """
    text = canonical_json(_document(*row[:8])).encode("utf-8")
    return text, hmac.new(audit_key, prev_hash + text, "sha256").digest()


def verify(
    session: Session,
    audit_key: bytes,
    expected_head: tuple[int, bytes] | None = None,
    *,
    start: tuple[int, bytes] | None = None,
    limit: int | None = None,
) -> VerifyResult:
    """Verify the chain: contiguous seq, prev links, keyed hashes, head row.

    Detects edited entries (hash mismatch), deleted entries (seq gap / link mismatch),
    inserted or reordered entries (link or hash mismatch) and a head row that disagrees
    with the last entry. ``expected_head`` (an earlier recorded (seq, hash)) also detects
    truncation of the tail.

    Args:
        session: A read session.
        audit_key: The chain's HMAC key.
        expected_head: A head recorded earlier that must still be in the chain.
        start: A head (seq, hash) an earlier run verified: only the entries after it are
            checked (incremental verification, spec §audit), and it must still be in the
            chain with that hash. None: from the genesis (seq 0, 32 zero bytes).
        limit: Check at most this many entries (a page of a remote verification); the
            result then says ``complete=False`` while entries up to the head remain.
    """
    # The head is read FIRST and fixes what is verified: entries up to head.seq. Entries
    # appended while the (paged, possibly multi-snapshot) read runs are after it and are
    # not compared with a head that was read before they existed, which raised a false
    # "truncated?" alarm under load on PostgreSQL (issue 14).
    fixed = read_head(session)
    head_seq, head_hash = fixed if fixed is not None else (-1, b"")
    from_seq, prev = start if start is not None else (0, GENESIS_HASH)
    expected_seq = from_seq + 1

    def result(problem: str | None = None, at_seq: int | None = None) -> VerifyResult:
        return VerifyResult(
            ok=problem is None,
            entries=expected_seq - 1 - from_seq,
            head_seq=expected_seq - 1,
            head_hash=prev.hex(),
            first_bad_seq=at_seq,
            problem=problem,
            from_seq=from_seq,
            complete=problem is None and expected_seq - 1 >= head_seq,
        )

    if start is not None:
        # Entries up to the start were verified by the run that recorded it; that they are
        # still the same chain shows in the start entry's hash, which every later entry
        # links to.
        found = stored_hash(session, from_seq)
        if found is None or not hmac.compare_digest(found, prev):
            return result("the verified head to resume from is not in the chain", from_seq)
    upto = max(head_seq, from_seq)
    if limit is not None:
        upto = min(upto, from_seq + limit)
    for row in _rows(session, from_seq, upto):
        seq = int(row[0])
        if seq != expected_seq:
            return result(f"sequence gap: expected {expected_seq}, found {seq}", expected_seq)
        if not hmac.compare_digest(bytes(row[8]), prev):
            return result("prev_hash does not link to the previous entry", expected_seq)
        digest = _hash(audit_key, prev, _document(*row[:8]))
        if not hmac.compare_digest(bytes(row[9]), digest):
            return result("entry hash does not verify (edited or forged)", expected_seq)
        prev = digest
        expected_seq += 1
    last = expected_seq - 1
    if last < upto < head_seq:  # a page ended early (at the head, the head check says so)
        return result(f"sequence gap: expected {expected_seq}, found none", expected_seq)
    if upto >= head_seq:  # this call reached the fixed head: compare the head row
        if fixed is None or head_seq != last or not hmac.compare_digest(head_hash, prev):
            return result("head row disagrees with the last entry (truncated?)", last + 1)
        # Rows beyond the fixed head are legitimate only if the head has moved past them
        # since (a concurrent append); rows no head covers were inserted behind its back.
        beyond = session.execute(select(func.max(AuditEntry.seq))).scalar()
        if beyond is not None and beyond > last:
            now_head = read_head(session)
            if now_head is None or beyond > now_head[0]:
                return result("entries beyond the head row (inserted?)", last + 1)
    if expected_head is not None and (expected_head[0] <= last or upto >= head_seq):
        recorded = stored_hash(session, expected_head[0])
        if recorded is None or not hmac.compare_digest(recorded, expected_head[1]):
            return result("the recorded head is not in the chain (truncated?)", expected_head[0])
    return result()
