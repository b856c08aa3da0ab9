"""libargon2's blocks in huge-page-advised memory (pycontainer/argon2_memory.py, issue 15).

What is particular to the mapping: advised, aligned, and every mapping gone after the call
(the blocks derive from the password); a Ctrl-C in the callback raised as itself; malloc's
pages where the platform has no MADV_HUGEPAGE. That it changes nothing but where the blocks
live (the same bytes as argon2-cffi, the same clear error when there is no memory) is
checked with malloc's pages side by side in test_keyschedule_argon2.py.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest
from _argon2_cffi_bindings import ffi

from pycontainer import argon2_memory
from pycontainer.format import keyschedule
from pycontainer.format.primitives import Argon2Params

linux = pytest.mark.skipif(
    not hasattr(mmap, "MADV_HUGEPAGE") or not Path("/proc/self/smaps").exists(),
    reason="huge-page advice and /proc/self/smaps are Linux's",
)

PARAMS = Argon2Params(m=8192, t=1, p=1)


def _mapping(address: int) -> dict[str, str] | None:
    """The /proc/self/smaps entry (its header as "range", then its fields) holding address."""
    entry: dict[str, str] | None = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and ":" not in head:
            start, end = (int(x, 16) for x in head.split("-"))
            if entry is not None:
                return entry
            entry = {"range": head} if start <= address < end else None
        elif entry is not None:
            key, _, value = line.partition(":")
            entry[key] = value.strip()
    return entry


@linux
def test_the_blocks_are_advised_aligned_and_unmapped_after_free() -> None:
    size = 64 << 20
    with argon2_memory.blocks() as memory:
        assert memory is not None
        allocate, free = memory
        pointer = ffi.new("uint8_t **")
        allocate(pointer, size)
        address = int(ffi.cast("uintptr_t", pointer[0]))
        assert address % (2 << 20) == 0  # every 2 MiB of it can be one huge page
        entry = _mapping(address)
        assert entry is not None
        assert "hg" in entry["VmFlags"].split()  # MADV_HUGEPAGE took
        start, end = (int(x, 16) for x in entry["range"].split("-"))
        assert start <= address and address + size <= end
        free(pointer[0], size)
        assert _mapping(address) is None


@linux
def test_blocks_libargon2_did_not_free_are_unmapped_on_leaving() -> None:
    # argon2_ctx returns without freeing when a lane thread cannot start.
    with argon2_memory.blocks() as memory:
        assert memory is not None
        pointer = ffi.new("uint8_t **")
        memory[0](pointer, 8 << 20)
        address = int(ffi.cast("uintptr_t", pointer[0]))
        assert _mapping(address) is not None
    assert _mapping(address) is None


def test_an_interrupt_in_the_allocation_is_raised_after_libargon2_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C arriving while the callback runs Python cannot cross into C: it must come
    # out of the call as itself, not as "not enough memory".
    def interrupted(*_args: object, **_kwargs: object) -> mmap.mmap:
        raise KeyboardInterrupt

    monkeypatch.setattr(mmap, "mmap", interrupted)
    with pytest.raises(KeyboardInterrupt), argon2_memory.blocks() as memory:
        keyschedule.stretch(bytes(64), bytes(16), PARAMS, memory)


def test_without_madv_hugepage_libargon2_mallocs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows and macOS have no MADV_HUGEPAGE (nor MAP_PRIVATE on Windows).
    monkeypatch.delattr(mmap, "MADV_HUGEPAGE", raising=False)
    secret, salt = os.urandom(64), os.urandom(16)
    with argon2_memory.blocks() as memory:
        assert memory is None
        got = keyschedule.stretch(secret, salt, PARAMS, memory)
    assert got == keyschedule.stretch(secret, salt, PARAMS)
