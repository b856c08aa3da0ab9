"""``serve --workers N`` with the host committer where its socket cannot be made.

The committer's Unix socket lives in a fresh directory of the temporary directory
(keyserver/_release/hostcommit.py, make_listener); a socket's path has room for ~107 bytes,
so a long TMPDIR cannot hold it. The server then refuses to start with a sentence that
says what to do, not a traceback, and leaves no directory behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.keyserver_cli import KEYSERVER_BIN, TIMEOUT, clean_env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the host committer")
def test_a_tmpdir_too_long_for_the_socket_is_said(data_dir: Any, tmp_path: Path) -> None:
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    argv = [KEYSERVER_BIN, "serve", "--data-dir", data_dir.path, "--port", "0", "--workers", "2"]
    done = subprocess.run(
        [os.fspath(a) for a in argv],
        env=clean_env(KEYSERVER_HOST_COMMITTER="true", TMPDIR=str(deep)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        f"keyserver: error: cannot make the release committer's socket in {deep}: " in done.stderr
    )
    assert "set TMPDIR to a short local directory" in done.stderr
    assert list(deep.iterdir()) == []
