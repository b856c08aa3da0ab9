"""Fault-injection fixtures: the e2e set-up (real ``keyserver`` and ``rwc`` processes).

The e2e fixtures are re-exported, so the fault tests drive exactly the installed commands
the end-to-end tests drive, with no second copy of the set-up. Every test here is marked
``faults`` (``make faults`` runs them alone).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import h, people, shared_server, story
from tests.support.requirements import missing

__all__ = ["h", "people", "shared_server", "story"]


def mount_tmpfs(mnt: Path, size: str) -> None:
    """Mount a tmpfs of ``size`` (e.g. ``16m``) on ``mnt``: a disk that really fills up."""
    if os.geteuid() != 0:
        missing(f"root (to mount a {size} tmpfs)", "run the fault suite as root, as .ci/run does")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], check=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mount_tmpfs(mnt, "16m")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``faults``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.faults)
