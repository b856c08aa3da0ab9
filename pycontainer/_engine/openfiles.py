"""Files opened on their first chunk and closed after their last, by whichever thread.

Sealing reads and extraction writes many files chunk-parallel: chunks arrive on any
thread in any order, and a file spans one or more chunks (several small files share one).
Keeping every file open would exhaust descriptors on a tree of many files; opening one
per chunk would repeat the checks. So a file is opened when the first chunk touching it
arrives and handed back, for closing (and checking or fsyncing), to the thread that
finished the last chunk touching it: only the files of the chunks in flight are open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class OpenFiles(Generic[T]):
    """A table of open files ``j`` (whatever ``open_file(j)`` returns), thread-safe.

    Attributes:
        lock: Guards the table; ``open_file`` runs under it (so a file is opened once).
    """

    def __init__(
        self, spans: Sequence[tuple[int, int]], chunk_log2: int, open_file: Callable[[int], T]
    ) -> None:
        """Count the chunks touching each file.

        Args:
            spans: ``(offset, size)`` of each file in the plaintext, sizes > 0.
            chunk_log2: log2 of the chunk size.
            open_file: Opens file ``j`` (called once, under :attr:`lock`).
        """
        self._pending = [
            ((start + size - 1) >> chunk_log2) - (start >> chunk_log2) + 1 for start, size in spans
        ]
        self._open: dict[int, T] = {}
        self._open_file = open_file
        self.lock = threading.Lock()

    def acquire(self, j: int) -> T:
        """File ``j``, opened now if this is the first chunk touching it."""
        with self.lock:
            found = self._open.get(j)
            if found is None:
                found = self._open[j] = self._open_file(j)
            return found

    def release(self, j: int) -> T | None:
        """Count one chunk of file ``j`` as done; return the file if it was the last.

        The caller then owns the returned file (it is out of the table) and closes it.
        """
        with self.lock:
            self._pending[j] -= 1
            if self._pending[j]:
                return None
            return self._open.pop(j)

    def complete(self) -> bool:
        """True once every chunk of every file was released."""
        return not any(self._pending)

    def take_all(self) -> list[T]:
        """Empty the table and return what was still open (after a failure)."""
        with self.lock:
            found, self._open = list(self._open.values()), {}
        return found
