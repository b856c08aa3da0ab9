"""Reading the audit chain back and checking it (spec §audit, §transparency).

``verify`` and the transparency follower both check an entry with :func:`verified_text`,
so "this entry verifies" has one meaning on the server (``keyserver audit verify
--server`` runs ``verify`` a page at a time).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyserver._domain.encoding import format_time
from keyserver._store import audit
from keyserver._store.audit import GENESIS_HASH, LOG_TABLE, canonical_json

# The columns the chain covers, in row_document's argument order, then prev_hash and hash.
_COLUMNS = (
    LOG_TABLE.c.seq,
    LOG_TABLE.c.at,
    LOG_TABLE.c.actor,
    LOG_TABLE.c.action,
    LOG_TABLE.c.container,
    LOG_TABLE.c.outcome,
    LOG_TABLE.c.remote,
    LOG_TABLE.c.details,
    LOG_TABLE.c.prev_hash,
    LOG_TABLE.c.hash,
)
_BATCH = 5000


def rows_between(session: Session, after: int, upto: int) -> Iterator[Any]:
    """Entry rows ``after < seq <= upto`` in seq order, as plain tuples, a batch at a time.

    Columns: seq, at, actor, action, container, outcome, remote, details, prev_hash, hash.
    Core rows, not ORM objects: a million of them are verified in one pass, and the ORM's
    identity map would cost more than the HMACs.
    """
    while after < upto:
        stmt = (
            select(*_COLUMNS)
            .where(LOG_TABLE.c.seq > after, LOG_TABLE.c.seq <= upto)
            .order_by(LOG_TABLE.c.seq)
            .limit(_BATCH)
        )
        rows = session.execute(stmt).all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1][0])


def verified_text(audit_key: bytes, prev_hash: bytes, row: Any) -> bytes | None:
    """An entry row's canonical encoding (spec §audit) if its keyed hash verifies, else None.

    The encoding is what the HMAC covers after ``prev_hash`` and, byte for byte, the
    entry's transparency leaf (spec §transparency), so a reader encodes each entry once.
    The caller checks the row's own ``prev_hash`` link.

    Why the stored ``details`` text may be used as it is (no JSON parse and re-encode, the
    larger part of the cost per entry): every writer MACs the canonical encoding
    (``append`` through canonical_json, ``append_row`` over canonical details), so a
    stored text whose MAC verifies IS the canonical encoding; forging a MAC over anything
    else needs the master key, whose holder can rewrite the chain anyway (spec §audit).
    A row that fails this way is re-encoded through canonical_json before it is refused,
    so details stored in another but equivalent JSON form still verify, as before.
    """
    seq, at, actor, action, container, outcome, remote, details = row[:8]
    stored = bytes(row[9])
    text = audit.entry_text(
        int(seq), format_time(at), actor, action, container, outcome, remote, details
    ).encode("utf-8")
    if hmac.compare_digest(stored, audit.chain_mac(audit_key, prev_hash, text)):
        return text
    text = canonical_json(audit.row_document(*row[:8])).encode("utf-8")
    if hmac.compare_digest(stored, audit.chain_mac(audit_key, prev_hash, text)):
        return text
    return None


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
    fixed = audit.read_head(session)
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
        found = audit.stored_hash(session, from_seq)
        if found is None or not hmac.compare_digest(found, prev):
            return result("the verified head to resume from is not in the chain", from_seq)
    upto = max(head_seq, from_seq)
    if limit is not None:
        upto = min(upto, from_seq + limit)
    for row in rows_between(session, from_seq, upto):
        seq = int(row[0])
        if seq != expected_seq:
            return result(f"sequence gap: expected {expected_seq}, found {seq}", expected_seq)
        if not hmac.compare_digest(bytes(row[8]), prev):
            return result("prev_hash does not link to the previous entry", expected_seq)
        if verified_text(audit_key, prev, row) is None:
            return result("entry hash does not verify (edited or forged)", expected_seq)
        prev = bytes(row[9])
        expected_seq += 1
    last = expected_seq - 1
    if last < upto < head_seq:  # a page ended early (at the head, the head check says so)
        return result(f"sequence gap: expected {expected_seq}, found none", expected_seq)
    if upto >= head_seq:  # this call reached the fixed head: compare the head row
        if fixed is None or head_seq != last or not hmac.compare_digest(head_hash, prev):
            return result("head row disagrees with the last entry (truncated?)", last + 1)
        # Rows beyond the fixed head are legitimate only if the head has moved past them
        # since (a concurrent append); rows no head covers were inserted behind its back.
        beyond = session.execute(select(func.max(audit.LOG_TABLE.c.seq))).scalar()
        if beyond is not None and beyond > last:
            now_head = audit.read_head(session)
            if now_head is None or beyond > now_head[0]:
                return result("entries beyond the head row (inserted?)", last + 1)
    if expected_head is not None and (expected_head[0] <= last or upto >= head_seq):
        recorded = audit.stored_hash(session, expected_head[0])
        if recorded is None or not hmac.compare_digest(recorded, expected_head[1]):
            return result("the recorded head is not in the chain (truncated?)", expected_head[0])
    return result()
