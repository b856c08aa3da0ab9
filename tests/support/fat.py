"""A file system without hard links or O_TMPFILE (FAT/exFAT USB sticks), for the one publish.

Forced by making both fail as FAT makes them fail, so that the checked-rename fallback of
pycontainer/_engine/staging.py runs here; shared by the tests of both commands.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from pycontainer._engine import staging


def pretend_fat(monkeypatch: pytest.MonkeyPatch) -> None:
    """No O_TMPFILE (no /proc link to follow) and link() refused as FAT refuses it."""
    monkeypatch.setattr(staging, "_PROC_FD", Path("/nonexistent"))

    def no_link(*_a: Any, **_k: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
