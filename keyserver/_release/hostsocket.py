"""Where the host committer's socket lives: a private directory, and the stale ones removed.

``serve --workers N`` (keyserver/_cli/workers.py) makes the committer's listening socket
before it forks (:func:`make_listener`), so that it outlives any one committer process
(keyserver/_release/hostcommit.py: what is said over it). Security: the socket is made 0600
in a directory of mode 0700 (no other user can connect, nor change the directory); the
committer also checks its peer's uid. A supervisor killed with SIGKILL never removes its
directory: the next one removes it (:func:`remove_stale`), and only what is certainly a
dead committer's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

SOCKET_TYPE = socket.SOCK_SEQPACKET  # one message per send: no framing to get wrong
#: Where the supervisor puts the socket: ``<tmp>/keyserver-committer-XXXX/release.sock``.
SOCKET_DIR_PREFIX = "keyserver-committer-"
SOCKET_NAME = "release.sock"
#: How old a socket directory (or its socket) must be to count as a killed supervisor's.
GRACE_S = 60.0


def listen(path: str, backlog: int = 16) -> socket.socket:
    """The committer's listening socket at ``path`` (its directory should be 0700).

    Made by the supervisor before it forks, so it outlives any one committer process.
    """
    sock = socket.socket(socket.AF_UNIX, SOCKET_TYPE)
    try:
        # 0600 from the start: no moment at which another user could connect.
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def make_listener(backlog: int, parent: str | None = None) -> tuple[str, socket.socket]:
    """A fresh 0700 directory in ``parent`` (the temporary directory) and the socket in it.

    The supervisor removes the directory when it stops; one it never removed (it was
    killed with SIGKILL) is removed here first, by the next supervisor of this user
    (:func:`remove_stale`), so they do not pile up in /tmp.

    Returns:
        The directory, and the listening socket at ``SOCKET_NAME`` in it.
    """
    parent = parent or tempfile.gettempdir()
    remove_stale(parent)
    sockdir = tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX, dir=parent)  # 0700
    try:
        return sockdir, listen(str(Path(sockdir) / SOCKET_NAME), backlog)
    except BaseException:
        shutil.rmtree(sockdir, ignore_errors=True)
        raise


def remove_stale(parent: str) -> list[str]:
    """Remove the committer socket directories in ``parent`` nobody listens on any more.

    Security: only what is certainly a dead committer's is removed: a real directory
    (not a symlink) of this user, mode 0700, holding nothing but a socket of this user
    made more than GRACE_S ago on which a connection is refused (no process holds the
    listener: its supervisor and every committer and worker, which inherit it, are
    gone), or nothing at all for GRACE_S (a supervisor killed between making the
    directory and binding in it). The grace keeps a supervisor starting at this moment
    safe: its directory is empty until it binds, and its socket refuses connections
    between bind and listen. Anything else is left as it is. The directory is 0700, so no
    other user can change it between the checks and the removal.

    Returns:
        The directories removed.
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            if entry.name.startswith(SOCKET_DIR_PREFIX) and _stale(entry.path):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed


def _stale(sockdir: str) -> bool:
    try:
        st = os.lstat(sockdir)
        if (
            not stat.S_ISDIR(st.st_mode)
            or st.st_uid != os.geteuid()
            or stat.S_IMODE(st.st_mode) != 0o700
        ):
            return False
        names = [p.name for p in Path(sockdir).iterdir()]
        if not names:
            return time.time() - st.st_mtime > GRACE_S
        if names != [SOCKET_NAME]:
            return False
        path = str(Path(sockdir) / SOCKET_NAME)
        sock_st = os.lstat(path)
        if (
            not stat.S_ISSOCK(sock_st.st_mode)
            or sock_st.st_uid != os.geteuid()
            or time.time() - sock_st.st_mtime <= GRACE_S
        ):
            return False
        with socket.socket(socket.AF_UNIX, SOCKET_TYPE) as probe:
            # A live committer accepts and sees this connection close at once (no
            # message: nothing is committed); a full backlog times out: kept.
            probe.settimeout(1.0)
            probe.connect(path)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False
