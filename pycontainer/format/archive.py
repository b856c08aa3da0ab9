"""The payload index: entries, their canonical encoding, and the path-safety rules.

I/O-free. The reader decodes the index only after the chunks holding it authenticated,
but an authentic index can still come from a malicious sealer, so every path is checked
before anything is extracted.

Spec anchors: spec/format.md §index, §paths, §payload (trailer).
"""

# No `from __future__ import annotations` here: it makes a NamedTuple's field types strings,
# which typing compiles, and the process's first compile() costs ~10 M instructions of a
# small `rwc cat` (issue 15, bench/profiles/startup.md; tests/cli/test_lazy_imports.py).

import bisect
import functools
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pycontainer.errors import FormatError, ReaderLimitError, UnsafePathError
from pycontainer.format import primitives as p

# spec §index: kind u8 | mode u16 | mtime_s i64 | mtime_ns u32 | path_length u16.
_ENTRY_HEAD = struct.Struct(">BHqIH")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
INDEX_MIN = _U32.size  # spec [F-TRAILER]: an empty index is its entry_count alone


# A NamedTuple, not a frozen dataclass (~3.7 M instructions to define, issue 15) nor a
# record (pycontainer/_record.py: ~0.1 M to define, but its generic __init__ costs ~4 us per
# instance against ~0.4 us, and an index has one Entry per file).
class Entry(NamedTuple):
    """One file or directory of a container.

    Attributes:
        path: Relative '/'-separated path (NFC).
        kind: ``ENTRY_FILE`` (1) or ``ENTRY_DIR`` (2).
        mode: Permission bits (<= 0o777).
        mtime_s: Modification time, whole seconds since the epoch (may be negative).
        mtime_ns: Nanoseconds part of the modification time (< 10**9).
        size: Content bytes (0 for directories).
        offset: Where the content starts in the payload plaintext (implicit in the format).
    """

    path: str
    kind: int
    mode: int
    mtime_s: int
    mtime_ns: int
    size: int
    offset: int = 0

    @property
    def is_dir(self) -> bool:
        """True for a directory entry."""
        return self.kind == p.ENTRY_DIR

    @property
    def is_file(self) -> bool:
        """True for a regular-file entry."""
        return self.kind == p.ENTRY_FILE

    @property
    def mtime_total_ns(self) -> int:
        """The modification time in nanoseconds since the epoch."""
        return self.mtime_s * 1_000_000_000 + self.mtime_ns


def _corrupt(what: str) -> FormatError:
    return FormatError(
        f"the container index is malformed: {what}",
        hint="the container was built by a faulty or malicious tool; do not trust it",
    )


def _unsafe(path: str, what: str) -> UnsafePathError:
    return UnsafePathError(
        f"the container holds an unsafe path {path!r}: {what}",
        hint="the container was built by a faulty or malicious tool; nothing was extracted",
        path=path,
        reason=what,
    )


def encode_index(entries: Sequence[Entry]) -> bytes:
    """Encode the index canonically (offsets are implicit and not encoded).

    Raises:
        FormatError: An entry breaks a field rule (the paths are checked by the caller with
            :func:`check_paths`).
    """
    if len(entries) > p.ENTRY_COUNT_MAX:
        raise _corrupt("too many entries")
    parts = [_U32.pack(len(entries))]
    for e in entries:
        raw = e.path.encode("utf-8")
        _check_fields(e.kind, e.mode, e.mtime_ns, len(raw), e.size)
        try:
            parts.append(_ENTRY_HEAD.pack(e.kind, e.mode, e.mtime_s, e.mtime_ns, len(raw)))
        except struct.error as exc:
            raise _corrupt("a field is out of range") from exc
        parts.append(raw)
        parts.append(_U64.pack(e.size))
    return b"".join(parts)


def _check_fields(kind: int, mode: int, mtime_ns: int, path_len: int, size: int) -> None:
    if kind not in (p.ENTRY_FILE, p.ENTRY_DIR):  # spec [F-ENTRY-KIND]
        raise _corrupt("unknown entry kind")
    # spec [F-ENTRY-MODE]: permission bits only; setuid/setgid/sticky are never stored.
    if mode & ~p.MODE_MASK:
        raise _corrupt("mode has bits beyond 0o777")
    if not 0 <= mtime_ns < p.MTIME_NS_LIMIT:  # spec [F-ENTRY-MTIME]
        raise _corrupt("mtime nanoseconds out of range")
    if not 1 <= path_len <= p.PATH_MAX:  # spec [F-ENTRY-PATH-LENGTH]
        raise _corrupt("path length out of range")
    if kind == p.ENTRY_DIR and size != 0:  # spec [F-DIR-SIZE]
        raise _corrupt("a directory has a size")
    if not 0 <= size < 1 << 64:
        raise _corrupt("size out of range")


def decode_index(
    data: bytes | memoryview,
    *,
    max_entries: int = p.ENTRY_COUNT_MAX,
    data_length: int | None = None,
) -> list[Entry]:
    """Decode the index strictly and check every path, in the order of spec §reading step 5.

    All index rules come first (the fields of every entry, in index order, then
    [F-INDEX-LENGTH] and [F-DATA-SIZE]); the path rules only after them, so an index with
    both kinds of fault is a format error in every reader.

    Args:
        data: Exactly the index bytes.
        max_entries: Reader limit on the entry count (at most the spec bound).
        data_length: The length of the data before the index; when given, the sizes must
            add up to it ([F-DATA-SIZE]).

    Returns:
        The entries with their offsets filled in.

    Raises:
        FormatError: Malformed or non-canonical index.
        ReaderLimitError: More entries than ``max_entries`` (but within the spec bound).
        UnsafePathError: A path breaks a safety rule.
    """
    view = memoryview(data)
    if len(view) < _U32.size:
        raise _corrupt("index too short")
    (count,) = _U32.unpack_from(view, 0)
    # spec [F-INDEX-COUNT]: bound the count before building anything; an entry is >= 25 bytes.
    if count > p.ENTRY_COUNT_MAX:
        raise _corrupt("entry count out of range")
    if count > max_entries:  # spec [F-READER-LIMIT]
        raise ReaderLimitError(
            f"the container lists {count} entries, more than this reader allows ({max_entries})",
            hint="raise the reader's entry limit if you trust the sender",
        )
    min_entry = _ENTRY_HEAD.size + 1 + _U64.size
    if count * min_entry > len(view) - 4:  # spec [F-INDEX-LENGTH]: cannot fit
        raise _corrupt("index truncated")
    pos = _U32.size
    raw_entries: list[tuple[bytes, int, int, int, int, int]] = []
    for _ in range(count):
        if pos + _ENTRY_HEAD.size > len(view):  # spec [F-INDEX-LENGTH]
            raise _corrupt("index truncated")
        kind, mode, mtime_s, mtime_ns, plen = _ENTRY_HEAD.unpack_from(view, pos)
        pos += _ENTRY_HEAD.size
        if pos + plen + _U64.size > len(view):
            raise _corrupt("index truncated")
        raw = bytes(view[pos : pos + plen])
        pos += plen
        (size,) = _U64.unpack_from(view, pos)
        pos += _U64.size
        _check_fields(kind, mode, mtime_ns, plen, size)
        raw_entries.append((raw, kind, mode, mtime_s, mtime_ns, size))
    # spec [F-INDEX-LENGTH]: canonical means no bytes after the last entry.
    if pos != len(view):
        raise _corrupt("unexpected bytes after the last entry")
    if data_length is not None:
        _check_data_size((e[5] for e in raw_entries), data_length)
    # Only now the paths (spec §reading step 5: index rules before path rules).
    entries: list[Entry] = []
    offset = 0
    for raw, kind, mode, mtime_s, mtime_ns, size in raw_entries:
        try:
            path = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Refused per spec [F-PATH-UTF8].
            raise _unsafe(raw.decode("utf-8", "replace"), "not valid UTF-8") from None
        entries.append(Entry(path, kind, mode, mtime_s, mtime_ns, size, offset))
        offset += size
    check_entries(entries)
    return entries


def _check_data_size(sizes: Iterable[int], data_length: int) -> None:
    total = 0
    for size in sizes:
        total += size
        # spec [F-DATA-SIZE]: stop as soon as the sum exceeds the data (no overflow games).
        if total > data_length:
            break
    if total != data_length:
        raise _corrupt("the entry sizes do not add up to the payload's data length")


# spec §paths: the Unicode version every Unicode-dependent path rule is pinned to.
UNICODE_PIN = "14.0.0"
# spec [F-PATH-WINDOWS-CHAR]: characters Windows refuses in a name.
_WINDOWS_CHARS = frozenset('<>:"|?*')
# spec [F-PATH-WINDOWS-NAME]: device names, whatever the extension and case.
# A component whose part before the first "." is a device name, trailing spaces removed,
# compared ASCII-case-insensitively (spec [F-PATH-WINDOWS-NAME]).
_DEVICE_PATTERN = (
    r"(?:^|/)(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3])"
    r" *(?:\.[^/]*)?(?=/|$)"
)
# Every device name begins with one of these, in some ASCII case, so a path without any of
# them (lower-cased: which only adds ASCII letters) has no device component, and the
# expression is compiled for the first path that has one: ~1.3 M instructions of sre's
# Python compiler that most runs never need (issue 15, bench/profiles/startup.md).
_DEVICE_STEMS = ("con", "prn", "aux", "nul", "com", "lpt")


@functools.cache
def _device_expression() -> re.Pattern[str]:
    return re.compile(_DEVICE_PATTERN, re.ASCII | re.IGNORECASE)


def _device_component(path: str) -> str | None:
    """The first component that is a device name (spec [F-PATH-WINDOWS-NAME]), or None."""
    lowered = path.lower()
    if not any(stem in lowered for stem in _DEVICE_STEMS):
        return None
    found = _device_expression().search(path)
    return None if found is None else found.group()


# The next two rules with str methods, their expressions in the docstrings (tests/container/
# test_paths.py compares them): each expression compiled at import cost every reader's run
# ~0.3 M instructions (issue 15).
def _has_dot_component(path: str) -> bool:
    r"""Whether a component is "." or ".." (``(?:^|/)\.\.?(?=/|$)``; spec [F-PATH-DOT])."""
    wrapped = f"/{path}/"  # each component between two slashes
    return "/./" in wrapped or "/../" in wrapped


def _has_trailing_dot_or_space(path: str) -> bool:
    r"""Whether a component ends with "." or " " (``[. ](?=/|$)``)."""
    return path.endswith((".", " ")) or "./" in path or " /" in path


# An expression still: one scan finds the first control or Windows character, the one the
# error names (str methods would take a search per character).
_ASCII_BAD = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# spec [F-PATH-FORMAT]: invisible or reordering characters (Cf: U+202E, U+200B, BOM...) and
# the line and paragraph separators make a name look like another one.
_FORMAT_CATEGORIES = frozenset(["Cf", "Zl", "Zp"])


def check_path(path: str) -> None:
    """Check one archive path against the rules of spec §paths, in the spec's order.

    Linear in the length of the path.

    Raises:
        UnsafePathError: The path is unsafe.
    """
    raw = path.encode("utf-8", "surrogatepass")
    if not 1 <= len(raw) <= p.PATH_MAX:
        raise _unsafe(path, "empty or too long")
    # Surrogates only come from undecodable file names; they are not valid UTF-8.
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:  # spec [F-PATH-UTF8]
            raise _unsafe(path, "not valid UTF-8") from None
    if path.startswith("/"):  # spec [F-PATH-ABSOLUTE]
        raise _unsafe(path, "absolute path")
    if "\\" in path:  # spec [F-PATH-BACKSLASH]
        raise _unsafe(path, "contains a backslash")
    # ASCII names (the common case) need no Unicode database: controls and the Windows
    # characters are found by one regex scan; the per-character loop is for the rest.
    if path.isascii():
        bad = _ASCII_BAD.search(path)
        if bad is not None and bad.group() in _WINDOWS_CHARS:  # spec [F-PATH-WINDOWS-CHAR]
            raise _unsafe(path, f"contains {bad.group()!r}, which Windows does not allow in a name")
        if bad is not None:  # spec [F-PATH-NUL], [F-PATH-CONTROL]
            raise _unsafe(path, "contains a control character")
    for ch in () if path.isascii() else path:
        cat = unicodedata.category(ch)
        # spec [F-PATH-NUL], [F-PATH-CONTROL]: every control character (category Cc).
        if cat == "Cc":
            raise _unsafe(path, "contains a control character")
        if cat in _FORMAT_CATEGORIES:  # spec [F-PATH-FORMAT]
            raise _unsafe(path, f"contains the invisible character U+{ord(ch):04X}")
        # spec [F-PATH-UNASSIGNED]: unassigned in the pinned Unicode version, so that NFC and
        # case folding give the same answer in every reader. unicodedata is that version's
        # database on Python 3.11 (UNICODE_PIN; a test fails on any other).
        if cat == "Cn":
            raise _unsafe(path, f"contains U+{ord(ch):04X}, unassigned in Unicode 14.0")
        if ch in _WINDOWS_CHARS:  # spec [F-PATH-WINDOWS-CHAR]
            raise _unsafe(path, f"contains {ch!r}, which Windows does not allow in a name")
    if not unicodedata.is_normalized("NFC", path):  # spec [F-PATH-NFC]
        raise _unsafe(path, "not in Unicode NFC form")
    # Component rules as scans over the whole path (no per-component Python loop: a
    # 4096-byte path may have 2048 components).
    if "//" in path or path.endswith("/"):  # spec [F-PATH-EMPTY-COMPONENT]
        raise _unsafe(path, "empty path component")
    if _has_dot_component(path):  # spec [F-PATH-DOT]
        raise _unsafe(path, "'.' or '..' component")
    # spec [F-PATH-COMPONENT]: at most 255 bytes of UTF-8 each.
    if len(raw) > p.COMPONENT_MAX and any(len(c) > p.COMPONENT_MAX for c in raw.split(b"/")):
        raise _unsafe(path, "a component is longer than 255 bytes")
    # spec [F-PATH-WINDOWS-NAME]: Windows strips a trailing dot or space (another file
    # would be written) and maps device names to devices.
    if _has_trailing_dot_or_space(path):
        raise _unsafe(path, "a name ends with a dot or a space (not possible on Windows)")
    device = _device_component(path)
    if device is not None:
        raise _unsafe(path, f"{device.strip('/')!r} is a device name on Windows")


def fold(path: str) -> str:
    """Return the collision key of a path: NFC(casefold(NFC(path))) with U+0131 as 'i'.

    Two paths with the same key would land on the same file on a case-insensitive or
    normalising file system (macOS, Windows, FAT USB sticks). Windows upper-cases the
    dotless i (U+0131) to 'I', which case folding does not (spec [F-PATH-CASEFOLD]).
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())
    return folded.replace("\u0131", "i")


def check_entries(entries: Iterable[Entry]) -> None:
    """Check every path and the relations between them (spec §paths).

    Near-linear in the total length of the paths, whatever their depth: no prefix of a
    path is ever built (a 4096-byte path of 2048 components used to cost 2048 joins of
    growing prefixes); the parent relation is one binary search per file.

    Raises:
        UnsafePathError: A path is unsafe, duplicated, collides after NFC+casefold, or has a
            file as one of its parents (the first in the order of spec §paths).
    """
    problems = unsafe_entries(entries, first_only=True)
    if problems:
        raise problems[0]


def unsafe_entries(entries: Iterable[Entry], *, first_only: bool = False) -> list[UnsafePathError]:
    """Every path problem of ``entries``, in the order of spec §paths (a writer lists them all).

    The rules of each single path first (entries in order), then duplicates and fold
    collisions among the paths that passed, then files used as parents.
    """
    problems: list[UnsafePathError] = []
    valid: list[Entry] = []
    for e in entries:
        try:
            check_path(e.path)
        except UnsafePathError as exc:
            problems.append(exc)
            if first_only:
                return problems
        else:
            valid.append(e)
    seen: dict[str, Entry] = {}
    for e in valid:
        key = fold(e.path)
        other = seen.get(key)
        if other is None:
            seen[key] = e
            continue
        # spec [F-PATH-DUPLICATE] and [F-PATH-CASEFOLD]: the same name, or the same fold.
        if other.path == e.path:
            problems.append(_unsafe(e.path, "appears twice"))
        else:
            problems.append(_unsafe(e.path, f"collides with {other.path!r} (case or Unicode form)"))
        if first_only:
            return problems
    # spec [F-PATH-FILE-PARENT]: extraction would otherwise write through a file. In the
    # sorted folds, the first one >= f + "/" starts with f + "/" exactly when any does, so
    # one binary search per file decides (no prefix of any path is ever built).
    ordered = sorted(seen)
    for key, e in seen.items():
        if not e.is_file:
            continue
        below = key + "/"
        i = bisect.bisect_left(ordered, below)
        if i < len(ordered) and ordered[i].startswith(below):
            child = seen[ordered[i]]
            problems.append(_unsafe(child.path, f"its parent {e.path!r} is a file"))
            if first_only:
                return problems
    return problems


def encode_trailer(index_length: int) -> bytes:
    """Encode the 8-byte trailer (index_length u64)."""
    return _U64.pack(index_length)


def decode_trailer(data: bytes | memoryview) -> int:
    """Decode the trailer.

    Raises:
        FormatError: Not 8 bytes.
    """
    if len(data) != p.TRAILER_SIZE:
        raise _corrupt("trailer has the wrong size")
    return int(_U64.unpack(data)[0])
