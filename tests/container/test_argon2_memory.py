"""libargon2's blocks in huge-page-advised memory (pycontainer/argon2_memory.py, issue 15).

The memory must change nothing but where the blocks live: the same bytes as argon2-cffi, a
clear error when there is no memory, every mapping gone after the call (the blocks derive
from the password), and malloc's pages where the platform has no MADV_HUGEPAGE.
"""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _argon2_cffi_bindings import ffi
from argon2.low_level import Type, hash_secret_raw

from pycontainer import argon2_memory
from pycontainer.format import keyschedule
from pycontainer.format.primitives import ARGON2_VERSION, KEY_SIZE, Argon2Params

linux = pytest.mark.skipif(
    not hasattr(mmap, "MADV_HUGEPAGE") or not Path("/proc/self/smaps").exists(),
    reason="huge-page advice and /proc/self/smaps are Linux's",
)

CASES = [
    Argon2Params(m=8192, t=1, p=1),
    Argon2Params(m=8200, t=2, p=3),
    Argon2Params(m=65536, t=3, p=4),  # the default
]


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


@pytest.mark.parametrize("params", CASES, ids=lambda a: f"m{a.m}-t{a.t}-p{a.p}")
def test_same_bytes_as_argon2_cffi(params: Argon2Params) -> None:
    secret, salt = os.urandom(64), os.urandom(16)
    expected = hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=params.t,
        memory_cost=params.m,
        parallelism=params.p,
        hash_len=KEY_SIZE,
        type=Type.ID,
        version=ARGON2_VERSION,
    )
    with argon2_memory.blocks() as memory:
        assert keyschedule.stretch(secret, salt, params, memory) == expected
    assert keyschedule.stretch(secret, salt, params) == expected  # malloc's pages


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


def test_no_memory_is_the_clear_error() -> None:
    # mmap refused under an address-space limit: libargon2 sees no block pointer and the
    # caller gets the same ContainerError and hint as with malloc (test_keyschedule_argon2).
    child = textwrap.dedent(
        """
        import resource
        from pycontainer import argon2_memory
        from pycontainer.errors import ContainerError
        from pycontainer.format import keyschedule
        from pycontainer.format.primitives import ARGON2_M_MAX, Argon2Params

        limit = 768 << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            with argon2_memory.blocks() as memory:
                params = Argon2Params(m=ARGON2_M_MAX, t=1, p=1)
                keyschedule.stretch(bytes(64), bytes(16), params, memory)
        except ContainerError as exc:
            print(type(exc).__name__, exc, "|", exc.hint)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == (
        "ContainerError not enough memory for the password's Argon2id (1024 MiB) | "
        "close other programs and try again, or use a computer with more memory"
    )
    assert proc.stderr == ""  # nothing printed from inside the callback


def test_an_interrupt_in_the_allocation_is_raised_after_libargon2_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C arriving while the callback runs Python cannot cross into C: it must come
    # out of the call as itself, not as "not enough memory".
    def interrupted(*_args: object, **_kwargs: object) -> mmap.mmap:
        raise KeyboardInterrupt

    monkeypatch.setattr(mmap, "mmap", interrupted)
    with pytest.raises(KeyboardInterrupt), argon2_memory.blocks() as memory:
        keyschedule.stretch(bytes(64), bytes(16), CASES[0], memory)


def test_without_madv_hugepage_libargon2_mallocs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows and macOS have no MADV_HUGEPAGE (nor MAP_PRIVATE on Windows).
    monkeypatch.delattr(mmap, "MADV_HUGEPAGE", raising=False)
    secret, salt = os.urandom(64), os.urandom(16)
    with argon2_memory.blocks() as memory:
        assert memory is None
        got = keyschedule.stretch(secret, salt, CASES[0], memory)
    assert got == keyschedule.stretch(secret, salt, CASES[0])
