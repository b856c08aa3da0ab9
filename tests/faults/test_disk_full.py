"""The disk fills up during ``rwc seal`` and during ``rwc open -C``: nothing half-written stays.

A small tmpfs is the destination; what is written there does not fit. Promises checked:
the command fails with a clear error (no traceback), nothing is published at the
destination (no half container, no partial plaintext), no temporary file or staging
directory is left, and the file system's space is all given back. Figures are printed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pycontainer.cli.exits import ExitCode
from tests.faults.conftest import random_export, tmpfs_at

MIB = 1 << 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: room for the start of a 12 MiB output, not for all of it."""
    with tmpfs_at(tmp_path / "small", "4m") as mnt:
        yield mnt


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 4 MiB files of random data."""
    return random_export(tmp_path_factory, 3, 4 * MIB)


def _used(mnt: Path) -> int:
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _everything(mnt: Path) -> list[str]:
    """Every entry under ``mnt``, hidden ones included."""
    return sorted(
        os.fspath(Path(d, n).relative_to(mnt))
        for d, dirs, files in os.walk(mnt)
        for n in dirs + files
    )


def _seal(story: Any, payload: Path, out: Path) -> subprocess.CompletedProcess[bytes]:
    return story.seal_as_writer([payload], out, extra=["--no-medium"])  # type: ignore[no-any-return]


def _failed_clearly(proc: subprocess.CompletedProcess[bytes], what: str) -> str:
    err = proc.stderr.decode(errors="replace")
    print(f"\n[faults] {what}: exit {proc.returncode}: {err.strip().splitlines()[:2]}")
    assert proc.returncode == ExitCode.ERROR, err  # not usage (2), not a refusal (3-10)
    assert "Traceback" not in err
    assert "space" in err.lower(), err
    return err


def test_seal_onto_a_full_disk_leaves_nothing(
    story: Any, h: ModuleType, payload: Path, small_disk: Path
) -> None:
    before = _used(small_disk)
    out = small_disk / "export.rwc"
    _failed_clearly(_seal(story, payload, out), "seal onto a 4 MiB disk")
    assert not out.exists()
    assert _everything(small_disk) == []
    assert _used(small_disk) == before
    # The same seal elsewhere works: the failure was the disk, not the command.
    h.expect(_seal(story, payload, story.work / "export.rwc"), 0)


def test_extract_onto_a_full_disk_leaves_nothing(
    story: Any, h: ModuleType, payload: Path, small_disk: Path
) -> None:
    container = story.work / "export.rwc"
    h.expect(_seal(story, payload, container), 0)
    before = _used(small_disk)
    dest = small_disk / "out"
    proc = story.open_as_reader(container, dest)
    _failed_clearly(proc, "open -C onto a 4 MiB disk")
    assert not dest.exists()
    assert _everything(small_disk) == []
    assert _used(small_disk) == before
