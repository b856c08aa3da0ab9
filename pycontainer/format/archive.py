"""The payload index: entries, their canonical encoding, and the path-safety rules.

I/O-free. The reader decodes the index only after the chunks holding it authenticated,
but an authentic index can still come from a malicious sealer, so every path is checked
before anything is extracted.

Spec anchors: spec/format.md §index, §paths, §payload (trailer).
"""

from __future__ import annotations

import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pycontainer.errors import FormatError, UnsafePathError
from pycontainer.format import primitives as p

# spec §index: kind u8 | mode u16 | mtime_s i64 | mtime_ns u32 | path_length u16.
_ENTRY_HEAD = struct.Struct(">BHqIH")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class Entry:
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


def decode_index(data: bytes | memoryview, *, max_entries: int = p.ENTRY_COUNT_MAX) -> list[Entry]:
    """Decode the index strictly and check every path.

    Args:
        data: Exactly the index bytes.
        max_entries: Reader limit on the entry count (at most the spec bound).

    Returns:
        The entries with their offsets filled in.

    Raises:
        FormatError: Malformed or non-canonical index.
        UnsafePathError: A path breaks a safety rule.
    """
    view = memoryview(data)
    if len(view) < _U32.size:
        raise _corrupt("index too short")
    (count,) = _U32.unpack_from(view, 0)
    # spec [F-INDEX-COUNT]: bound the count before building anything; an entry is >= 25 bytes.
    min_entry = _ENTRY_HEAD.size + 1 + _U64.size
    if count > min(max_entries, p.ENTRY_COUNT_MAX) or count * min_entry > len(view) - 4:
        raise _corrupt("entry count out of range")
    pos = _U32.size
    offset = 0
    entries: list[Entry] = []
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
        try:
            path = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Refused per spec [F-PATH-UTF8].
            raise _unsafe(raw.decode("utf-8", "replace"), "not valid UTF-8") from None
        entries.append(Entry(path, kind, mode, mtime_s, mtime_ns, size, offset))
        offset += size
    # spec [F-INDEX-LENGTH]: canonical means no bytes after the last entry.
    if pos != len(view):
        raise _corrupt("unexpected bytes after the last entry")
    check_entries(entries)
    return entries


def check_path(path: str) -> None:
    """Check one archive path against the rules of spec §paths.

    Raises:
        UnsafePathError: The path is unsafe.
    """
    raw = path.encode("utf-8", "surrogatepass")
    if not 1 <= len(raw) <= p.PATH_MAX:
        raise _unsafe(path, "empty or too long")
    # Surrogates only come from undecodable file names; they are not valid UTF-8.
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in path):  # spec [F-PATH-UTF8]
        raise _unsafe(path, "not valid UTF-8")
    if path.startswith("/"):  # spec [F-PATH-ABSOLUTE]
        raise _unsafe(path, "absolute path")
    if "\\" in path:  # spec [F-PATH-BACKSLASH]
        raise _unsafe(path, "contains a backslash")
    # spec [F-PATH-NUL], [F-PATH-CONTROL]: every control character (category Cc).
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise _unsafe(path, "contains a control character")
    if not unicodedata.is_normalized("NFC", path):  # spec [F-PATH-NFC]
        raise _unsafe(path, "not in Unicode NFC form")
    for comp in path.split("/"):
        if comp == "":  # spec [F-PATH-EMPTY-COMPONENT]
            raise _unsafe(path, "empty path component")
        if comp in (".", ".."):  # spec [F-PATH-DOT]
            raise _unsafe(path, "'.' or '..' component")
        if len(comp.encode("utf-8")) > p.COMPONENT_MAX:  # spec [F-PATH-COMPONENT]
            raise _unsafe(path, "a component is longer than 255 bytes")


def fold(path: str) -> str:
    """Return the collision key of a path: NFC(casefold(NFC(path))).

    Two paths with the same key would land on the same file on a case-insensitive or
    normalising file system (macOS, Windows, FAT USB sticks).
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def check_entries(entries: Iterable[Entry]) -> None:
    """Check every path and the relations between them (spec §paths).

    Raises:
        UnsafePathError: A path is unsafe, duplicated, collides after NFC+casefold, or has a
            file as one of its parents.
    """
    seen: dict[str, Entry] = {}
    for e in entries:
        check_path(e.path)
        key = fold(e.path)
        other = seen.get(key)
        if other is not None:  # spec [F-PATH-DUPLICATE], [F-PATH-CASEFOLD]
            if other.path == e.path:
                raise _unsafe(e.path, "appears twice")
            raise _unsafe(e.path, f"collides with {other.path!r} (case or Unicode form)")
        seen[key] = e
    for key, e in seen.items():
        parts = key.split("/")
        for i in range(1, len(parts)):
            parent = seen.get("/".join(parts[:i]))
            # spec [F-PATH-FILE-PARENT]: extraction would otherwise write through a file.
            if parent is not None and parent.is_file:
                raise _unsafe(e.path, f"its parent {parent.path!r} is a file")


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
