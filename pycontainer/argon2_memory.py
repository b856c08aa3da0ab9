"""Memory for libargon2's blocks: anonymous pages the kernel may back with huge pages.

Argon2id (default m = 64 MiB) fills and re-reads its blocks at random: with libargon2's own
``malloc`` that is 16,384 pages of 4 KiB, each first touched through a page fault and each
a TLB entry. On Linux, asking for transparent huge pages (``madvise(MADV_HUGEPAGE)``, the
``madvise`` mode most distributions ship) turns those into 32 faults of 2 MiB and far fewer
TLB misses: one Argon2id of m = 64 MiB, t = 3, p = 4 on the 2-CPU bench VM went from 209 to
147 ms of CPU (median of 15 interleaved processes each) and its page faults from 16,411 to
60 (issue 15, bench/profiles/startup.md). The output does not change: the memory is only
where the blocks live (tests/container/test_keyschedule_argon2.py checks the bytes).

:func:`blocks` hands ``keyschedule.stretch`` the allocate and free callbacks of libargon2's
``argon2_context`` for one derivation. Where the platform has no ``MADV_HUGEPAGE``
(Windows, macOS) it returns None and libargon2 allocates with ``malloc`` as before.

This module sits outside ``pycontainer.format`` because it maps memory (``mmap``), which the
format's import contract leaves out; the format takes the callbacks as an argument.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from typing import Any

from _argon2_cffi_bindings import ffi

# The x86-64 and arm64 (4 KiB pages) PMD size: the region starts on such a boundary so that
# every 2 MiB of it can be one huge page (the mapping is this much larger, never touched).
_HUGE_PAGE = 2 << 20


class _Blocks:
    """One derivation's mapping: libargon2 calls ``allocate`` once and ``free`` once."""

    def __init__(self) -> None:
        self._region: mmap.mmap | None = None
        self._view: Any = None  # cffi's buffer over the region, released before unmapping
        self.error: BaseException | None = None
        on_error = self._on_error
        self.allocate = ffi.callback("int(uint8_t **, size_t)", self._allocate, onerror=on_error)
        self.free = ffi.callback("void(uint8_t *, size_t)", self._free, onerror=on_error)

    def _allocate(self, memory: Any, size: int) -> int:
        # libargon2 ignores the return value and checks *memory: NULL first, so that any
        # failure below reads as ARGON2_MEMORY_ALLOCATION_ERROR (a clear ContainerError).
        memory[0] = ffi.NULL
        region = mmap.mmap(-1, size + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._region, self._view = region, ffi.from_buffer(region)
        start = -int(ffi.cast("uintptr_t", self._view)) % _HUGE_PAGE
        # Advice only: with THP "never", or none free, the kernel uses 4 KiB pages as malloc's.
        with contextlib.suppress(OSError):
            region.madvise(mmap.MADV_HUGEPAGE, start, size)
        memory[0] = ffi.cast("uint8_t *", self._view) + start
        return 0

    def _free(self, memory: Any, size: int) -> None:
        # libargon2 has wiped the blocks before this call (free_memory: clear_internal_memory,
        # FLAG_clear_internal_memory); unmapping gives the pages back to the kernel.
        self.close()

    def _on_error(self, kind: type[BaseException], value: BaseException, tb: Any) -> None:
        # An exception cannot cross into C. No memory (mmap's ENOMEM, an address-space limit)
        # is what libargon2 reports itself, as it does for malloc: NULL block pointer,
        # ARGON2_MEMORY_ALLOCATION_ERROR, the "not enough memory" error and its hint. Anything
        # else (a Ctrl-C, a bug) is kept and re-raised by blocks() once libargon2 returned.
        if not isinstance(value, (OSError, MemoryError)) and self.error is None:
            self.error = value

    def close(self) -> None:
        """Unmap the region, if still mapped (also where libargon2 did not free it)."""
        if self._view is not None:
            ffi.release(self._view)
            self._view = None
        if self._region is not None:
            self._region.close()
            self._region = None


@contextlib.contextmanager
def blocks() -> Iterator[tuple[Any, Any] | None]:
    """The (allocate_cbk, free_cbk) pair for one Argon2id call, or None where unavailable.

    On leaving, the region is unmapped in any case: libargon2 returns without freeing it
    when a lane thread cannot be started (argon2_ctx: fill_memory_blocks' error return),
    and the password-derived blocks must not outlive the call (munmap drops the pages; the
    kernel zeroes a page before it maps it anywhere again). An exception raised inside a
    callback is raised here.
    """
    if not hasattr(mmap, "MADV_HUGEPAGE") or not hasattr(mmap, "MAP_PRIVATE"):
        yield None
        return
    try:
        state = _Blocks()
    except (MemoryError, OSError):
        # cffi could not make the callbacks (a system that forbids writable and executable
        # memory, without libffi's static trampolines): malloc's pages, as before.
        yield None
        return
    try:
        yield state.allocate, state.free
    finally:
        state.close()
        if state.error is not None:
            raise state.error
