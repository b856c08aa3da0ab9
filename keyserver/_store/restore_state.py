"""The restore marker and the gate that keeps a restored database from serving (spec §backup).

``keyserver restore`` writes the marker (:func:`mark`) into the restored database; while it
is there, :class:`RestoreGate` refuses every writing transaction (evaluations, revocations,
the sweep: each would append to an audit chain the replay must continue exactly where the
original one went on) and ``/readyz`` fails. ``keyserver restore --replay`` re-applies what
the audit export recorded after the backup and removes the marker in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from keyserver._domain.errors import RestorePendingError
from keyserver._domain.i18n import N_
from keyserver._store.models import RestoreState

MARKER_ID = 1
# How long a "not pending" answer is trusted: a replay finished while the server runs is
# seen within this time, at the cost of one small read per interval (not per request).
RECHECK_SECONDS = 1.0


def mark(session: Session, *, at: datetime, backup_head_seq: int, source: str) -> None:
    """Put the marker in (replacing an earlier one)."""
    session.execute(delete(RestoreState))
    session.add(
        RestoreState(id=MARKER_ID, restored_at=at, backup_head_seq=backup_head_seq, source=source)
    )


def clear(session: Session) -> None:
    """Take the marker out (in the replay's transaction)."""
    session.execute(delete(RestoreState))


def current(session: Session) -> RestoreState | None:
    """The marker, or None."""
    return session.get(RestoreState, MARKER_ID)


def pending_error() -> RestorePendingError:
    """The refusal while the marker is there (what to do is in the hint of the detail)."""
    return RestorePendingError(
        N_(
            "this database was restored from a backup and the destroys and suspensions "
            "recorded after it are not re-applied yet; nothing was released or changed "
            "(operators: run `keyserver restore --replay AUDIT_EXPORT`)"
        )
    )


class RestoreGate:
    """Is a restore pending? Read at most once per :data:`RECHECK_SECONDS`.

    Read on the connection of the transaction it guards (:meth:`check`), so a database in
    trouble costs no second connection attempt, and the marker is seen as that
    transaction sees the database.

    Args:
        monotonic: The clock for the re-check interval (injectable).
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._pending = False
        self._checked = float("-inf")

    def check(self, conn: Connection) -> None:
        """Raise :class:`RestorePendingError` while the marker is in the database."""
        now = self._monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            found = conn.execute(_MARKER_STMT).first()
            self._pending = found is not None
            self._checked = now
        if self._pending:
            raise pending_error()

    def forget(self) -> None:
        """Read the marker again at the next check (after this process changed it)."""
        self._checked = float("-inf")


_MARKER_STMT = select(RestoreState.id).where(RestoreState.id == MARKER_ID)
