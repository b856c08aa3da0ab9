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
from pycontainer._engine.writeback import WRITE_PIECE, Writeback
from tests.support.container import Kit

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


def test_sealing_and_extraction_on_a_disk_write_in_pieces(disk_tmp_path: Path) -> None:
    """The whole path on a disk file system: seal, extract, every byte back.

    tmp_path is on tmpfs when the machine has room (tests/conftest.py), where the writer and
    the extraction write whole chunks; this run takes the disk's path (advice, 64 KiB
    pieces) that a user's USB stick or disk takes.
    """
    probe = disk_tmp_path / "probe"
    with probe.open("wb") as f:
        assert Writeback(f.fileno()).piece == WRITE_PIECE == PIECE  # the case is what it says
    kit = Kit()
    src = disk_tmp_path / "src"
    src.mkdir()
    # Several 64 KiB pieces per chunk, a short last piece, a file across chunks.
    data = os.urandom(3 * PIECE * 4 + 17)
    (src / "data.bin").write_bytes(data)
    out = disk_tmp_path / "c.rwc"
    kit.seal([src], out, chunk_log2=18)
    with kit.open(out) as c:
        c.extract(disk_tmp_path / "x")
    assert (disk_tmp_path / "x" / "src" / "data.bin").read_bytes() == data
