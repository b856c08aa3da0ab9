"""Writer lock for SQLite: queue writers of all processes on one host, in turn.

SQLite has one writer at a time anyway. Queueing writers on a lock before
``BEGIN IMMEDIATE`` hands the database over at once, where SQLite's busy handler would
sleep and poll (1, 2, 5, 10, ... 100 ms back-off: multi-second tails, busy-timeout
errors, and two worker processes slower than one).

:class:`WriteLock` takes two locks, in this order, and releases them in reverse:

1. a per-process re-entrant thread lock (writers of this process queue here; re-entrant,
   so a nested write in the same thread fails as before rather than hanging);
2. at the outermost level only, an exclusive ``fcntl.flock`` on ``<database>.writelock``
   beside the database file (writers of other processes queue here). ``flock`` releases
   the GIL while it blocks, so a process waiting for another one does not stall its own
   threads (the event loop keeps serving reads).

The lock file is created with mode 0600, opened once per process and database path and
kept open. :func:`write_lock_for` keeps a registry keyed by the resolved database path, so
every engine of the process on the same file shares one lock object. The lock is an
optimisation only: ``BEGIN IMMEDIATE`` still serialises writers that do not take it (the
CLI, another tool, a platform without ``flock``), they merely wait in the busy handler.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("keyserver")

LOCK_SUFFIX = ".writelock"


class WriteLock:
    """Re-entrant writer lock: a thread lock, plus an ``flock`` across processes.

    Args:
        lock_path: The lock file to ``flock`` at the outermost level, or None for the
            thread lock only (in-memory databases, platforms without ``fcntl``).
    """

    def __init__(self, lock_path: Path | None) -> None:
        self.lock_path = lock_path
        self._thread_lock = threading.RLock()
        # Only touched by the thread holding _thread_lock.
        self._depth = 0
        self._fd: int | None = None
        self._fd_pid = 0
        self._disabled = False

    def acquire(self) -> None:
        """Take the lock (blocks until every other thread and process released it)."""
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                self._lock_file()
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1

    def release(self) -> None:
        """Release one level; the file lock goes with the outermost level."""
        self._depth -= 1
        try:
            if self._depth == 0:
                self._unlock_file()
        finally:
            self._thread_lock.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _lock_file(self) -> None:
        if sys.platform == "win32":
            # No fcntl on Windows: writers of one process still queue on the thread lock;
            # other processes fall back to SQLite's busy handler (correct, only slower).
            return
        fd = self._open()
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while blocked

    def _unlock_file(self) -> None:
        if sys.platform == "win32":
            return
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _open(self) -> int | None:
        """The lock file's descriptor for this process, opened on first use."""
        if self.lock_path is None or self._disabled:
            return None
        pid = os.getpid()
        if self._fd is not None and self._fd_pid != pid:
            # A forked child shares the parent's open file description and with it the
            # parent's flock: the child needs its own description to exclude the parent.
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            try:
                self._fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError as exc:
                # The lock only saves SQLite's busy-handler polling; BEGIN IMMEDIATE still
                # serialises writers, so carry on with the thread lock rather than fail.
                log.warning("SQLite writer lock %s unavailable (%s)", self.lock_path, exc)
                self._disabled = True
                return None
            self._fd_pid = pid
        return self._fd


_REGISTRY: dict[str, WriteLock] = {}
_REGISTRY_LOCK = threading.Lock()
# In-memory databases have no file (and no other process can write to them): all of them
# share one thread-only lock, as every SQLite engine of the process did before.
_MEMORY_LOCK = WriteLock(None)


def sqlite_file(database: str | None, uri: bool = False) -> Path | None:
    """The resolved file of an SQLite database name, or None for an in-memory database.

    Args:
        database: ``engine.url.database`` (``None`` or empty for ``sqlite://``).
        uri: Whether the name is an SQLite ``file:`` URI (``?uri=true``).
    """
    if not database or database == ":memory:":
        return None
    if uri and database.startswith("file:"):
        path, _, query = database.removeprefix("file:").partition("?")
        if not path or path == ":memory:" or "mode=memory" in query:
            return None
        database = path
    return Path(database).resolve()


def write_lock_for(database: str | None, uri: bool = False) -> WriteLock:
    """The process-wide writer lock of an SQLite database (one object per file).

    Args:
        database: ``engine.url.database``; ``None``, empty or ``:memory:`` for in-memory.
        uri: Whether the name is an SQLite ``file:`` URI.

    Returns:
        The shared lock; for an in-memory database the process's thread-only lock.
    """
    path = sqlite_file(database, uri)
    if path is None:
        return _MEMORY_LOCK
    key = str(path)
    with _REGISTRY_LOCK:
        lock = _REGISTRY.get(key)
        if lock is None:
            lock = _REGISTRY[key] = WriteLock(path.with_name(path.name + LOCK_SUFFIX))
        return lock


def engine_write_lock(engine: Engine) -> WriteLock:
    """The writer lock of an SQLite engine (see :func:`write_lock_for`)."""
    url = engine.url
    return write_lock_for(url.database, str(url.query.get("uri", "")).lower() == "true")
