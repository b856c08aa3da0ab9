"""Where sealing and extraction write before they publish: nothing a crash leaves visible.

A container being sealed and the plaintext being extracted must never stay on disk when
``rwc`` dies half-way (SIGKILL, power loss, a full disk). Three layers:

1. **Anonymous files (Linux).** Files are created with ``O_TMPFILE`` in the destination's
   directory: an inode with no name, freed by the kernel when the last descriptor closes,
   so a killed process leaves nothing. They get a name only at publish, by ``linkat``
   through ``/proc/self/fd`` (an O_TMPFILE file opened without ``O_EXCL`` may be linked).
2. **Named fallback (other systems, file systems without O_TMPFILE such as FAT).** A
   hidden name ``.<dest>.<random>.rwc-tmp`` beside the destination, created under a
   private name first and renamed to its final hidden name only once this process holds an
   exclusive ``flock`` on it, so another run never sees it unlocked while it is alive.
3. **Stale clean-up.** Every run first calls :func:`remove_stale` on the directory it
   writes into: hidden ``*.rwc-tmp`` entries of the same user whose lock can be taken
   belong to a process that is gone (the kernel drops ``flock`` locks with the process),
   and are removed while the lock is held. An entry another live run holds is left alone.
   Without ``fcntl`` (Windows) there is no lock to test, so nothing is removed there.

ONE atomic publish (:func:`publish_file`) serves the writer and ``rwc seal``: no overwrite
without ``force`` even when racing (``link`` fails if the name exists), a checked rename on
file systems without hard links (FAT/exFAT USB sticks), and an fsync of the directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

from pycontainer import _portable
from pycontainer.errors import OutputExistsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# Windows has neither (nor needs O_NOFOLLOW there); O_BINARY keeps bytes as written.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_SUFFIX = ".rwc-tmp"
_CREATING = ".rwc-new"
_STALE_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.rwc-tmp$")
_PROC_FD = Path("/proc/self/fd")
# Errors meaning "this file system has no hard links" (FAT, exFAT, some network shares).
_NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}
# Errors meaning "no O_TMPFILE here" (old kernels, FAT, network file systems).
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.ENOTSUP}


def _hidden_name(dest: Path, suffix: str) -> Path:
    return dest.with_name(f".{dest.name}.{os.urandom(6).hex()}{suffix}")


def _lock(fd: int, *, wait: bool) -> bool:
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def tmpfile_supported(directory: Path) -> bool:
    """Return True if anonymous files can be created in ``directory`` and linked later."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not _PROC_FD.is_dir():
        return False
    try:
        fd = os.open(directory, flag | os.O_WRONLY | _portable.flag("O_CLOEXEC"), 0o600)
    except OSError:
        return False
    os.close(fd)
    return True


class StagedFile:
    """A file written beside ``dest`` and invisible (or locked and hidden) until published.

    Attributes:
        fd: The descriptor to write to (``O_WRONLY``).
    """

    def __init__(self, dest: Path, mode: int = 0o600, *, anonymous: bool | None = None) -> None:
        """Create the file in ``dest``'s directory.

        Args:
            dest: The final name (not created here).
            mode: Permission bits the file gets at creation (umask applies).
            anonymous: Force (True) or forbid (False) ``O_TMPFILE``; None: use it when the
                file system supports it.

        Raises:
            OSError: The directory is not writable, full, or missing.
        """
        self._dest = dest
        self._path: Path | None = None
        flag = getattr(os, "O_TMPFILE", 0)
        if anonymous is None:
            anonymous = bool(flag) and _PROC_FD.is_dir()
        if anonymous:
            try:
                self.fd = os.open(
                    dest.parent, flag | os.O_WRONLY | _portable.flag("O_CLOEXEC"), mode
                )
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE:
                    raise
            else:
                # Locked like a named file: once linked to a hidden name at publish (force),
                # remove_stale must not take it from this live run.
                _lock(self.fd, wait=True)
                return
        creating = _hidden_name(dest, _CREATING)
        # Exclusive, no-follow: never write through something planted at the name.
        self.fd = os.open(
            creating,
            os.O_WRONLY
            | os.O_CREAT
            | os.O_EXCL
            | _NOFOLLOW
            | _BINARY
            | _portable.flag("O_CLOEXEC"),
            mode,
        )
        try:
            _lock(self.fd, wait=True)  # held until close: remove_stale leaves it alone
            path = creating.with_name(creating.name.removesuffix(_CREATING) + _SUFFIX)
            creating.rename(path)
        except BaseException:
            os.close(self.fd)
            creating.unlink(missing_ok=True)
            raise
        self._path = path

    @property
    def anonymous(self) -> bool:
        """True if the file has no name yet (O_TMPFILE)."""
        return self._path is None

    @property
    def path(self) -> Path | None:
        """The hidden name the file is written under; None while it has none (O_TMPFILE).

        For writers that need a name rather than ``fd`` (SQLite's backup API, a child
        process such as ``pg_dump``): create with ``anonymous=False``.
        """
        return self._path

    def link_to(self, target: Path) -> None:
        """Give the file the name ``target`` (which must not exist); keeps ``fd`` open.

        Raises:
            FileExistsError: ``target`` exists.
            OSError: Linking failed (see :data:`_NO_LINK` for "no hard links here").
        """
        if self._path is None:
            # An O_TMPFILE inode is linked by following its /proc/self/fd link.
            link_fd(self.fd, target)
        else:
            os.link(self._path, target)

    def discard(self) -> None:
        """Close and remove the file (idempotent); an anonymous file just vanishes."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
            self._path = None

    def publish(self, *, force: bool) -> None:
        """Fsync the data, give the file its final name, fsync the directory; close.

        Without ``force`` an existing destination is never overwritten, even one that
        appeared while sealing. On any failure the file is discarded.

        Raises:
            OutputExistsError: ``dest`` exists and ``force`` is false.
            OSError: Writing or linking failed (full disk, permissions).
        """
        try:
            os.fsync(self.fd)
            self._publish(force=force)
        finally:
            self.discard()
        fsync_dir(self._dest.parent)

    def _publish(self, *, force: bool) -> None:
        dest = self._dest
        if self._path is None and force:
            # rename() is what replaces atomically; an anonymous file needs a name first.
            # (A crash between the two leaves a locked-name-free .rwc-tmp, see remove_stale.)
            named = _hidden_name(dest, _SUFFIX)
            self.link_to(named)
            self._path = named
        if force:
            assert self._path is not None
            self._path.replace(dest)  # atomic: readers see the old file or the new one
            self._path = None
            return
        try:
            # link() fails if `dest` exists: no window in which a file appearing meanwhile
            # would be overwritten.
            self.link_to(dest)
        except FileExistsError:
            raise _exists(dest) from None
        except OSError as exc:
            if exc.errno not in _NO_LINK or self._path is None:
                raise
            # FAT/exFAT media (typical USB sticks) have no hard links: a checked rename
            # (the window between check and rename is microseconds).
            if os.path.lexists(dest):
                raise _exists(dest) from None
            self._path.rename(dest)
            self._path = None


def _exists(dest: Path) -> OutputExistsError:
    return OutputExistsError(
        f"{dest} already exists", hint="choose another name, or pass --force to replace it"
    )


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` durable, where the file system can (best effort)."""
    # Some file systems cannot fsync a directory; the data itself is synced.
    with contextlib.suppress(OSError):
        _portable.fsync_directory(directory)


def open_anonymous(directory: Path, mode: int = 0o600) -> int:
    """Open a nameless file in ``directory`` (``O_TMPFILE``); link it with :func:`link_fd`.

    Raises:
        OSError: Not supported here (check :func:`tmpfile_supported` first) or no space.
    """
    return os.open(
        directory, _portable.flag("O_TMPFILE") | os.O_WRONLY | _portable.flag("O_CLOEXEC"), mode
    )


def link_fd(fd: int, target: Path) -> None:
    """Give the nameless file ``fd`` the name ``target`` (which must not exist)."""
    # linkat(AT_SYMLINK_FOLLOW) is what links the inode behind the /proc link; CPython
    # calls plain link() (which would link the symlink itself) unless a dir fd is given.
    proc = os.open(
        _PROC_FD, os.O_RDONLY | _portable.flag("O_DIRECTORY") | _portable.flag("O_CLOEXEC")
    )
    try:
        os.link(str(fd), target, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


class StagingDir:
    """A private (0700), locked, hidden directory beside ``dest`` for an extraction."""

    def __init__(self, dest: Path) -> None:
        """Create it (under a private name, renamed once locked: see the module docstring).

        Raises:
            OSError: The directory could not be created.
        """
        creating = _hidden_name(dest, _CREATING)
        creating.mkdir(mode=0o700)
        try:
            self._fd = os.open(
                creating, os.O_RDONLY | _portable.flag("O_DIRECTORY") | _portable.flag("O_CLOEXEC")
            )
        except BaseException:
            creating.rmdir()
            raise
        try:
            _lock(self._fd, wait=True)
            self.path = creating.with_name(creating.name.removesuffix(_CREATING) + _SUFFIX)
            creating.rename(self.path)
        except BaseException:
            os.close(self._fd)
            creating.rmdir()
            raise

    def remove(self) -> None:
        """Remove the directory and whatever is left in it; release the lock."""
        if self._fd < 0:
            return
        remove_tree(self.path)
        os.close(self._fd)
        self._fd = -1

    def rmdir(self) -> None:
        """Remove the (empty) directory; release the lock."""
        self.path.rmdir()
        os.close(self._fd)
        self._fd = -1


def remove_tree(root: Path) -> None:
    """Remove a staging tree whatever modes its content was given."""
    if not root.exists():
        return
    # Restored modes may forbid writing (e.g. 0o500 dirs); make them removable first.
    for dirpath, _dirs, _files in os.walk(root):
        with contextlib.suppress(OSError):
            Path(dirpath).chmod(0o700)
    # Imported here: shutil (with zlib, bz2, lzma) is for a failed extraction only, and
    # every reader imports this module (issue 15: start-up of a small `rwc cat`).
    import shutil  # noqa: PLC0415

    shutil.rmtree(root, ignore_errors=True)


def remove_stale(directory: Path) -> list[str]:
    """Remove this user's staging entries in ``directory`` left by runs that died.

    An entry counts only if its name has our form, it is a plain file or directory (never
    a symlink), it belongs to the current user and its lock can be taken (its writer is
    gone); it is removed while the lock is held. Never raises: clean-up is best effort.

    Returns:
        The names removed.
    """
    removed: list[str] = []
    if fcntl is None:
        return removed
    try:
        names = [q.name for q in directory.iterdir() if _STALE_RE.fullmatch(q.name)]
    except OSError:
        return removed
    uid = os.getuid()
    for name in names:
        path = directory / name
        try:
            st = path.lstat()
            if st.st_uid != uid or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue
            # Through _portable: the flags may be missing (tests/portable hides them); the
            # lock and the inode check below are what make removing safe.
            flags = (
                os.O_RDONLY
                | _portable.flag("O_NOFOLLOW")
                | _portable.flag("O_CLOEXEC")
                | _portable.flag("O_NONBLOCK")
            )
            if stat.S_ISDIR(st.st_mode):
                flags |= _portable.flag("O_DIRECTORY")
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            if not _lock(fd, wait=False) or os.fstat(fd).st_ino != st.st_ino:
                continue
            if stat.S_ISDIR(st.st_mode):
                remove_tree(path)
            else:
                path.unlink()
            removed.append(name)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed
