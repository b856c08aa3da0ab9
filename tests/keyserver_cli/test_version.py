"""``keyserver --version``: the package's constant, as ``rwc --version`` prints (issue 15)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import keyserver
import pycontainer
from tests.support.keyserver_cli import run


def test_version_is_the_distributions() -> None:
    # pyproject.toml builds the distribution's version from pycontainer.__version__;
    # keyserver's is the same object, so the installed metadata, `rwc --version` and
    # `keyserver --version` cannot differ.
    assert keyserver.__version__ == pycontainer.__version__ == importlib.metadata.version("rwc")
    done = run("--version")
    expected = (0, f"keyserver {keyserver.__version__}\n", "")
    assert (done.returncode, done.stdout, done.stderr) == expected


def test_version_reads_no_metadata() -> None:
    # importlib.metadata read the same string back from the installed distribution's files
    # on every parser build, i.e. every `keyserver` command (issue 15). An audit hook sees
    # every file the run opens: none of the distribution's metadata.
    probe = [
        "import sys; opened = []",
        "sys.addaudithook(lambda e, a: e == 'open' and opened.append(str(a[0])))",
        "from keyserver._cli.main import main",
        "code = main(['--version'])",
        "print(code, [p for p in opened if '.dist-info' in p or 'METADATA' in p])",
    ]
    argv = [sys.executable, "-c", "\n".join(probe)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr
