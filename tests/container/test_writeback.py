"""Early writeback advice: given for files on a disk, skipped on memory file systems;
and the write size that goes with it (64 KiB pieces on a disk, whole chunks elsewhere).

(pycontainer/_engine/writeback.py.) The advice is real; only the call is counted. Which
file system a directory is on is read here from /proc/self/mounts by mount point, a second
source next to the module's /proc/self/mountinfo lookup by device number.
"""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from pycontainer import _portable, writer
from pycontainer._engine import extract
from pycontainer._engine.direct import _cached
from pycontainer._engine.writeback import WRITE_PIECE, Writeback
from tests.support.container import Kit

MEMORY = {"tmpfs", "ramfs"}


def _mounts() -> dict[str, str]:
    """Mount point -> file system type (the last mount of a point wins, as it hides the rest)."""
    out: dict[str, str] = {}
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            _dev, point, fstype, *_ = line.split(" ")
            out[point.replace("\\040", " ")] = fstype
    return out


def _fs_of(path: Path) -> str:
    mounts = _mounts()
    for p in (path, *path.parents):
        if str(p) in mounts and os.path.ismount(p):
            return mounts[str(p)]
    return mounts["/"]


CASES = (
    {
        d: _fs_of(Path(d))
        for d in ("/dev/shm", tempfile.gettempdir(), "/var/tmp")
        if Path(d).is_dir()
    }
    if sys.platform == "linux"
    else {}
)


@pytest.mark.parametrize(("directory", "fstype"), sorted(CASES.items()))
def test_advice_only_where_there_is_a_disk(
    directory: str, fstype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", advise)
    with tempfile.TemporaryFile(dir=directory) as f:
        f.write(b"x" * 8192)
        f.flush()
        Writeback(f.fileno()).start(0, 8192)
    assert calls == ([] if fstype in MEMORY else [(0, 8192)]), fstype


@pytest.mark.parametrize(("directory", "fstype"), sorted(CASES.items()))
def test_pieces_only_where_there_is_a_disk(directory: str, fstype: str) -> None:
    with tempfile.TemporaryFile(dir=directory) as f:
        piece = Writeback(f.fileno()).piece
    assert piece == (None if fstype in MEMORY else WRITE_PIECE), fstype


def _pages_cached(fd: int, offset: int, length: int) -> int:
    """How many pages of ``[offset, offset + length)`` are in the page cache (mincore)."""
    found = [_cached(fd, at) for at in range(offset, offset + length, mmap.PAGESIZE)]
    assert None not in found, "mincore gave no answer here"
    return sum(bool(f) for f in found)


CHUNK = 1 << 20
BEHIND = 8 * CHUNK  # a test's distance: the file need not be DROP_BEHIND (1 GiB) long


@pytest.mark.skipif(sys.platform != "linux", reason="page cache advice and mincore (Linux)")
def test_written_back_ranges_are_dropped_behind_the_writes(disk_tmp_path: Path) -> None:
    """A range written back leaves the page cache once the writes are ``drop_behind`` further.

    Its pages are then reused by the next writes instead of fresh ones (writeback.py: a
    10 GiB `rwc open -C` kept all 10 GiB cached and paid for fresh pages). The first chunk
    is fsynced here, so that it is clean, deterministically, when its turn comes; the same
    advice leaves dirty pages alone, which is what the writes' own advice relies on.
    """
    fd = os.open(disk_tmp_path / "f", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        writeback = Writeback(fd, drop_behind=BEHIND)
        assert writeback.piece == WRITE_PIECE  # a disk: the advice is given
        data = memoryview(os.urandom(CHUNK))

        def write(offset: int) -> None:
            _portable.pwrite_all(fd, data, offset, piece=writeback.piece)
            writeback.start(offset, CHUNK)

        write(0)
        os.fsync(fd)  # on the disk and clean, but cached: advised while it was dirty
        assert _pages_cached(fd, 0, CHUNK) > 0
        for offset in range(CHUNK, BEHIND, CHUNK):
            write(offset)
        assert _pages_cached(fd, 0, CHUNK) > 0  # not yet far enough behind
        write(BEHIND)
        assert _pages_cached(fd, 0, CHUNK) == 0
    finally:
        os.close(fd)
    assert (disk_tmp_path / "f").read_bytes() == bytes(data) * (BEHIND // CHUNK + 1)


def _written_and_dropped(
    calls: list[tuple[int, int]],
) -> tuple[list[tuple[int, int]], Counter[tuple[int, int]]]:
    """A seal's advice split into its writes and its drops behind them.

    The writes tile the payload from its first byte (the lowest range advised: the header
    is written without advice), each range starting where the one before it ended; the
    drops are what is left (at offsets a sealed chunk's 16 bytes shift off that tiling).
    """
    left = Counter(calls)
    lengths = dict(calls)
    written, at = [], min(lengths)
    while left[at, lengths.get(at, -1)] > 0:
        written.append((at, lengths[at]))
        left[at, lengths[at]] -= 1
        at += lengths[at]
    return written, +left


@pytest.mark.skipif(sys.platform != "linux", reason="page cache advice (Linux)")
def test_extraction_and_the_seal_drop_behind_their_writes(
    disk_tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path on a disk: each range is advised as it is written and again later.

    Once as it is written (its writeback), once DROP_BEHIND bytes later (to drop it; the
    distance is shortened here so that the file need not be 1 GiB). Which pages the second
    advice drops depends on the disk's pace, so the calls are counted; the advice itself is
    real. The seal drops behind its writes too since a 10 GiB seal, its pages kept, paid
    for 10 GiB of fresh ones (writeback.py, bench/profiles/disk.md "Session 23").
    """
    calls: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_DONTNEED:
            calls.append((offset, length))
        real(fd, offset, length, advice)

    kit = Kit()
    src = disk_tmp_path / "src"
    src.mkdir()
    data = os.urandom(BEHIND + 3 * CHUNK + 17)
    (src / "data.bin").write_bytes(data)
    out = disk_tmp_path / "c.rwc"
    monkeypatch.setattr(os, "posix_fadvise", advise)
    monkeypatch.setattr(extract, "DROP_BEHIND", BEHIND)
    monkeypatch.setattr(writer, "DROP_BEHIND", BEHIND)
    kit.seal([src], out, chunk_log2=20)  # rwc's default chunk size
    sealed, calls[:] = list(calls), []
    with kit.open(out) as c:
        c.extract(disk_tmp_path / "x")
    assert (disk_tmp_path / "x" / "src" / "data.bin").read_bytes() == data
    # The seal: every write at least BEHIND bytes in is followed by the same length dropped
    # BEHIND bytes earlier, and nothing else.
    written, dropped = _written_and_dropped(sealed)
    assert sum(length for _, length in written) >= len(data)
    assert written[-1][0] + written[-1][1] == out.stat().st_size
    behind = Counter((o - BEHIND, n) for o, n in written if o >= BEHIND)
    assert dropped == behind and len(behind) >= 3
    # The extraction (page-aligned: the plaintext's chunks).
    assert calls.count((0, CHUNK)) == 2
    assert calls.count((BEHIND, CHUNK)) == 1  # not yet far enough behind the end
    tail = len(data) % CHUNK  # the last chunk's, dropped as far behind as any
    assert calls.count((len(data) - tail - BEHIND, tail)) == 1
