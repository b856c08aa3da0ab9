"""The release committer's connection, kept from one batch to the next while they follow.

Why (issue 15, bench/profiles/keyserver.md, fifteenth session): a release batch costs a
fixed amount of CPU whatever its size, and two workers split the requests into batches
half as large, so they pay it twice as often per release. Part of that fixed cost was
taking a connection from the pool and giving it back (SQLAlchemy's checkout and checkin;
on PostgreSQL the liveness ping, a round trip to the server) and, on SQLite, setting
``synchronous`` to NORMAL and back (keyserver/_store/durability.py, early lock release):
~0.3 ms of the committer's ~1.8 ms of fixed CPU per batch where it was measured. Under
load one batch follows another within milliseconds, so the committer keeps its connection
until it has been idle for a moment (group_commit.py, ``on_idle``:
:meth:`HeldConnection.close`).

Why this changes no guarantee:

- Only the committer thread uses it (group_commit.py runs one batch at a time, and calls
  ``on_idle`` on that thread), and it stays checked out of the pool while kept, so no
  other transaction can commit on it at NORMAL: it is set back
  (:meth:`Durability.commit_durably`) before it returns to the pool.
- Each batch still runs its own transaction and its own flush (durability.py) before any
  answer; the writer lock (SQLite) and the head's row lock (PostgreSQL) are taken and
  released per batch exactly as before. Between batches the connection holds no
  transaction (SQLite autocommit: no read snapshot that would hold back a checkpoint).
- It is kept only after a batch that committed and flushed without error; after any error
  it goes back to the pool (or is dropped, if invalidated) as before.
- The pool's ping is for connections that sat idle in the pool. A kept one finished a
  COMMIT and a flush at most ``linger`` (0.1 s) before; if the database went away in that
  moment, the next batch fails (503, nothing released) as a batch in flight then does
  anyway, the connection is dropped, and the batch after it gets a pinged one.
- A forked child forgets its parent's connection without touching it (closing it would
  end the parent's session on PostgreSQL).

PostgreSQL: while the committer has it, the connection plans its prepared statements once
(``plan_cache_mode = force_generic_plan``; set back to the server's default before it goes
back to the pool, or the connection is dropped). Why: the release path's reads bind each
list as one array (keyserver/_release/facts.py, ``member``), so every statement has one
text, prepared once per connection; but for two of them (the tokens and the reader-policy
probe, ``= ANY`` of an array of unknown length) PostgreSQL's own choice kept planning a
custom plan on every execution, two plans per batch (bench/profiles/keyserver.md,
eighteenth session, with the generic plans: the same index scans). A setting of how to
plan: what a statement returns cannot change, nor any lock or transaction.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from keyserver._store.durability import Durability


class HeldConnection:
    """The connection of the release batches of one process (used by one thread)."""

    def __init__(self, engine: Engine, durability: Durability) -> None:
        self._engine = engine
        self._durability = durability
        self._conn: Connection | None = None
        self._pid = os.getpid()

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """The connection for one batch: the kept one, else one from the pool.

        Kept for the next batch if this one ends without error, else given back.
        """
        conn = self._take()
        if conn is None:
            conn = self._engine.connect()
            try:
                self._durability.commit_early(conn)
                _plan(conn, _GENERIC)
                _autocommit(conn, on=True)
            except BaseException:
                _give_back(self._durability, conn)
                raise
        done = False
        try:
            yield conn
            done = True
        finally:
            if done and not conn.invalidated:
                self._conn = conn
            else:
                _give_back(self._durability, conn)

    def close(self) -> None:
        """Give a kept connection back to the pool (the committer is idle or stopping)."""
        conn = self._take()
        if conn is not None:
            _give_back(self._durability, conn)

    def _take(self) -> Connection | None:
        conn, self._conn = self._conn, None
        if self._pid != os.getpid():
            # A forked child: the parent's connection is not ours to use or close.
            self._pid = os.getpid()
            return None
        return conn


def _give_back(durability: Durability, conn: Connection) -> None:
    durability.commit_durably(conn)
    if not conn.invalidated:
        # Never pool a connection with our plan mode, nor in autocommit (every other
        # user's statements would each commit on their own): if either fails, the
        # connection is dropped (invalidated), and close() below does not pool it.
        with contextlib.suppress(OperationalError):
            _autocommit(conn, on=False)
            _plan(conn, _DEFAULT)
    conn.close()


def _autocommit(conn: Connection, *, on: bool) -> None:
    """PostgreSQL: psycopg's autocommit mode on or off (outside any transaction).

    On while the committer holds the connection: the batch then sends its own BEGIN with
    its first statement, where psycopg would send one and wait for it on its own
    (keyserver/_release/together.py); every batch still runs in ONE transaction, from
    that BEGIN to its COMMIT, and the flush in autocommit as before (durability.py).
    """
    if conn.dialect.name != "postgresql":
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    try:
        raw.autocommit = on
    except Exception as exc:
        # In a transaction (cannot happen after a COMMIT or ROLLBACK) or broken: as
        # _plan, the connection is not pooled again.
        conn.invalidate()
        raise OperationalError("autocommit", None, exc) from exc


# Session-level (``false``: not local to a transaction), so it lasts from batch to batch.
_GENERIC = "SELECT set_config('plan_cache_mode', 'force_generic_plan', false)"
_DEFAULT = "RESET plan_cache_mode"


def _plan(conn: Connection, sql: str) -> None:
    """PostgreSQL: run ``sql`` (a plan-mode setting) outside any transaction."""
    if conn.dialect.name != "postgresql":
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    try:
        # Committed at once: a SET made in a transaction that rolls back is undone with
        # it. Outside the batch's transaction (taken from the pool, or given back after
        # it; the pool's liveness ping may have left its SELECT 1's transaction open).
        raw.execute(sql)
        raw.commit()
    except Exception as exc:
        # As SQLAlchemy raises a driver's error: the batch answers unavailable (503,
        # spec §problems) and the connection, in whatever state, is not pooled again.
        conn.invalidate()
        raise OperationalError(sql, None, exc) from exc
