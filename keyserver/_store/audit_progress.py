"""How far the audit chain was verified: the remembered head, read and moved (spec §audit).

The rules (the MAC, which record wins) are in keyserver/_domain/verified_head.py; this
module reads and writes the one row of ``audit_verified_head``. Moving it runs in a
writing transaction with the row locked (PostgreSQL ``FOR UPDATE``; SQLite has one
writer at a time), so two page loads that verified the same entries both finish and the
head never moves backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyserver._domain import verified_head
from keyserver._domain.verified_head import VerifiedHead
from keyserver._store.models import AuditVerifiedHead, Base

ROW_ID = 1
_TABLE = Base.metadata.tables[AuditVerifiedHead.__tablename__]
_COLUMNS = (_TABLE.c.seq, _TABLE.c.hash, _TABLE.c.verified_at, _TABLE.c.full_at, _TABLE.c.mac)


@dataclass(frozen=True)
class Remembered:
    """The stored record and whether its MAC verifies.

    A record that does not was written by someone without the audit key: the database
    was tampered with.
    """

    head: VerifiedHead
    genuine: bool


def _read(session: Session, audit_key: bytes, *, lock: bool) -> Remembered | None:
    stmt = select(*_COLUMNS).where(_TABLE.c.id == ROW_ID)
    row = session.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        return None
    seq, digest, verified_at, full_at, tag = row
    head = VerifiedHead(int(seq), bytes(digest), verified_at, full_at)
    return Remembered(head, verified_head.genuine(audit_key, head, bytes(tag)))


def read(session: Session, audit_key: bytes) -> Remembered | None:
    """The remembered head, or None if no verification was remembered yet."""
    return _read(session, audit_key, lock=False)


def _values(audit_key: bytes, head: VerifiedHead) -> dict[str, Any]:
    return {
        "seq": head.seq,
        "hash": head.hash,
        "verified_at": head.verified_at,
        "full_at": head.full_at,
        "mac": verified_head.mac(audit_key, head),
    }


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """Insert the row unless another transaction did first; True if this one did."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_TABLE).values(id=ROW_ID, **values).on_conflict_do_nothing()
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def remember(
    session: Session, audit_key: bytes, new: VerifiedHead, *, full: bool, resumed_from: int
) -> None:
    """Move the remembered head to ``new`` if that is forward (verified_head.advanced).

    ``full``: the verification started at the genesis and reached the chain's head.
    A record whose MAC fails is replaced only by a full verification (which just checked
    everything it would vouch for); an incremental one leaves it for the next load to
    report.
    """
    for _ in range(2):  # a second pass only if a concurrent first insert won the race
        current = _read(session, audit_key, lock=True)
        if current is not None and not current.genuine:
            if full:
                session.execute(
                    _TABLE.update().where(_TABLE.c.id == ROW_ID).values(**_values(audit_key, new))
                )
            return
        record = verified_head.advanced(
            None if current is None else current.head, new, full=full, resumed_from=resumed_from
        )
        if record is None:
            return
        if current is not None:
            session.execute(
                _TABLE.update().where(_TABLE.c.id == ROW_ID).values(**_values(audit_key, record))
            )
            return
        if _insert(session, _values(audit_key, record)):
            return


def forget(session: Session) -> None:
    """Drop the remembered head (a full verification failed: nothing before it stands)."""
    session.execute(delete(_TABLE))
