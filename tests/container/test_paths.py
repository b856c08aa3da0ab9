"""Authentic containers with hostile indexes: unsafe paths and lying sizes are refused and
nothing is extracted. Built with the real codec and real keys (Kit.seal_raw)."""

from __future__ import annotations

import itertools
import re
import struct
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer.errors import FormatError, ReaderLimitError, UnsafePathError
from pycontainer.format import archive
from pycontainer.format import primitives as p

if TYPE_CHECKING:
    from tests.support.container import Kit

UNSAFE = [
    ["/etc/passwd"],
    ["../escape"],
    ["a/../../escape"],
    ["a/./b"],
    ["."],
    ["a//b"],
    ["a/"],
    ["a\\..\\b"],
    ["nul\x00byte"],
    ["bell\x07"],
    ["c1\x85control"],
    ["x" * 256],
    ["cafe\u0301"],  # NFD: not NFC
    ["same", "same"],
    ["README", "readme"],  # casefold collision
    ["caf\u00e9/a", "CAF\u00c9/b", "caf\u00e9"],
    ["stra\u00dfe", "STRASSE"],  # casefold: ß -> ss
    ["file", "file/child"],  # a file as a parent
    ["dir/file", "dir/file/deeper"],
    # spec [F-PATH-FORMAT], [F-PATH-UNASSIGNED]: invisible, reordering, unassigned.
    ["invoice\u202etxt.exe"],
    ["zero\u200bwidth"],
    ["\ufeffbom"],
    ["line\u2028sep"],
    ["a\u0378"],
    ["a\U0001e030"],  # assigned in Unicode 15.0, after the pinned 14.0
    # spec [F-PATH-CASEFOLD]: Windows upper-cases the dotless i to I.
    ["f\u0131le", "FILE"],
    # spec [F-PATH-WINDOWS-CHAR], [F-PATH-WINDOWS-NAME].
    ["a:b"],
    ["why?"],
    ["CON"],
    ["nul.txt"],
    ["Com\u00b9.log"],
    ["LPT1 .txt"],
    ["aux/readme"],
    ["dot."],
    ["dir/space "],
    ["conin$"],
]


def _index(kit: Kit, paths: list[str], size: int = 1) -> tuple[bytes, bytes]:
    entries = [kit.file_entry(q, size) for q in paths]
    # encode_index checks fields, not paths: exactly what a malicious sealer could write.
    return b"x" * size * len(paths), archive.encode_index(entries)


@pytest.mark.parametrize("paths", UNSAFE, ids=repr)
def test_unsafe_paths_are_refused(kit: Kit, tmp_path: Path, paths: list[str]) -> None:
    data, index = _index(kit, paths)
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, data, index)
    with pytest.raises(UnsafePathError):
        kit.open(c)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.rwc"]


@pytest.mark.parametrize("paths", UNSAFE, ids=repr)
def test_check_entries_unit(kit: Kit, paths: list[str]) -> None:
    with pytest.raises(UnsafePathError):
        archive.check_entries([kit.file_entry(q, 0) for q in paths])


def test_safe_paths_pass(kit: Kit, tmp_path: Path) -> None:
    entries = [
        kit.dir_entry("d\u00e9j\u00e0"),
        kit.file_entry("d\u00e9j\u00e0/vu.txt", 2),
        kit.file_entry("implicit/parent/file", 1),
        kit.file_entry("x" * 255, 0),
        kit.file_entry("spaces are fine .txt", 0),
    ]
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"abc", archive.encode_index(entries))
    with kit.open(c) as opened:
        opened.extract(tmp_path / "out")
    assert (tmp_path / "out" / "d\u00e9j\u00e0" / "vu.txt").read_bytes() == b"ab"
    assert (tmp_path / "out" / "implicit" / "parent" / "file").read_bytes() == b"c"
    assert oct((tmp_path / "out" / "implicit").stat().st_mode & 0o777) == oct(0o755)


@pytest.mark.parametrize("delta", [-1, 1])
def test_sizes_must_add_up(kit: Kit, tmp_path: Path, delta: int) -> None:
    index = archive.encode_index([kit.file_entry("f", 4 + delta)])
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"abcd", index)
    with pytest.raises(FormatError, match="do not add up"):
        kit.open(c)


@pytest.mark.parametrize("index_length", [0, 5, 10**6, 2**64 - 1])
def test_lying_trailer(kit: Kit, tmp_path: Path, index_length: int) -> None:
    index = archive.encode_index([kit.file_entry("f", 4)])
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"abcd", index, index_length=index_length)
    with pytest.raises(FormatError):
        kit.open(c)


def _raw_entry(
    kind: int = 1,
    mode: int = 0o644,
    mtime_s: int = 0,
    mtime_ns: int = 0,
    path: bytes = b"f",
    size: int = 0,
) -> bytes:
    return (
        struct.pack(">BHqIH", kind, mode, mtime_s, mtime_ns, len(path))
        + path
        + struct.pack(">Q", size)
    )


@pytest.mark.parametrize(
    "index",
    [
        b"",
        struct.pack(">I", 1),
        struct.pack(">I", 2) + _raw_entry(),
        struct.pack(">I", 1) + _raw_entry() + b"\x00",  # trailing byte
        struct.pack(">I", 1) + _raw_entry(kind=3),
        struct.pack(">I", 1) + _raw_entry(mode=0o4755),
        struct.pack(">I", 1) + _raw_entry(mtime_ns=10**9),
        struct.pack(">I", 1) + _raw_entry(kind=2, size=1),
        struct.pack(">I", 1) + _raw_entry(path=b""),
        struct.pack(">I", 1) + _raw_entry(path=b"\xff\xfe"),
        struct.pack(">I", p.ENTRY_COUNT_MAX + 1),
    ],
)
def test_malformed_index_bytes(kit: Kit, tmp_path: Path, index: bytes) -> None:
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, b"", index)
    with pytest.raises(FormatError):
        kit.open(c)
    with pytest.raises(FormatError):
        archive.decode_index(index)


def test_index_roundtrip_and_offsets(kit: Kit) -> None:
    entries = [
        kit.dir_entry("d"),
        kit.file_entry("d/a", 3),
        kit.file_entry("d/b", 0),
        kit.file_entry("c", 7),
    ]
    decoded = archive.decode_index(archive.encode_index(entries))
    assert [(e.path, e.offset) for e in decoded] == [("d", 0), ("d/a", 0), ("d/b", 3), ("c", 3)]


def test_entry_limit_is_configurable(kit: Kit) -> None:
    index = archive.encode_index([kit.file_entry(f"f{i}", 0) for i in range(5)])
    with pytest.raises(ReaderLimitError, match="allows \\(4\\)"):
        archive.decode_index(index, max_entries=4)


def test_unicode_is_the_pinned_version() -> None:
    # spec §paths pins Unicode 14.0; [F-PATH-UNASSIGNED] uses unicodedata's Cn, which is only
    # that version's set on a Python whose database is 14.0 (3.11). On another Python this
    # fails until a table of the code points assigned after 14.0 is added to archive.py.
    assert unicodedata.unidata_version == archive.UNICODE_PIN


@pytest.mark.parametrize(
    "name", ["CONSOLE.txt", "com10.log", "nul_x", ".hidden", " lead", "a.b.c", "LPT"]
)
def test_names_close_to_windows_rules_pass(kit: Kit, name: str) -> None:
    archive.check_entries([kit.file_entry(name, 0)])


def test_deep_hostile_index_is_checked_component_by_component(kit: Kit) -> None:
    # spec §paths: linear in the total path length. 150 paths of 2048 one-byte components
    # (a ~600 KB index); the quadratic prefix join this replaced took seconds on it.
    deep = ["/".join([chr(0x61 + i % 26)] * 2040 + [f"f{i:03d}"]) for i in range(150)]
    entries = [kit.file_entry(q, 0) for q in deep]
    archive.check_entries(entries)
    # A file listed after a path below it, and before: both refused.
    child = kit.file_entry(deep[0] + "/x", 0)
    for pair in ([child, entries[0]], [entries[0], child]):
        with pytest.raises(UnsafePathError, match="is a file"):
            archive.check_entries(pair)


def test_name_the_file_system_refuses_is_an_unsafe_path(kit: Kit, tmp_path: Path) -> None:
    # spec [F-PATH-PLATFORM]: a valid 4096-byte path is longer than Linux's PATH_MAX once
    # it is under the extraction directory: refused by name, nothing left behind.
    long_path = "/".join(["d" * 254] * 16) + "/" + "f" * 16
    assert len(long_path.encode()) == p.PATH_MAX
    data, index = _index(kit, [long_path])
    c = tmp_path / "c.rwc"
    kit.seal_raw(c, data, index)
    with kit.open(c) as opened, pytest.raises(UnsafePathError) as info:
        opened.extract(tmp_path / "out")
    assert info.value.path.startswith("d" * 254)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.rwc"]


# Three of the path rules are checked with str methods, not their expressions (issue 15:
# sre's compiler at import), the device-name expression only where a device name's first
# letters appear: each must find what its expression finds, over every string of up to
# four pieces (device names in several cases, a superscript digit, separators, a dot, a
# space, and non-ASCII letters whose lower case is ASCII).
_PIECES = ["con", "CoN", "aux", "Nul", "prn", "COM", "lpt", "conIN$", "CONOUT$"]
_PIECES += ["1", "\u00b9", "0", "x", "/", ".", " ", "\u0130", "\u212a"]


def _strings(pieces: list[str], most: int) -> list[str]:
    return ["".join(t) for n in range(most + 1) for t in itertools.product(pieces, repeat=n)]


def test_device_component_is_its_expression() -> None:
    expression = re.compile(archive._DEVICE_PATTERN, re.ASCII | re.IGNORECASE)
    wrong = []
    for text in _strings(_PIECES, 4):
        found = expression.search(text)
        if archive._device_component(text) != (found.group() if found else None):
            wrong.append(text)
    assert wrong == []


def test_dot_and_trailing_rules_are_their_expressions() -> None:
    dot = re.compile(r"(?:^|/)\.\.?(?=/|$)")
    trailing = re.compile(r"[. ](?=/|$)")
    wrong = [
        text
        for text in _strings(["a", ".", "/", " ", ".."], 6)
        if archive._has_dot_component(text) != bool(dot.search(text))
        or archive._has_trailing_dot_or_space(text) != bool(trailing.search(text))
    ]
    assert wrong == []
