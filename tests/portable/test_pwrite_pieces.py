"""pwrite_all in pieces (extraction, bench/profiles/disk.md): every byte lands in place.

Extraction writes a chunk at most 64 KiB per call; the pieces must still put the whole view
at its offset, the short last piece included, and leave the bytes around it alone. Real
files, the platform's own pwrite (and its fallback in test_hidden_posix.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycontainer import _portable

PIECE = 64 * 1024


@pytest.mark.parametrize("piece", [None, PIECE])
@pytest.mark.parametrize("length", [1, PIECE, PIECE + 1, 16 * PIECE + 16])
def test_pwrite_all_puts_every_byte_at_its_offset(
    tmp_path: Path, length: int, piece: int | None
) -> None:
    data = os.urandom(length)
    around = b"\xaa" * (length + 10)
    target = tmp_path / "f"
    target.write_bytes(around)
    fd = os.open(target, os.O_WRONLY)
    try:
        _portable.pwrite_all(fd, memoryview(data), 3, piece=piece)
    finally:
        os.close(fd)
    assert target.read_bytes() == around[:3] + data + around[3 + length :]
