"""SQLite: the release connection's WAL checkpoints and temporary files, out of the writer lock.

Why (issue 15, bench/profiles/keyserver.md, "Scaling out, eighteenth session"): with two
workers on one SQLite file, every release batch holds the one writer lock (writelock.py)
from BEGIN IMMEDIATE to COMMIT while the other worker's batch waits for it. Two things
SQLite did inside that section are not the batch's own work:

- the automatic checkpoint (https://www.sqlite.org/wal.html#ckpt): the COMMIT that finds
  1000 pages or more in the WAL copies them into the database file, syncing the WAL
  before and the database after, before COMMIT returns (counted with strace: 6
  checkpoints in 200 batches of 8, 18 fsyncs and 581 page writes, all under the lock);
- the statement journal of the batch's multi-row INSERTs (challenges, audit entries: a
  statement that may fail half-way, in a transaction that has already written), which
  SQLite spills to a temporary file past 64 KiB (https://www.sqlite.org/tempfiles.html):
  a file created, up to 44 pages written and the file deleted, in about one batch of
  eight in three (62 in 200).

So the release batches' connection (keyserver/_release/held.py), while it is theirs:

1. does not checkpoint at COMMIT (``PRAGMA wal_autocheckpoint=0``). After its batch's
   flush (durability.py), with the writer lock released, it runs a PASSIVE checkpoint
   once it has changed :data:`CHECKPOINT_ROWS` rows since its last one (a release batch
   writes about one WAL page per row it changes: 29 pages for the 25 rows of a batch of
   8), SQLite's own default in pages. A passive checkpoint takes no writer lock, so the
   other worker's batches commit meanwhile; it copies and syncs exactly as the automatic
   one did (WAL before, database after, at NORMAL as at FULL), so nothing durability.py
   relies on changes. Every other connection still checkpoints at COMMIT.
2. keeps its temporary files in memory (``PRAGMA temp_store=MEMORY``): a batch's
   statement journal is a few hundred KiB at most (64 jobs); in memory it costs no system
   call, and no copy of database pages is written to the temporary directory.

Both are set when the connection is taken for the batches and set back to what they
were before it goes back to the pool.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlalchemy import Connection

log = logging.getLogger("keyserver")

#: Rows the release connection changes between two checkpoints (SQLite's default
#: ``wal_autocheckpoint`` in pages; about one WAL page per changed row, see above).
CHECKPOINT_ROWS = 1000
# Connection.info keys (kept with the DB-API connection): the settings to restore, and
# the connection's total_changes at its last checkpoint.
_SAVED = "rwc_release_wal_saved"
_MARK = "rwc_release_wal_mark"


def take(conn: Connection, raw: Any) -> None:
    """Set the release connection's settings on ``raw`` (``conn``'s DB-API connection)."""
    saved = (
        int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
        int(raw.execute("PRAGMA temp_store").fetchone()[0]),
    )
    raw.execute("PRAGMA wal_autocheckpoint=0")
    raw.execute("PRAGMA temp_store=MEMORY")
    conn.info[_SAVED] = saved
    conn.info.setdefault(_MARK, raw.total_changes)


def give_back(conn: Connection, raw: Any) -> None:
    """Set back what :func:`take` changed (before ``conn`` returns to the pool)."""
    saved = conn.info.pop(_SAVED, None)
    if saved is None:
        return
    pages, temp_store = saved
    raw.execute(f"PRAGMA wal_autocheckpoint={pages:d}")
    raw.execute(f"PRAGMA temp_store={temp_store:d}")


def checkpoint_if_due(conn: Connection) -> None:
    """After a batch's flush, outside the writer lock: a passive checkpoint if one is due.

    A failed checkpoint fails nothing: the batch has committed and is durable, and the
    next one (or any other connection's automatic one) copies what this one did not,
    as SQLite does with a failed automatic checkpoint.
    """
    if _SAVED not in conn.info or conn.invalidated:
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    changes = raw.total_changes
    if changes - conn.info.get(_MARK, 0) < CHECKPOINT_ROWS:
        return
    conn.info[_MARK] = changes
    try:
        raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        log.warning("SQLite checkpoint after a release batch failed (%s); retried later", exc)
