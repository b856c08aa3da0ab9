"""The `rwc` console script's entry point (pycontainer/cli/entry.py) says what `run` says.

The entry point keeps argparse's own messages in English without gettext's look-ups (issue
15): the help and every usage error must come out exactly as through
:func:`pycontainer.cli.main.run`, which leaves argparse as it is, in both languages.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from pycontainer.cli.main import run

PROBE = (
    "import sys\n"
    "from pycontainer.cli.entry import main\n"
    "sys.stderr = sys.stdout\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "print(code)\n"
)


@pytest.mark.parametrize("lang", ["en_US.UTF-8", "ja_JP.UTF-8"])
@pytest.mark.parametrize(
    "argv",
    [["--help"], ["cat", "--help"], ["cat"], ["cat", "a.rwc", "--bogus"], ["sael"], ["open"]],
)
def test_entry_point_says_what_run_says(
    argv: list[str], lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # the help's width, read from os.environ
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": lang, "COLUMNS": "100"}
    out = io.StringIO()
    code = run(argv, env=env, stdout=out, stderr=out)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env={**env, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert done.stdout == f"{out.getvalue()}{code}\n", done.stderr
