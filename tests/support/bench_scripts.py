"""Run one of bench/'s load scripts as a test does: wrk required, its JSON read back.

The scripts start real servers and load them with wrk for a second per figure; a test
checks that they run and write every figure, never the figures (issue 15: no timings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import tools
from tests.support.requirements import missing

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(tmp_path: Path, script: str, *args: str) -> tuple[str, dict[str, Any]]:
    """``bench/<script> <args> --json FILE``: its stdout and the JSON it wrote.

    Temporary files (SQLite databases, wrk scripts) go under ``tmp_path``.
    """
    if tools.find("wrk") is None:
        missing("wrk", "apt-get install -y wrk")
    where = tmp_path / "tmp"
    where.mkdir()
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--json", str(out)],
        env={**os.environ, "TMPDIR": str(where)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    figures: dict[str, Any] = json.loads(out.read_text())
    return proc.stdout, figures
