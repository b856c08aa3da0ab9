"""The files the ``keyserver`` command writes appear whole or not at all (spec §backup).

A backup, an audit export or a ``--state`` file is often written to a USB stick, and
those are FAT/exFAT: no hard links, no ``O_TMPFILE``. The publish is therefore rwc's ONE
atomic publish (pycontainer/_engine/staging.py, tested with ``os.link`` forced to fail):
a hidden, locked temporary file beside the destination, fsync, then a link that never
overwrites (or, without hard links, a checked rename), or an atomic replace where asked;
a file left by a killed run is removed by the next one. Both commands share it, as they
share the server-URL policy.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from keyserver._cli.errors import EXIT_FAILURE, EXIT_USAGE, CliError
from keyserver._domain.i18n import N_
from pycontainer._engine.staging import StagedFile, remove_stale
from pycontainer.errors import OutputExistsError

# What writing the file itself can meet (a full or read-only stick, a pulled one); other
# errors of the block (a dropped connection of a remote export) are the caller's.
_MEDIUM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


@contextmanager
def written(
    dest: Path, *, replace: bool = False, named: bool = False, mode: int = 0o600
) -> Iterator[StagedFile]:
    """A file that appears at ``dest`` only when the block completes.

    Args:
        dest: The file to create (refused if it exists, unless ``replace``).
        replace: Replace an existing ``dest`` atomically (readers see old or new).
        named: Give the temporary file a name (``StagedFile.path``) for writers that
            need one; otherwise write to ``StagedFile.fd``.
        mode: Its permission bits; 0600 unless what it holds is public.

    Raises:
        CliError: ``dest`` exists (usage), or it cannot be written (no room, read-only):
            a clear line instead of a traceback, and nothing left behind.
    """
    if not replace and dest.exists():
        raise _exists(dest)
    try:
        remove_stale(dest.parent)
        # 0600 by default: a backup holds sealed seeds (spec §keys-at-rest).
        staged = StagedFile(dest, mode, anonymous=False if named else None)
    except OSError as exc:
        raise _unwritable(dest, exc) from None
    try:
        yield staged
    except OSError as exc:
        staged.discard()
        if exc.errno in _MEDIUM_ERRORS:
            raise _unwritable(dest, exc) from None
        raise
    except BaseException:
        staged.discard()
        raise
    try:
        staged.publish(force=replace)
    except OutputExistsError:
        raise _exists(dest) from None
    except OSError as exc:
        raise _unwritable(dest, exc) from None


@contextmanager
def written_text(
    dest: Path, *, encoding: str = "utf-8", replace: bool = False, mode: int = 0o600
) -> Iterator[TextIO]:
    """:func:`written`, as a text stream (flushed before the file is published)."""
    with (
        written(dest, replace=replace, mode=mode) as staged,
        os.fdopen(os.dup(staged.fd), "w", encoding=encoding) as fh,
    ):
        yield fh


def write_bytes(dest: Path, data: bytes, *, replace: bool = False, mode: int = 0o600) -> None:
    """:func:`written`, with ``data`` as the whole file."""
    with (
        written(dest, replace=replace, mode=mode) as staged,
        os.fdopen(os.dup(staged.fd), "wb") as fh,
    ):
        fh.write(data)


def create_secret(dest: Path, data: bytes) -> None:
    """Create a new secret file (a key) holding ``data``: 0600, whole or not at all.

    The master key, the transparency log's key and a witness's key are made here, by one
    policy: never over an existing file (a key lost by an overwrite opens nothing sealed
    under it), never half-written (a key cut short by a crash is no key), readable by its
    owner only (spec §keys-at-rest, §transparency). A missing directory is created 0700.

    Raises:
        CliError: ``dest`` exists (usage), or it cannot be written (see :func:`written`).
    """
    try:
        dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(dest, exc) from None
    write_bytes(dest, data)


def _exists(dest: Path) -> CliError:
    return CliError(
        N_("%(dest)s exists", dest=dest), hint=N_("choose another file name"), exit_code=EXIT_USAGE
    )


def _unwritable(dest: Path, exc: OSError) -> CliError:
    return CliError(
        N_(
            "cannot write %(dest)s: %(value)s; nothing was written",
            dest=dest,
            value=exc.strerror or exc,
        ),
        hint=N_("check that the directory exists, is writable and has room"),
        exit_code=EXIT_FAILURE,
    )
