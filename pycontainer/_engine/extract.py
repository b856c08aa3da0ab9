"""Extraction of authenticated entries into a directory, all or nothing.

Everything is written into a private (0700) temp directory beside the destination; files
are created 0600 and get their stored permission bits and mtimes only when complete. Only
after every extracted byte authenticated are the top-level items moved into the
destination. On any failure the temp directory is removed, so no plaintext from a corrupt
or tampered container stays on disk.

Durability (fsync before publish, as a seal does): each file is fsynced by the thread that
wrote its last byte, as soon as it is complete (the other threads go on decrypting), and
every directory of the staging tree once the files are linked in; only then are the
top-level items renamed into the destination, which is fsynced after the renames (and its
parent, if the destination was created). A crash can therefore leave the old state or the
complete new one, never a published name whose content was not yet on the disk.

Semantics of ``dest`` (like ``tar -C`` but safer): a directory; created if missing; if it
exists it must be empty unless ``force``; with ``force`` an existing top-level file of the
same name is replaced, but an existing directory is never merged or deleted.

Spec anchors: spec/format.md §index, §paths (paths were already checked by archive.py).
"""

from __future__ import annotations

import bisect
import errno
import os
import stat
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

if sys.platform != "win32":
    # POSIX only (_room_for). With the module, not in the function: `rwc open` imports
    # this module in its import phase, with the collector off (pycontainer/cli/read.py).
    import resource

from pycontainer import _portable
from pycontainer._engine import staging
from pycontainer._engine.openfiles import OpenFiles
from pycontainer._engine.writeback import DROP_BEHIND, Writeback
from pycontainer.errors import (
    ContainerError,
    EntryNotFoundError,
    InputError,
    OutputExistsError,
    OutputWriteError,
    UnsafePathError,
)
from pycontainer.format import primitives as p
from pycontainer.format.archive import Entry
from pycontainer.format.stream import Layout
from pycontainer.progress import Progress

# run(indices, consume, progress): decrypts and authenticates each chunk of `indices` once,
# in any order and possibly on several threads, and hands it to consume(index, plaintext),
# which returns the bytes it used; progress gets their running sum (see pipeline.open_chunks).
ChunkRunner = Callable[
    [Sequence[int], Callable[[int, memoryview], int], Callable[[int], None] | None], None
]


def select(entries: Sequence[Entry], paths: Sequence[str] | None) -> list[Entry]:
    """Return the entries named by ``paths`` (a directory selects its subtree), index order.

    Raises:
        EntryNotFoundError: A requested path is not in the container.
    """
    if paths is None:
        return list(entries)
    wanted = [unicodedata.normalize("NFC", q.strip("/")) for q in paths]
    chosen: set[int] = set()
    for q in wanted:
        hits = [i for i, e in enumerate(entries) if e.path == q or e.path.startswith(q + "/")]
        if not q or not hits:
            raise EntryNotFoundError(q)
        chosen.update(hits)
    return [entries[i] for i in sorted(chosen)]


def _top(path: str) -> str:
    return path.split("/", 1)[0]


def _check_dest(dest: Path, selected: Sequence[Entry], *, force: bool) -> bool:
    """Check the destination; return True if it already exists."""
    if not dest.exists():
        if dest.is_symlink():
            raise OutputExistsError(f"{dest} is a dangling symbolic link", hint="remove it")
        if not dest.parent.is_dir():
            raise InputError(f"the directory {dest.parent} does not exist", hint="create it")
        return False
    if not dest.is_dir():
        raise OutputExistsError(
            f"{dest} exists and is not a directory", hint="choose a directory to extract into"
        )
    if not force and any(dest.iterdir()):
        raise OutputExistsError(
            f"{dest} is not empty",
            hint="choose a new or empty directory, or pass --force to extract into it",
        )
    tops = {_top(e.path): (e.is_dir or "/" in e.path) for e in selected}
    for name, is_dir in tops.items():
        target = dest / name
        if not (target.exists() or target.is_symlink()):
            continue
        # Never merge into or delete an existing directory: that could destroy data.
        if is_dir or (target.is_dir() and not target.is_symlink()):
            raise OutputExistsError(
                f"{target} already exists",
                hint="move it away first; rwc does not merge into existing directories",
            )
    return True


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux /proc).

    Elsewhere it is set to 0o077 and put back at once: the window can only make a file
    created by another thread more private, never less.
    """
    try:
        # Bytes: a text file would look its codec up now, after rwc's import phase.
        with open("/proc/self/status", "rb") as f:  # noqa: PTH123
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)
    os.umask(old)
    return old


# Modification times every platform can store (32-bit time_t, 1901..2038) once the exact
# time was refused: the nearest representable value (spec §implementation notes).
_SAFE_NS = (-(2**31) * 1_000_000_000, (2**31 - 1) * 1_000_000_000)


def _set_mtime(target: Path, ns: int) -> None:
    try:
        os.utime(target, ns=(ns, ns))
    except (OverflowError, OSError, ValueError):
        # spec §implementation notes: a time the platform cannot represent is clamped;
        # it never fails the extraction.
        clamped = min(max(ns, _SAFE_NS[0]), _SAFE_NS[1])
        try:
            os.utime(target, ns=(clamped, clamped))
        except (OverflowError, OSError, ValueError):
            os.utime(target, ns=(max(clamped, 0), max(clamped, 0)))


def _open_new(path: Path) -> int:
    # Exclusive, no-follow, private until complete: plaintext is never readable by others
    # while it is being written, and nothing pre-existing is written through.
    # O_EXCL refuses any existing name, a planted symbolic link included, also where
    # O_NOFOLLOW does not exist (Windows); see pycontainer/_portable.py.
    return os.open(path, _portable.create_flags(), 0o600)


# Descriptors kept free for everything else while nameless files stay open.
_FD_RESERVE = 256


def _room_for(count: int) -> bool:
    """Return True if ``count`` nameless files can stay open until publish.

    Raises the soft RLIMIT_NOFILE towards the hard one when needed (a per-process limit
    that exists against leaks, not against a run that knows how many files it holds).
    """
    if sys.platform == "win32":  # pragma: no cover - no RLIMIT_NOFILE (nor O_TMPFILE)
        return False
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = count + _FD_RESERVE
    if soft == resource.RLIM_INFINITY or need <= soft:
        return True
    if hard != resource.RLIM_INFINITY and need > hard:
        return False
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    except (ValueError, OSError):
        return False
    return True


class _FileWriter:
    """Writes authenticated chunk plaintext into the files it belongs to, thread-safe.

    Each chunk may arrive on any thread in any order; its pieces go with pwrite to their
    known offsets (file ``e`` holds plaintext ``[e.offset, e.offset + e.size)``). A file is
    created when its first chunk arrives and closed after its last, so only the files of
    the chunks in flight are open, whatever the entry count.
    """

    def __init__(
        self, root: Path, data: Sequence[Entry], chunk_log2: int, *, anonymous: bool, umask: int
    ) -> None:
        self._root = root
        self._umask = umask
        # anonymous: files are O_TMPFILE, kept open after their last chunk, named by link().
        self._anonymous = anonymous
        self.finished: dict[int, int] = {}
        self._files = list(data)  # non-empty files, in index (= offset) order
        self._starts = [e.offset for e in self._files]
        self._log2 = chunk_log2
        # Each file is created on its first chunk and finished after its last.
        self._open = OpenFiles([(e.offset, e.size) for e in self._files], chunk_log2, self._create)

    def _create(self, j: int) -> tuple[int, Writeback]:
        if self._anonymous:
            fd = staging.open_anonymous(self._root)
        else:
            fd = _open_new(self._root / self._files[j].path)
        # The extraction is fsynced before publish: its writeback starts early, and what
        # was written back leaves the page cache behind the writes (writeback.py: a 10 GiB
        # extraction paid for 10 GiB of fresh pages).
        return fd, Writeback(fd, drop_behind=DROP_BEHIND)

    def _release(self, j: int) -> None:
        done = self._open.release(j)
        if done is None:
            return
        fd = done[0]
        # Complete: finished here, on the thread that wrote the last byte, while the other
        # threads go on decrypting (see the module docstring, "Durability").
        try:
            if self._anonymous:
                e = self._files[j]
                # spec §index and §implementation notes: permission bits only, umask applied.
                os.fchmod(fd, e.mode & p.MODE_MASK & ~self._umask)
                os.utime(fd, ns=(e.mtime_total_ns, e.mtime_total_ns))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        if self._anonymous:
            with self._open.lock:
                self.finished[j] = fd
        else:
            os.close(fd)

    def consume(self, index: int, view: memoryview) -> int:
        """Write the selected parts of chunk ``index``; return the bytes written."""
        cs = index << self._log2
        ce = cs + len(view)
        written = 0
        j = max(0, bisect.bisect_right(self._starts, cs) - 1)
        while j < len(self._files) and self._starts[j] < ce:
            e = self._files[j]
            lo, hi = max(e.offset, cs), min(e.offset + e.size, ce)
            if lo < hi:
                fd, writeback = self._open.acquire(j)
                # In pieces on a disk (writeback.WRITE_PIECE says why).
                _portable.pwrite_all(
                    fd, view[lo - cs : hi - cs], lo - e.offset, piece=writeback.piece
                )
                writeback.start(lo - e.offset, hi - lo)
                self._release(j)
                written += hi - lo
            j += 1
        return written

    def complete(self) -> bool:
        """Return True if every byte of every file was written."""
        return self._open.complete()

    def link_all(self) -> None:
        """Name every finished nameless file (mode, mtime and data already synced); close."""
        for j, fd in sorted(self.finished.items()):
            staging.link_fd(fd, self._root / self._files[j].path)
            del self.finished[j]
            os.close(fd)

    def close(self) -> None:
        """Close the files still open (after a failure: nameless ones then vanish)."""
        fds = [fd for fd, _ in self._open.take_all()]
        with self._open.lock:
            fds += self.finished.values()
            self.finished = {}
        for fd in fds:
            os.close(fd)


def _write_tree(
    chunks: ChunkRunner,
    layout: Layout,
    root: Path,
    selected: Sequence[Entry],
    progress: Progress | None,
    *,
    umask: int,
) -> list[tuple[str, Entry | None]]:
    """Write the selected entries under ``root``.

    Returns:
        The top-level directories, whose mode and mtime are applied only after they were
        moved into place: renaming a directory to a new parent needs write permission on it
        (to update its ".."), and the rename may touch its mtime.
    """
    dirs: dict[str, int | None] = {}
    for e in selected:
        parts = e.path.split("/")
        for i in range(1, len(parts)):
            dirs.setdefault("/".join(parts[:i]), None)
        if e.is_dir:
            dirs[e.path] = e.mode
    for d in sorted(dirs, key=lambda s: s.count("/")):
        (root / d).mkdir(mode=0o700)
    files = [e for e in selected if e.is_file]
    for e in files:
        if e.size == 0:
            fd = _open_new(root / e.path)
            try:
                os.fsync(fd)  # its name is durable with its directory's fsync below
            finally:
                os.close(fd)
    data = [e for e in files if e.size]
    total = sum(e.size for e in data)
    needed: list[int] = []
    for e in data:
        for i in layout.chunks_for(e.offset, e.offset + e.size):
            if not needed or i > needed[-1]:
                needed.append(i)
    anonymous = staging.tmpfile_supported(root) and _room_for(len(data))
    writer = _FileWriter(root, data, layout.chunk_log2, anonymous=anonymous, umask=umask)

    def report(done: int) -> None:
        if progress is not None:
            progress(done, total)

    try:
        # Chunk-parallel: each thread decrypts a chunk and writes its pieces itself
        # (pipeline.open_chunks), so no plaintext is handed between threads.
        chunks(needed, writer.consume, report)
        if not writer.complete():  # every selected byte must come from an authenticated chunk
            raise ContainerError(
                "internal error: extraction ended early", hint="nothing was extracted; report this"
            )
        writer.link_all()
    finally:
        writer.close()
    for e in files:
        if anonymous and e.size:
            continue  # mode and mtime set through the descriptor by link_all
        target = root / e.path
        # spec §index: permission bits only (mode <= 0o777), so never setuid/setgid; and
        # spec §implementation notes: the reader's umask applies, as tar does for users
        # other than root (a 0o666 file from another office does not become writable by
        # everyone here). On Windows chmod sets only the read-only flag (no 0o200 bit).
        target.chmod(e.mode & p.MODE_MASK & ~umask)
        _set_mtime(target, e.mtime_total_ns)
    # Durability: the names in every directory of the tree (before their stored modes,
    # which may forbid opening them, are applied).
    for d in dirs:
        staging.fsync_dir(root / d)
    by_path = {e.path: e for e in selected if e.is_dir}
    # Deepest first: setting a parent's mtime before its children would be undone.
    for d in sorted(dirs, key=lambda s: s.count("/"), reverse=True):
        if "/" in d:
            _apply_dir_meta(root / d, by_path.get(d), umask)
    return [(d, by_path.get(d)) for d in dirs if "/" not in d]


def _apply_dir_meta(target: Path, entry: Entry | None, umask: int) -> None:
    # spec §index: permission bits only; implicit parents get the default mode; the
    # reader's umask applies to both (spec §implementation notes).
    mode = entry.mode & p.MODE_MASK if entry else p.IMPLICIT_DIR_MODE
    target.chmod(mode & ~umask)
    if entry is not None:
        _set_mtime(target, entry.mtime_total_ns)


def _no_clobber(target: Path) -> None:
    # Re-checked right before the rename: something may have appeared since _check_dest.
    if target.exists() or target.is_symlink():
        raise OutputExistsError(f"{target} already exists", hint="move it away and retry")


# errno values with which a file system refuses a name itself (too long, bad encoding,
# a character it does not allow).
_NAME_ERRNOS = frozenset(
    e for e in (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL) if isinstance(e, int)
)


def _refused_name(tmp: Path, exc: OSError) -> str | None:
    """The container path whose creation under ``tmp`` failed because of its name, or None."""
    if exc.errno not in _NAME_ERRNOS or exc.filename is None:
        return None
    try:
        rel = Path(os.fsdecode(exc.filename)).relative_to(tmp)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None


def extract_entries(
    chunks: ChunkRunner,
    layout: Layout,
    entries: Sequence[Entry],
    dest: Path,
    paths: Sequence[str] | None,
    *,
    force: bool,
    progress: Progress | None,
) -> list[Entry]:
    """Extract entries; see the module docstring for the destination semantics.

    Args:
        chunks: Decrypts, authenticates and hands over the chunks (see ``ChunkRunner``).
        layout: The payload geometry.
        entries: All entries of the container.
        dest: The destination directory.
        paths: What to extract (None: everything).
        force: Allow a non-empty destination.
        progress: Called as ``progress(bytes_done, bytes_total)``.

    Returns:
        The extracted entries.

    Raises:
        EntryNotFoundError: A requested path is not in the container.
        OutputExistsError: The destination conflicts (see the module docstring).
        PayloadError: A chunk failed authentication; nothing was extracted.
        ContainerError: Writing failed; nothing was extracted.
    """
    selected = select(entries, paths)
    existed = _check_dest(dest, selected, force=force)
    # Leftovers of earlier runs killed here (ours only, and only those no live run holds).
    staging.remove_stale(dest.parent)
    tmp = dest.parent  # replaced by the staging directory's path once it exists
    created_dest = False
    stage: staging.StagingDir | None = None
    try:
        stage = staging.StagingDir(dest)
        tmp = stage.path
        umask = _umask()
        top_dirs = _write_tree(chunks, layout, tmp, selected, progress, umask=umask)
        # Every selected byte has authenticated: only now does anything reach `dest`.
        if not existed:
            dest.mkdir()
            created_dest = True
        for name in sorted({_top(e.path) for e in selected}):
            src = tmp / name
            target = dest / name
            if force and stat.S_ISREG(src.lstat().st_mode):
                src.replace(target)
            else:
                _no_clobber(target)
                src.rename(target)
        # Durability: the renames into `dest` (and `dest` itself if it is new).
        staging.fsync_dir(dest)
        if created_dest:
            staging.fsync_dir(dest.parent)
        stage.rmdir()
        for name, entry in top_dirs:
            _apply_dir_meta(dest / name, entry, umask)
    except BaseException as exc:
        if stage is not None:
            stage.remove()
        if created_dest and not any(dest.iterdir()):
            dest.rmdir()
        if isinstance(exc, OSError) and (refused := _refused_name(tmp, exc)) is not None:
            # spec [F-PATH-PLATFORM]: this file system cannot hold the name as stored; never
            # create another name instead.
            raise UnsafePathError(
                f"this system cannot create the name {refused!r}: {exc.strerror or exc}",
                hint="extract on another system or file system; nothing was extracted",
                path=refused,
                reason="refused by the file system",
            ) from None
        if isinstance(exc, OSError):
            raise OutputWriteError(
                f"extracting into {dest} failed: {exc.strerror or exc}",
                hint="check free space and permissions; nothing was extracted",
            ) from None
        raise
    return selected
