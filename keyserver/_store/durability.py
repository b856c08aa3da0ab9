"""Early lock release: the release batch commits without waiting for the flush, then waits.

Why (issue 15, bench/profiles/keyserver.md "Early lock release"): every writing
transaction holds the one audit chain head (PostgreSQL: its row lock; SQLite: the writer
lock) until its COMMIT returns, and a durable COMMIT waits for the log's flush (fsync).
With two workers the head was held 75-80% of the time, COMMIT being 40% (PostgreSQL) to
65-75% (SQLite) of that. A write-ahead log is sequential, so the flush need not happen
under the head: once any commit record is durable, every commit record before it is too.
So the key-release batch

1. commits WITHOUT waiting for the flush, which releases the head (and every row lock,
   and SQLite's writer lock) at once; then
2. without any lock, waits until its own commit is durable (:meth:`Durability.flush`)
   before any evaluation is computed or answered (keyserver/_release/batch.py).

"Durably audited before its answer" (spec §evaluate) therefore still holds, and the order
is unchanged (seq = commit order: the next transaction takes the head only after this one
committed). What changes: another session may READ a release's entry a few ms before it
is durable; a crash in that window loses a suffix of the log whose evaluations were never
computed nor sent. So whatever is published from the log (an export, a verified head, a
signed checkpoint) is read first and flushed before it leaves (:meth:`Ledger.durable_reads`
and spec §consistency). Every other writing transaction stays synchronous: its own
durable commit also makes every earlier release durable.

- PostgreSQL: the batch's transaction runs ``set_config('synchronous_commit', 'off',
  true)`` (in its head-locking statement, keyserver/_release/compiled.py: no extra round
  trip); the flush is ``SELECT pg_logical_emit_message(true, 'rwc/flush', '')`` in
  autocommit: a transaction of its own that writes one small WAL record and gets an
  xid, so it has a commit record AFTER ours in the WAL, and committing it with the
  session's own ``synchronous_commit`` flushes the WAL up to it (and waits for
  synchronous standbys, if configured), hence up to ours. "The user can select the
  commit mode of each transaction" and a synchronous commit "waits for the
  transaction's WAL records to be flushed":
  https://www.postgresql.org/docs/15/wal-async-commit.html. PostgreSQL 15 has no
  function that only waits for a flush LSN, and a transaction that only gets an xid
  (``SELECT pg_current_xact_id()``) is NOT enough: one that wrote no WAL before its
  commit record commits asynchronously whatever the setting (RecordTransactionCommit
  in src/backend/access/transam/xact.c; measured here: 199 of 200 such commits
  returned before the flush position reached the WAL written before them, 0 of 200
  with the message; tests/keyserver/test_early_release.py checks the flush position).
  The message needs no privilege and no ``wal_level=logical``; logical decoding, if
  any, sees it under the prefix ``rwc/flush``. A deployment that turned
  ``synchronous_commit`` off gets what it configured (no flush) as before.
- SQLite (``sqlite_synchronous`` FULL or EXTRA, WAL mode): the batch commits with
  ``PRAGMA synchronous=NORMAL``, which in WAL mode syncs nothing at commit ("WAL mode
  ... with synchronous=NORMAL ... no sync operations occur during most transactions":
  https://www.sqlite.org/pragma.html#pragma_synchronous); the flush is an ``fdatasync``
  of the ``-wal`` file, opened read-only (see :meth:`Durability._sync_wal` for why a
  checkpoint or a WAL reset in between cannot lose the frames). With NORMAL or OFF
  configured, commits never synced and nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from keyserver._domain.settings import Settings
from keyserver._store import release_wal
from keyserver._store.writelock import sqlite_file

# SQLite levels at which a commit syncs the WAL (the ones early release replaces).
_SYNCING = frozenset({"FULL", "EXTRA"})
# A transactional message: an xid AND a WAL record, so its commit is synchronous (above).
_PG_FLUSH = "SELECT pg_logical_emit_message(true, 'rwc/flush', '')"


class DurabilityError(OperationalError):
    """A committed batch could not be made durable: nothing is evaluated (answered 503).

    An OperationalError so that the release path answers ``unavailable`` for every job
    of the batch and never retries it job by job: the batch has committed.
    """

    def __init__(self, cause: BaseException, what: str = "wait for a commit to be durable") -> None:
        super().__init__(what, None, cause)


class Durability:
    """How the release batch commits, and the wait for durability after it (one per engine).

    Args:
        engine: The ledger's engine.
        settings: For ``sqlite_synchronous``.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._level = settings.sqlite_synchronous
        db: Path | None = None
        if engine.dialect.name == "sqlite":
            uri = str(engine.url.query.get("uri", "")) == "true"
            db = sqlite_file(engine.url.database, uri)
        # An SQLite file (in WAL mode): the release connection's checkpoints and temporary
        # files leave the writer lock, at every synchronous level (release_wal.py).
        self._sqlite_file = db is not None
        wal = db.with_name(db.name + "-wal") if db is not None and self._level in _SYNCING else None
        self._wal = wal
        #: Whether the release batch commits early (PostgreSQL always; SQLite when its
        #: commits would sync). Read by keyserver/_release/compiled.py.
        self.early = self._postgres or wal is not None
        # The -wal file whose directory entry this process has synced (device, inode).
        self._synced_entry: tuple[int, int] | None = None
        self._entry_lock = threading.Lock()

    def commit_early(self, conn: Connection) -> None:
        """Make ``conn``'s commits return before the flush (SQLite at FULL or EXTRA).

        For the release batch's connection only (keyserver/_release/held.py), checked out
        of the pool for as long as it stays so: :meth:`commit_durably` before it goes back,
        so no other transaction ever commits at NORMAL. PostgreSQL: nothing here (its
        batch turns ``synchronous_commit`` off in its own transaction, compiled.py).
        An SQLite file's release connection also checkpoints after its flush rather than
        in COMMIT, and keeps temporary files in memory (release_wal.py).
        """
        if not self._sqlite_file:
            return
        raw = conn.connection.dbapi_connection
        try:
            assert raw is not None
            # Outside any transaction (SQLite refuses to change it inside one).
            if self._wal is not None:
                raw.execute("PRAGMA synchronous=NORMAL")
            release_wal.take(conn, raw)
        except Exception as exc:
            conn.invalidate()
            raise DurabilityError(exc, "commit without waiting for the flush") from exc

    def commit_durably(self, conn: Connection) -> None:
        """Undo :meth:`commit_early` before ``conn`` goes back to the pool.

        If that fails, the connection is dropped: never pooled with NORMAL.
        """
        if not self._sqlite_file or conn.invalidated:
            return
        try:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if self._wal is not None:
                raw.execute(f"PRAGMA synchronous={self._level}")  # validated setting
            release_wal.give_back(conn, raw)
        except Exception:  # noqa: BLE001 - never pool a connection that does not sync
            conn.invalidate()

    @contextlib.contextmanager
    def release_commit(self, conn: Connection) -> Iterator[None]:
        """Around the release batch's writing transaction on ``conn``: flush after COMMIT.

        ``conn`` commits early (:meth:`commit_early`, done by its holder); the transaction
        (and its lock) is entered and left inside. On a normal exit, i.e. after COMMIT,
        returns only once that commit is durable (:meth:`flush`); then, SQLite, runs the
        checkpoint COMMIT no longer runs under the writer lock if one is due
        (release_wal.py).
        """
        yield
        self.flush(conn)
        release_wal.checkpoint_if_due(conn)

    def flush(self, conn: Connection | None = None) -> None:
        """Return once every commit made before this call is durable (see the module).

        Args:
            conn: A connection of the engine outside any transaction (PostgreSQL); None:
                one is checked out for this call.

        Raises:
            DurabilityError: The flush failed; nothing committed before may be answered.
        """
        try:
            if self._postgres:
                if conn is None:
                    with self._engine.connect() as own:
                        self._pg_flush(own)
                else:
                    self._pg_flush(conn)
            elif self._wal is not None:
                self._sync_wal(self._wal)
        except DurabilityError:
            raise
        except Exception as exc:
            raise DurabilityError(exc) from exc

    @staticmethod
    def _pg_flush(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # The release batches' connection is in autocommit already while its holder keeps
        # it (keyserver/_release/held.py); any other is set back.
        was = raw.autocommit
        try:
            # Autocommit: the statement is its own transaction, committed with the
            # session's synchronous_commit (our SET was local to the batch's transaction).
            raw.autocommit = True
            raw.execute(_PG_FLUSH)
        except Exception:
            conn.invalidate()  # whatever state it is in, it is not pooled again
            raise
        raw.autocommit = was

    def _sync_wal(self, wal: Path) -> None:
        """Sync the -wal file (fdatasync; once per file, its directory entry too).

        Why this makes our committed frames durable although another connection may
        checkpoint or reset the WAL between our COMMIT and this call
        (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous):
        frames are appended in order and recovery replays every frame up to the last
        valid commit frame, so syncing the file syncs ours and all before. A checkpoint
        at NORMAL or FULL (every connection of ours; SQLite's default is FULL) syncs the
        WAL before copying frames into the database and the database after, and the
        WAL is reused from its start only once everything in it was checkpointed: if
        our frames are gone from the WAL when we sync, they are already durable in the
        database file. The file is opened anew each time: SQLite deletes the WAL when
        the last connection closes and creates a new one, and a kept descriptor would
        sync the deleted file. SQLite syncs the directory of a WAL it creates on that
        file's first sync; at NORMAL that may never come before a crash, so the
        directory is synced here once per WAL file.
        """
        try:
            fd = os.open(wal, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            # No WAL: every commit is checkpointed into the database file (synced after
            # the checkpoint, see above) and the WAL deleted by the last connection.
            return
        try:
            if sys.platform == "linux":
                os.fdatasync(fd)
            else:
                os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        entry = (st.st_dev, st.st_ino)
        with self._entry_lock:
            if entry == self._synced_entry:
                return
            _sync_directory(wal.parent)
            self._synced_entry = entry


def _sync_directory(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be synced there
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
