"""What a seal takes in: the files and directories named, walked and checked before any work.

Inputs are collected and every name checked before the key server is asked or a byte is
written (spec/format.md §paths: names are stored in NFC, and names a reader's system could
not create are refused, all listed at once); symbolic links, devices, FIFOs and sockets are
refused.

Spec anchors: spec/format.md §index, §paths.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pycontainer.errors import InputError
from pycontainer.format import archive
from pycontainer.format import primitives as p
from pycontainer.format.archive import Entry

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class Source:
    entry: Entry
    fs_path: str | None  # None for directories
    dev_ino: tuple[int, int] = (0, 0)
    renamed_from: str | None = None  # the name on disk, when it was not NFC


def nfc(name: str) -> str:
    # spec [F-PATH-NFC]: macOS hands out decomposed (NFD) names; store the composed form,
    # which every reader creates as the same file (normalising file systems) or as the
    # name users type (others). Undecodable names (surrogates) are left for the checks.
    try:
        return unicodedata.normalize("NFC", name)
    except UnicodeError:
        return name


def _refuse(path: str, st_mode: int) -> InputError:
    if stat.S_ISLNK(st_mode):
        return InputError(
            f"{path} is a symbolic link; rwc does not store links",
            hint="replace the link with a copy of the file it points to, or leave it out",
        )
    kind = (
        "a device"
        if stat.S_ISBLK(st_mode) or stat.S_ISCHR(st_mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(st_mode)
        else "a socket"
        if stat.S_ISSOCK(st_mode)
        else "not a regular file or directory"
    )
    return InputError(
        f"{path} is {kind}; rwc only seals regular files and directories",
        hint="leave it out, or pipe its content with `rwc seal -` (stream sealing)",
    )


def _entry_for(name: str, st: os.stat_result) -> Entry:
    secs, nsecs = divmod(st.st_mtime_ns, 1_000_000_000)
    kind = p.ENTRY_DIR if stat.S_ISDIR(st.st_mode) else p.ENTRY_FILE
    size = st.st_size if kind == p.ENTRY_FILE else 0
    # spec §index: permission bits only; setuid/setgid/sticky are dropped.
    return Entry(name, kind, st.st_mode & p.MODE_MASK, secs, nsecs, size)


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", hint="check the path you gave to seal") from None
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}", hint="check its permissions"
        ) from None


def collect(paths: Sequence[StrPath]) -> list[Source]:
    """Walk the inputs into index order (pre-order, names sorted), refusing special files.

    An input ``a/b/dir`` is stored as ``dir/...``; a file input by its base name.

    Raises:
        InputError: A missing, special or unreadable input, a name that cannot be stored,
            or two inputs with the same name.
    """
    if not paths:
        raise InputError("nothing to seal", hint="name at least one file or directory")
    sources: list[Source] = []
    for given in paths:
        top = os.fspath(given)
        # abspath, not resolve(): normalise '.' and '..' lexically, never follow links.
        name = nfc(Path(os.path.abspath(top)).name)  # noqa: PTH100
        if not name:
            raise InputError(
                f"{top} has no name to store it under",
                hint="seal the files inside it instead",
            )
        stack: list[tuple[str, str]] = [(top, name)]
        while stack:
            fs_path, arc = stack.pop()
            st = _lstat(fs_path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise _refuse(fs_path, st.st_mode)
            entry = _entry_for(arc, st)
            on_disk = os.path.basename(fs_path)  # noqa: PTH119
            renamed = on_disk if nfc(on_disk) != on_disk else None
            if entry.is_dir:
                sources.append(Source(entry, None, renamed_from=renamed))
                try:
                    names = sorted(c.name for c in Path(fs_path).iterdir())
                except OSError as exc:
                    raise InputError(
                        f"cannot list {fs_path}: {exc.strerror}", hint="check its permissions"
                    ) from None
                # Reversed onto the stack so that children come out in sorted order.
                stack.extend((f"{fs_path}/{n}", f"{arc}/{nfc(n)}") for n in reversed(names))
            else:
                sources.append(Source(entry, fs_path, (st.st_dev, st.st_ino), renamed_from=renamed))
            if len(sources) > p.ENTRY_COUNT_MAX:
                raise InputError(
                    f"too many files (more than {p.ENTRY_COUNT_MAX})",
                    hint="split the data into several containers",
                )
    check_names(sources)
    return sources


_NAMES_LISTED = 50  # bad names shown in one error; the rest are counted


def check_names(sources: Sequence[Source]) -> None:
    """Refuse the inputs if any name cannot be stored, listing every such name at once.

    spec §paths: the writer refuses what every reader would refuse. All names are listed in
    one run (not one per attempt), and before anything is registered with the server.
    """
    problems = archive.unsafe_entries(s.entry for s in sources)
    if not problems:
        return
    lines = [f"  {exc.path!r}: {exc.reason}" for exc in problems[:_NAMES_LISTED]]
    if len(problems) > _NAMES_LISTED:
        lines.append(f"  ... and {len(problems) - _NAMES_LISTED} more")
    count = f"{len(problems)} name{'s' if len(problems) > 1 else ''}"
    raise InputError(
        f"cannot seal: {count} cannot be stored in a container:\n" + "\n".join(lines),
        hint="rename these files (names must be valid UTF-8, without control or invisible "
        'characters, backslashes or <>:"|?*, not Windows device names such as CON or NUL, '
        "not ending in a dot or space, and must differ in more than letter case)",
    )


def check_stream_name(name: str) -> None:
    """Check the entry name of a one-stream container as :func:`seal_stream` will.

    Raises:
        InputError: The name cannot be stored.
    """
    check_names([Source(Entry(nfc(name), p.ENTRY_FILE, 0o600, 0, 0, 0), None)])


def check_inputs(paths: Sequence[StrPath]) -> list[str]:
    """Walk and check the inputs exactly as :func:`seal_paths` will, before registering.

    Returns:
        The names on disk that will be stored in NFC form (normalised automatically).

    Raises:
        InputError: As :func:`seal_paths` for its inputs, every bad name listed at once.
    """
    return [s.renamed_from for s in collect(paths) if s.renamed_from is not None]
