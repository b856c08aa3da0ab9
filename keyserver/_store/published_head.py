"""The newest checkpoint this server has published, kept OUTSIDE the database (spec §backup).

A database copied back by hand (a file copy, a snapshot: not ``keyserver restore-backup``)
carries no restore marker and would serve its older rows: containers destroyed since the
copy was taken would have their sealed seeds back. The database cannot tell (it is
consistent with its own older audit log), so the server keeps a record it cannot take
back: each checkpoint it signs is also written here, beside the log key, and at start the
database's audit log must reach that checkpoint's tree size (and hold the same tree at
it). The file holds the signed checkpoint note itself: it verifies under the log key, so
a damaged or foreign file is noticed, not trusted.

The file only ever moves forward (a lock serialises the workers and instances that share
it; a smaller checkpoint never replaces a larger one), is written by rwc's ONE atomic
publish (pycontainer/_engine/staging.py: a temporary file no crash leaves visible, fsync,
an atomic replace, fsync of the directory; issue 9: this module had a second one, whose
temporary file was opened without O_EXCL or O_NOFOLLOW) and is created 0600.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows servers are not supported; no lock there
    fcntl = None  # type: ignore[assignment]

from keyserver._domain.settings import Settings
from pycontainer._engine.staging import StagedFile, remove_stale

SUFFIX = ".published"


def path_for(settings: Settings) -> Path | None:
    """``<log key file>.published``, or None when the server keeps no log (no key file)."""
    key = settings.log_key_file
    return None if key is None else key.with_name(key.name + SUFFIX)


def read(path: Path) -> str | None:
    """The stored note text, or None if there is none yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def advance(path: Path, size: int, note_text: str, size_of: Callable[[str], int]) -> bool:
    """Store ``note_text`` (a checkpoint of ``size``) unless the file holds a larger one.

    ``size_of(text) -> int`` reads the tree size of the stored note (the caller parses).

    Returns:
        Whether the file was written.
    """
    with _locked(path):
        current = read(path)
        if current is not None:
            try:
                if size_of(current) >= size:
                    return False
            except ValueError:
                pass  # an unreadable file is replaced by a good one (start-up refuses it)
        remove_stale(path.parent)  # what a killed run left (only files no live run holds)
        staged = StagedFile(path, 0o600)
        try:
            data = note_text.encode("utf-8")
            while data:
                data = data[os.write(staged.fd, data) :]
        except BaseException:
            staged.discard()
            raise
        staged.publish(force=True)  # readers see the old checkpoint or the new one
    return True
