"""The one atomic publish (pycontainer/_engine/staging.py) on a file system without hard
links or O_TMPFILE (FAT/exFAT USB sticks), forced here by making both fail."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pycontainer._engine import staging
from pycontainer.errors import OutputExistsError
from tests.support.fat import pretend_fat


@pytest.fixture
def fat(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_fat(monkeypatch)


def test_fat_publish_is_a_checked_rename(fat: None, tmp_path: Path, kit: Any) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"data")
    out = tmp_path / "c.rwc"
    kit.seal([f], out)
    assert out.is_file()
    assert kit.leftovers(tmp_path) == []
    with kit.open(out) as c:
        assert [e.path for e in c.entries()] == ["f"]


def test_fat_publish_never_overwrites(fat: None, tmp_path: Path) -> None:
    out = tmp_path / "c.rwc"
    staged = staging.StagedFile(out)
    assert not staged.anonymous
    os.write(staged.fd, b"new")
    out.write_bytes(b"appeared meanwhile")
    with pytest.raises(OutputExistsError):
        staged.publish(force=False)
    assert out.read_bytes() == b"appeared meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["c.rwc"]


def test_force_replaces_atomically_both_ways(tmp_path: Path) -> None:
    for anonymous in (True, False):
        out = tmp_path / "c.rwc"
        out.write_bytes(b"old")
        staged = staging.StagedFile(out, anonymous=anonymous)
        os.write(staged.fd, b"new")
        staged.publish(force=True)
        assert out.read_bytes() == b"new"
        assert [p.name for p in tmp_path.iterdir()] == ["c.rwc"]


def test_anonymous_file_is_invisible_until_published(tmp_path: Path) -> None:
    if not staging.tmpfile_supported(tmp_path):
        pytest.skip("no O_TMPFILE on this file system")
    out = tmp_path / "c.rwc"
    staged = staging.StagedFile(out)
    os.write(staged.fd, b"secret")
    assert list(tmp_path.iterdir()) == []
    staged.publish(force=False)
    assert out.read_bytes() == b"secret"
