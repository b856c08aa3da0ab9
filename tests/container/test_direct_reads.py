"""Big files not in the page cache are read around it; everything else through it.

(pycontainer/_engine/direct.py.) Real files on a real disk-backed file system, real
``O_DIRECT`` reads: the page cache is emptied for a file with fsync and
``POSIX_FADV_DONTNEED``, and whether the reads went around it is read back from the cache
itself with ``mincore(2)`` on a mapping of the file. A file read through the cache is in it
afterwards; one read directly is not.

Why mincore and not an ``RWF_NOWAIT`` read of one byte (what direct.py asked until the
tenth session, and now asks mincore too): such a read of a page that is not cached starts
reading it, and if the test's thread is preempted before the read looks again, the page is
there and the probe answers "cached" about a page it brought in itself. A test that probed
four pages after a seal failed once that way under load (a page at 1/8 of the file
"cached"); mincore only looks. The same goes for the eviction: it is checked page by page,
not assumed.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
from pathlib import Path

import pytest

from pycontainer._engine.direct import ALIGN, MIN_SIZE, open_direct, read_span
from pycontainer._engine.writeback import _memory_fs
from pycontainer.errors import FormatError, InputError, PayloadError
from pycontainer.format import archive
from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import read_header
from tests.support import requirements
from tests.support.container import Kit

CHUNK_LOG2 = 16  # 64 KiB chunks: many chunks in a file just above MIN_SIZE
BIG = MIN_SIZE + 3 * 65536 + 5  # not a multiple of ALIGN: a buffered tail after the direct part


def _direct_capable(directory: Path) -> bool:
    probe = directory / "probe"
    probe.write_bytes(b"x" * ALIGN)
    try:
        fd = os.open(probe, os.O_RDONLY | getattr(os, "O_DIRECT", 0))
    except OSError:
        return False
    try:
        return not _memory_fs(os.fstat(fd).st_dev) and hasattr(os, "RWF_NOWAIT")
    finally:
        os.close(fd)
        probe.unlink()


@pytest.fixture
def disk(disk_tmp_path: Path) -> Path:
    """A directory on a file system with a disk behind it and O_DIRECT (tests/conftest.py's
    disk_tmp_path: tmp_path may be on tmpfs, which has no O_DIRECT)."""
    if sys.platform != "linux":
        requirements.missing("Linux (O_DIRECT, RWF_NOWAIT)", "run this test on Linux")
    if not _direct_capable(disk_tmp_path):
        requirements.missing(
            "a disk-backed temporary directory with O_DIRECT",
            "set TMPDIR to a directory on a disk (ext4, XFS, ...)",
        )
    return disk_tmp_path


def _resident(path: Path) -> list[bool]:
    """Whether each page of the file is in the page cache (mincore(2); starts no read)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vec = (ctypes.c_ubyte * pages)()
    with path.open("rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as m:
        # A private mapping that is never written: its pages are the file's cached ones.
        anchor = ctypes.c_char.from_buffer(m)
        try:
            if libc.mincore(ctypes.addressof(anchor), size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
        finally:
            del anchor
    return [bool(v & 1) for v in vec]


def _evict(path: Path) -> None:
    """Write the file's pages back, then drop them from the page cache, checked."""
    for _ in range(10):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        # DONTNEED skips a page that something holds at that moment (reclaim or
        # compaction on a busy machine): the precondition of these tests, so try again.
        if not any(_resident(path)):
            return
    pytest.fail(f"{path} stays in the page cache")


def _cached(path: Path, offset: int) -> bool:
    return _resident(path)[offset // mmap.PAGESIZE]


def _cold_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    _evict(path)
    return data


# Away from the middle (open_direct's one-byte probe reads the page there) and from the
# start and the end (the container's header, index and tail are read through the cache).
def _offsets(size: int) -> list[int]:
    return [size // 8, size // 4, 3 * size // 8, 5 * size // 8]


def test_a_cold_big_file_is_sealed_around_the_cache(kit: Kit, disk: Path) -> None:
    src = disk / "big.bin"
    data = _cold_file(src, BIG)
    out = disk / "c.rwc"
    kit.seal([src], out, chunk_log2=CHUNK_LOG2)
    assert [_cached(src, o) for o in _offsets(BIG)] == [False] * 4
    with kit.open(out) as c:
        c.extract(disk / "x")
    assert (disk / "x" / "big.bin").read_bytes() == data


class _ShrinkingServer:
    """The real in-process key server, shrinking a file at the key release (before any read)."""

    def __init__(self, kit: Kit, victim: Path) -> None:
        self._kit = kit
        self._victim = victim

    def evaluate(self, slot: SlotInfo, blinded: bytes) -> Evaluation:
        os.truncate(self._victim, BIG // 2)
        return self._kit.ks.evaluate(slot, blinded)


def test_a_cold_big_file_that_shrinks_fails_the_seal_through_the_read_ahead(
    kit: Kit, disk: Path
) -> None:
    src = disk / "big.bin"
    _cold_file(src, BIG)
    out = disk / "c.rwc"
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(InputError, match="changed while it was being sealed"):
        kit.seal([src], out, chunk_log2=CHUNK_LOG2, key_server=_ShrinkingServer(kit, src))
    assert not out.exists()
    assert kit.leftovers(disk) == []
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert [t for t in threading.enumerate() if t.name == "rwc-read-ahead"] == []


def test_a_cached_or_small_file_is_read_through_the_cache(disk: Path) -> None:
    warm = disk / "warm.bin"
    warm.write_bytes(os.urandom(BIG))  # just written: in the cache (dirty)
    small = disk / "small.bin"
    _cold_file(small, MIN_SIZE - 1)
    cold = disk / "cold.bin"
    _cold_file(cold, BIG)
    found = {}
    for f in (warm, small, cold):
        fd = os.open(f, os.O_RDONLY)
        try:
            twin = open_direct(fd, f.stat().st_size)
            found[f.name] = twin is not None
            if twin is not None:
                twin.close()
        finally:
            os.close(fd)
    assert found == {"warm.bin": False, "small.bin": False, "cold.bin": True}


@pytest.mark.parametrize(("before", "direct"), [(3, False), (ALIGN, True)])
def test_a_big_file_after_another_is_read_directly_only_if_aligned(
    kit: Kit, disk: Path, before: int, direct: bool
) -> None:
    # Files are sealed in name order; the big one starts `before` bytes into the plaintext.
    first = disk / "a.bin"
    first.write_bytes(os.urandom(before))
    src = disk / "b.bin"
    data = _cold_file(src, BIG)
    out = disk / "c.rwc"
    kit.seal([first, src], out, chunk_log2=CHUNK_LOG2)
    assert [_cached(src, o) for o in _offsets(BIG)] == [not direct] * 4
    with kit.open(out) as c:
        assert c.open_entry("b.bin").read() == data


def test_a_cold_big_container_is_read_around_the_cache(kit: Kit, disk: Path) -> None:
    src = disk / "big.bin"
    data = os.urandom(BIG)
    src.write_bytes(data)
    out = disk / "c.rwc"
    kit.seal([src], out, chunk_log2=CHUNK_LOG2)
    size = out.stat().st_size
    _evict(out)
    with kit.open(out) as c:
        c.extract(disk / "x")
        assert [_cached(out, o) for o in _offsets(size)] == [False] * 4
    assert (disk / "x" / "big.bin").read_bytes() == data
    _evict(out)
    with kit.open(out) as c:
        streamed = b"".join(bytes(v) for v in c.open_entry("big.bin").views())
        assert [_cached(out, o) for o in _offsets(size)] == [False] * 4
    assert streamed == data


def test_a_tampered_chunk_read_directly_fails_and_extracts_nothing(kit: Kit, disk: Path) -> None:
    src = disk / "big.bin"
    src.write_bytes(os.urandom(BIG))
    out = disk / "c.rwc"
    kit.seal([src], out, chunk_log2=CHUNK_LOG2)
    size = out.stat().st_size
    at = read_header(out).header_length + (size - read_header(out).header_length) // 2
    with out.open("r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 1]))
    _evict(out)
    with kit.open(out) as c, pytest.raises(PayloadError):
        c.extract(disk / "x")
    assert not (disk / "x").exists() or not any((disk / "x").iterdir())
    _evict(out)
    with kit.open(out) as c, pytest.raises(PayloadError):
        for _ in c.open_entry("big.bin").views():
            pass


def test_a_refused_direct_read_turns_direct_reads_off_and_reads_buffered(disk: Path) -> None:
    src = disk / "cold.bin"
    data = _cold_file(src, BIG)
    fd = os.open(src, os.O_RDONLY)
    try:
        twin = open_direct(fd, BIG)
        assert twin is not None
        try:
            buf = memoryview(bytearray(3 * ALIGN + 1))
            # Memory one byte off any alignment: the kernel refuses the direct read
            # (EINVAL); the same bytes then come through the cache.
            assert twin.read(buf[1 : 1 + ALIGN], 0) == -1
            assert not twin.on
            got = read_span(fd, twin, buf[1:], ALIGN + 7, ALIGN)
            assert bytes(got) == data[ALIGN + 7 : 2 * ALIGN + 7]
        finally:
            twin.close()
    finally:
        os.close(fd)


def test_a_refused_big_cold_container_leaves_no_descriptor_open(kit: Kit, disk: Path) -> None:
    # A big payload whose index promises more bytes than there are: the open reads it
    # directly, then refuses the index (spec [F-DATA-SIZE]) after the twin was opened.
    out = disk / "c.rwc"
    lying = archive.encode_index([Kit.file_entry("a", BIG + 1)])
    kit.seal_raw(out, os.urandom(BIG), lying, chunk_log2=CHUNK_LOG2)
    _evict(out)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(FormatError):
        kit.open(out)
    assert sorted(os.listdir("/proc/self/fd")) == before


def _read_from_disk() -> int:
    """Bytes this thread has had read from storage (counted when the read is submitted)."""
    for line in Path("/proc/thread-self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    raise AssertionError("no read_bytes in /proc/thread-self/io")


def test_asking_whether_a_file_is_cached_reads_nothing(disk: Path) -> None:
    """The probe only looks (mincore): an RWF_NOWAIT read of a page not in the cache started
    reading it, and answered "cached" if that read finished before it looked again."""
    if not Path("/proc/thread-self/io").exists():
        requirements.missing("per-thread I/O accounting", "run on Linux with task I/O accounting")
    cold = disk / "cold.bin"
    _cold_file(cold, BIG)
    fd = os.open(cold, os.O_RDONLY)
    try:
        before = _read_from_disk()
        twin = open_direct(fd, BIG)
        assert _read_from_disk() == before  # nothing submitted to the disk
        assert twin is not None
        twin.close()
    finally:
        os.close(fd)
    assert not any(_resident(cold))
