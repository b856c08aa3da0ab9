"""The remembered verified head of the audit chain and its MAC (spec §audit; I/O-free).

The console overview verifies only the entries after the head an earlier verification
reached (issue 12: a full verification of a million entries took ~17 s per page load).
That head is kept in the database, and the database is what it vouches for: whoever can
write rows there could otherwise move it forward past an entry they edited, and the edit
would never be read again. The entry hash alone does not prevent that (it is copied from
the stored row, which anyone can read), so the record carries
``mac = HMAC-SHA-256(audit_key, LABEL || encode(record))``: only a holder of the audit key
(the server) can write a head that verifies, and that holder can rewrite the chain anyway.
A copied-back older record verifies too, but only makes the next load check more entries.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from datetime import datetime

from keyserver._domain.encoding import format_time

# Domain separation from the chain's own HMACs under the same key, whose input starts
# with a 32-byte hash (spec §audit): a chain MAC is never a valid head MAC and back.
LABEL = b"rwc/v1 audit verified head"
_SEQ = struct.Struct(">q")


@dataclass(frozen=True)
class VerifiedHead:
    """Entries 1..seq verified, the last one hashing to ``hash``.

    Attributes:
        seq: The last verified entry.
        hash: Its stored (keyed) hash; the next entry's ``prev_hash`` must equal it.
        verified_at: When a verification last moved the head.
        full_at: When a verification from the genesis last reached it, or None: every
            entry up to ``seq`` was then checked by runs each resuming from the last.
    """

    seq: int
    hash: bytes
    verified_at: datetime
    full_at: datetime | None


def _encode(head: VerifiedHead) -> bytes:
    full = b"" if head.full_at is None else format_time(head.full_at).encode("ascii")
    return b"".join(
        (
            LABEL,
            _SEQ.pack(head.seq),
            _SEQ.pack(len(head.hash)),
            head.hash,
            format_time(head.verified_at).encode("ascii"),
            _SEQ.pack(len(full)),
            full,
        )
    )


def mac(audit_key: bytes, head: VerifiedHead) -> bytes:
    """The record's MAC under the audit chain's key."""
    return hmac.new(audit_key, _encode(head), "sha256").digest()


def genuine(audit_key: bytes, head: VerifiedHead, tag: bytes) -> bool:
    """Did the server write this record (constant-time compare of its MAC)?"""
    return hmac.compare_digest(mac(audit_key, head), tag)


def advanced(
    current: VerifiedHead | None, new: VerifiedHead, *, full: bool, resumed_from: int
) -> VerifiedHead | None:
    """The record to store after a verification reached ``new``, or None to keep ``current``.

    ``current`` is the stored record, its MAC checked (None: there is none).
    ``resumed_from``: the seq the verification started after (0: the genesis).
    Concurrent verifications may finish in any order; the head never moves backwards.
    """
    if full:
        if current is not None and current.seq > new.seq:
            # Entries up to new.seq were checked just now, those after them by the
            # incremental runs that moved current: keep the furthest head, date the check.
            return VerifiedHead(current.seq, current.hash, current.verified_at, new.full_at)
        return new
    if current is None:
        # Only a run from the genesis starts a record: one resumed from a head that has
        # since been dropped (a full verification failed meanwhile) must not revive it.
        return new if resumed_from == 0 else None
    if current.seq >= new.seq or resumed_from > current.seq:
        return None
    return VerifiedHead(new.seq, new.hash, new.verified_at, current.full_at)
