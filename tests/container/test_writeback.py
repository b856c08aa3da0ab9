"""Early writeback advice: given for files on a disk, skipped on memory file systems;
and the write size that goes with it (64 KiB pieces on a disk, whole chunks elsewhere).

(pycontainer/_engine/writeback.py.) The advice is real; only the call is counted. Which
file system a directory is on is read here from /proc/self/mounts by mount point, a second
source next to the module's /proc/self/mountinfo lookup by device number.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from pycontainer._engine.writeback import WRITE_PIECE, Writeback

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
