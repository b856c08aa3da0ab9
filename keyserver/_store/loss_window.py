"""From a time of loss to a sequence number of the audit log (spec §report).

A medium report's window is decided by sequence numbers, times are for display: these
find the first entry at or after the loss, searched before the chain-head lock and
completed under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyserver._store import audit
from keyserver._store.audit import LOG_TABLE


def first_seq_at_or_after(session: Session, when: datetime, after: int = 0) -> int | None:
    """The first entry (in sequence order, after ``after``) whose time is at or after ``when``.

    spec §report: how a time of loss becomes a sequence number. The first in *sequence*
    order, so an entry recorded under a clock that ran ahead counts as at or after the loss
    too: the window may start earlier than the loss, never later (a report may list too
    much, never hide an opening).
    """
    found = session.execute(
        select(func.min(LOG_TABLE.c.seq)).where(LOG_TABLE.c.seq > after, LOG_TABLE.c.at >= when)
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
    head = audit.read_head(session)
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
