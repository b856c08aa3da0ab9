"""Reader and writer hardening of issue 11: umask on extraction, clamped times, every bad
name listed before anything is registered, NFC names from macOS."""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer._engine import extract
from pycontainer.errors import InputError
from pycontainer.format import archive
from pycontainer.writer import check_inputs, check_stream_name

if TYPE_CHECKING:
    from tests.support.container import Kit


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_extraction_applies_the_umask(kit: Kit, tmp_path: Path, umask_027: None) -> None:
    # spec §implementation notes: mode & 0o777 & ~umask, as tar does for non-root users.
    assert extract._umask() == 0o027
    entries = [
        kit.dir_entry("open", 0o777),
        kit.file_entry("open/everyone.txt", 3, 0o666),
        kit.file_entry("implicit/parent.txt", 1, 0o644),
    ]
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"abcd", archive.encode_index(entries))
    with kit.open(c) as opened:
        opened.extract(tmp_path / "out")
    out = tmp_path / "out"
    assert stat.S_IMODE((out / "open").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "open" / "everyone.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "implicit").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "implicit" / "parent.txt").stat().st_mode) == 0o640


def test_unrepresentable_mtime_is_clamped(kit: Kit, tmp_path: Path) -> None:
    # An mtime far past what the file system stores: clamped, never a failed extraction.
    far = archive.Entry("far.txt", 1, 0o644, 2**62, 0, 1)
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"x", archive.encode_index([far]))
    with kit.open(c) as opened:
        opened.extract(tmp_path / "out")
    assert (tmp_path / "out" / "far.txt").read_bytes() == b"x"


def test_every_bad_name_is_listed_at_once(tmp_path: Path) -> None:
    d = tmp_path / "export"
    d.mkdir()
    for name in ("CON", "a:b.txt", "trailing.", "bidi\u202etxt.exe", "fine.txt", "Fine.TXT"):
        (d / name).write_bytes(b"x")
    with pytest.raises(InputError) as info:
        check_inputs([d])
    message = str(info.value)
    assert message.startswith("cannot seal: 5 names cannot be stored")
    for shown in ("'export/CON'", "'export/a:b.txt'", "'export/trailing.'", "\\u202e", "Fine"):
        assert shown in message, message
    assert info.value.hint is not None and "CON" in info.value.hint


def test_decomposed_names_are_stored_composed(kit: Kit, tmp_path: Path) -> None:
    d = tmp_path / unicodedata.normalize("NFD", "données")
    d.mkdir()
    nfd = unicodedata.normalize("NFD", "résumé.txt")
    (d / nfd).write_bytes(b"cv")
    renamed = check_inputs([d])
    assert sorted(renamed) == sorted([d.name, nfd])
    out = tmp_path / "c.rwc"
    kit.seal([d], out)
    with kit.open(out) as opened:
        assert sorted(e.path for e in opened.entries()) == ["données", "données/résumé.txt"]
        for e in opened.entries():
            assert unicodedata.is_normalized("NFC", e.path)


def test_stream_name_is_checked_before_registering() -> None:
    check_stream_name("stdin")
    with pytest.raises(InputError, match="device name"):
        check_stream_name("nul.txt")
