"""The reader and extraction run without POSIX-only calls (spec: a reader for Windows/macOS).

City clerks mostly work on Windows, where ``os.pread``, ``os.pwrite``, ``os.preadv``,
``O_NOFOLLOW``, ``O_CLOEXEC``, ``O_NONBLOCK`` and ``O_DIRECTORY`` do not exist. This test
runs the reader, extraction and vector test suites once more in a fresh interpreter from
which those names were removed before anything was imported, so every call goes through
the fallbacks of pycontainer/_portable.py (and any direct use fails the run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = (
    "pread",
    "pwrite",
    "preadv",
    "pwritev",
    "O_NOFOLLOW",
    "O_CLOEXEC",
    "O_NONBLOCK",
    "O_DIRECTORY",
)
SUITES = (
    "tests/container/test_roundtrip.py",
    "tests/container/test_paths.py",
    "tests/container/test_entry_reader.py",
    "tests/container/test_tamper.py",
    "tests/vectors/test_vectors.py",
    "tests/portable/test_pwrite_pieces.py",
)
# Not rerun: 2,400 opens of one 300-byte container, each down the same fallback reads
# (~1.9 of the rerun's ~6 CPU-s). The layers its flips reach are each opened through the
# fallbacks here by the negative vectors (parser, server proof, header MAC, payload) and by
# the other tamper tests; the test itself runs in the suite with the POSIX calls.
NOT_RERUN = ("tests/container/test_tamper.py::test_every_single_bit_flip_is_rejected",)
RUNNER = f"""
import os, sys
for name in {HIDDEN!r}:
    if hasattr(os, name):
        delattr(os, name)
import pytest
from pycontainer import _portable
assert _portable.flag("O_NOFOLLOW") == 0 and not hasattr(os, "pread")
# No hypothesis or anyio plugin: none of SUITES uses them, and loading them costs ~0.9 and
# ~0.2 CPU-s per run (anyio's imports trio).
sys.exit(pytest.main([
    "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio", *sys.argv[1:]
]))
"""


@pytest.mark.slow
def test_reader_and_extraction_without_posix_calls(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            *SUITES,
            *(f"--deselect={test}" for test in NOT_RERUN),
            "--basetemp",
            str(tmp_path / "t"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert f"{len(NOT_RERUN)} deselected" in run.stdout, run.stdout[-2000:]
