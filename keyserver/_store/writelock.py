"""Writer lock for SQLite: queue writers of all processes on one host, in turn.

SQLite has one writer at a time anyway. Queueing writers on a lock before
``BEGIN IMMEDIATE`` hands the database over at once, where SQLite's busy handler would
sleep and poll (1, 2, 5, 10, ... 100 ms back-off: multi-second tails, busy-timeout
errors, and two worker processes slower than one).

:class:`WriteLock` takes two locks, in this order, and releases them in reverse:

1. a per-process re-entrant thread lock (writers of this process queue here; re-entrant,
   so a nested write in the same thread fails as before rather than hanging);
2. at the outermost level only, an exclusive ``fcntl.flock`` on ``<database>.writelock``
   beside the database file (writers of other processes queue here). A free lock is taken
   with one non-blocking call; a held one is waited for by a blocking ``flock`` on a
   helper thread, so the kernel hands it over the moment the other process lets go (no
   sleep-and-retry: with two workers every batch waits for the other's, and a poll
   interval of up to 2 ms left the one writer idle that long per handover; issue 15,
   bench/profiles/keyserver.md). The waiting writer blocks on a condition with the busy
   timeout, the one thing a blocking ``flock`` cannot do; a wait it gives up on stays
   with the helper, and is taken over by the process's next writer or let go at once.
   ``flock`` releases the GIL while it blocks, so a process waiting for another one
   does not stall its own threads (the event loop keeps serving reads).

The lock file is created with mode 0600, opened once per process and database path and
kept open. :func:`write_lock_for` keeps a registry keyed by the resolved database path, so
every engine of the process on the same file shares one lock object. The lock is an
optimisation only: ``BEGIN IMMEDIATE`` still serialises writers that do not take it (the
CLI, another tool, a platform without ``flock``), they merely wait in the busy handler.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("keyserver")

LOCK_SUFFIX = ".writelock"


class WriterLockTimeoutError(OperationalError):
    """The writer lock was not free within the busy timeout (answered 503).

    Like SQLite's own "database is locked": a stuck writer must not hang every request
    queued behind it.
    """

    def __init__(self, waited: float) -> None:
        super().__init__(
            "acquire the SQLite writer lock",
            None,
            sqlite3.OperationalError(f"database is locked (waited {waited:.1f} s)"),
        )


class WriteLock:
    """Re-entrant writer lock: a thread lock, plus an ``flock`` across processes.

    Args:
        lock_path: The lock file to ``flock`` at the outermost level, or None for the
            thread lock only (in-memory databases, platforms without ``fcntl``).
        timeout: Longest wait in seconds (the busy timeout); then
            :class:`WriterLockTimeoutError`.
    """

    def __init__(self, lock_path: Path | None, timeout: float = 5.0) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        # Only touched by the thread holding _thread_lock.
        self._depth = 0
        self._fd: int | None = None
        self._fd_pid = 0
        self._disabled = False
        # The blocking flock in flight on a helper thread (_lock_file): whether one is
        # (_waiting), whether a writer still wants what it gets (_wanted), and what it got
        # for that writer (_granted: the flock; _failed: its error). Guarded by _cond.
        self._cond = threading.Condition(threading.Lock())
        self._waiting = False
        self._wanted = False
        self._granted = False
        self._failed: OSError | None = None

    def acquire(self) -> None:
        """Take the lock (waits until every other thread and process released it).

        Raises:
            WriterLockTimeoutError: Not free within ``timeout``.
        """
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise WriterLockTimeoutError(self.timeout)
        if self._depth == 0:
            try:
                self._lock_file(deadline)
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

    def _lock_file(self, deadline: float) -> None:
        if sys.platform == "win32":
            # No fcntl on Windows: writers of one process still queue on the thread lock;
            # other processes fall back to SQLite's busy handler (correct, only slower).
            return
        fd = self._open()
        if fd is None:
            return
        with self._cond:
            if not self._waiting:
                # No wait in flight on this descriptor: a free lock is taken at once. (With
                # one in flight, a non-blocking call here would succeed the moment the
                # lock is free and the helper's call with it: one flock, two owners.)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    helper = threading.Thread(
                        target=self._wait_file, args=(fd,), name="rwc-sqlite-writelock", daemon=True
                    )
                    helper.start()  # RuntimeError if it cannot: nothing in flight then
                    self._waiting = True
                else:
                    return
            # Ours once the helper's flock returns, or a wait a writer of this process gave
            # up on and that is still in flight: taken over, not started twice.
            self._wanted = True
            while not (self._granted or self._failed):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._wanted = False  # the helper lets go of what it gets (_wait_file)
                    raise WriterLockTimeoutError(self.timeout)
                self._cond.wait(left)
            self._wanted = self._granted = False
            failed, self._failed = self._failed, None
            if failed is not None:
                raise failed

    def _wait_file(self, fd: int) -> None:
        """Helper thread: block in ``flock`` until the lock is ours; hand it on or let go."""
        failed: OSError | None = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # ENOLCK, say: the writer raises it, as a failed try did
            failed = exc
        with self._cond:
            self._waiting = False
            if self._wanted:
                self._granted = failed is None
                self._failed = failed
                self._cond.notify_all()
            elif failed is None:
                # The writer timed out meanwhile and nobody took the wait over: holding
                # the lock for no one would stall every other process's writers.
                fcntl.flock(fd, fcntl.LOCK_UN)

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
            # The parent's helper thread did not survive the fork: nothing is in flight here.
            self._cond = threading.Condition(threading.Lock())
            self._waiting = self._wanted = self._granted = False
            self._failed = None
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
