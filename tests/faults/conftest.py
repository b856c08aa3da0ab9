"""Fault-injection fixtures: the e2e set-up (real ``keyserver`` and ``rwc`` processes).

The e2e fixtures are re-exported, so the fault tests drive exactly the installed commands
the end-to-end tests drive, with no second copy of the set-up. Every test here is marked
``faults`` (``make faults`` runs them alone).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import h, people, shared_server, story
from tests.support.requirements import missing

__all__ = ["h", "people", "shared_server", "story"]


@contextlib.contextmanager
def tmpfs_at(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``16m``) mounted on ``mnt``: a disk that really fills up."""
    if os.geteuid() != 0:
        missing(f"root (to mount a {size} tmpfs)", "run the fault suite as root, as .ci/run does")
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def random_export(factory: pytest.TempPathFactory, count: int, size: int) -> Path:
    """A new ``export`` directory of ``count`` files ``part-N.bin`` of ``size`` random bytes.

    Random: nothing compresses or deduplicates, so what is written is the full size.
    """
    root = factory.mktemp("export") / "export"
    root.mkdir()
    for i in range(count):
        (root / f"part-{i}.bin").write_bytes(os.urandom(size))
    return root


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs."""
    with tmpfs_at(tmp_path / "mnt", "16m") as mnt:
        yield mnt
