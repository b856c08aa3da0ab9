"""`rwc` run in process (``pycontainer.cli.main.run``), as the tests of tests/cli run it.

Its own configuration directory (``XDG_CONFIG_HOME``: the token store) and only the
environment the test gives; stdout as bytes (``cat`` writes a file's bytes), stderr as text.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycontainer.cli.main import run


@dataclass
class Result:
    """What one run printed, and its exit code."""

    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)

    def err_json(self) -> Any:
        """The ``--json`` error document (the last line on stderr)."""
        return json.loads(self.err.strip().splitlines()[-1])


def run_rwc(home: Path, *argv: str, env: dict[str, str]) -> Result:
    """``rwc ARGV`` with ``home`` as its XDG_CONFIG_HOME and ``env`` (nothing else)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    err = io.StringIO()
    code = run(list(argv), env={"XDG_CONFIG_HOME": str(home), **env}, stdout=out, stderr=err)
    out.flush()
    return Result(code, raw.getvalue(), err.getvalue())
