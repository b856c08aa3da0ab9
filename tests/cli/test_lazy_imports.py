"""The `rwc` command imports only what a subcommand uses (issue 15: start-up of small opens).

Every `rwc` run builds the parsers of all subcommands, so the modules that only some of them
need (the HTTP client and requests, the container reader and writer with construct,
cryptography, argon2 and voprf, rich's progress bars) must not be imported by the parser
modules themselves. Checked in a fresh interpreter: which modules got imported, not how long
it took (timings live in bench/).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pycontainer

HEAVY = (
    "requests",
    "urllib3",
    "rich",
    "construct",
    "cryptography",
    "argon2",
    "voprf",
    "pycontainer.reader",
    "pycontainer.writer",
    "pycontainer.client.keyserver",
    "importlib.metadata",  # --version only
)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import pycontainer",
        "import pycontainer.cli.main",
        # --help and usage errors build every parser and stop there.
        "from pycontainer.cli.main import build_parser; build_parser()",
    ],
)
def test_parsers_import_nothing_heavy(code: str) -> None:
    loaded = _loaded_after(code)
    assert sorted(h for h in HEAVY if h in loaded) == []


def test_public_names_load_on_first_use() -> None:
    for name in pycontainer.__all__:
        value = getattr(pycontainer, name)
        home = sys.modules[value.__module__]
        assert getattr(home, name) is value, name
    assert set(pycontainer.__all__) <= set(dir(pycontainer))
    with pytest.raises(AttributeError):
        pycontainer.no_such_name  # noqa: B018


def test_key_server_client_uses_the_standard_library() -> None:
    # rwc's HTTP client is http.client (pycontainer/client/connection.py): requests and its
    # dependencies cost more to import than a small open's whole start-up budget.
    loaded = _loaded_after("import pycontainer.client.keyserver")
    heavy = ("requests", "urllib3", "charset_normalizer", "idna", "importlib.metadata")
    assert sorted(h for h in heavy if h in loaded) == []
