"""`make demo` as a test: run demo/demo.py with the venv's Python; it must succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.e2e import SMALL_ARGON2

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RWC_", "KEYSERVER_"))}
    # The demo works in a temporary directory (its key server's SQLite, the sealed stick):
    # under tmp_path, on tmpfs when tests/conftest.py found room there, its ~80 fsyncs do
    # not wait for this VM's disk (~7 ms each, more under load) with the core idle.
    env["TMPDIR"] = str(tmp_path)
    # The story, not the sizes: 500 rows, and the suite's small Argon2id (the default one
    # costs ~0.2 CPU-s in every seal and open with the password; `make demo` keeps it).
    memory, passes, lanes = SMALL_ARGON2
    kdf = ["--kdf-memory", memory, "--kdf-time", passes, "--kdf-parallelism", lanes]
    proc = subprocess.run(
        [sys.executable, str(REPO / "demo" / "demo.py"), "--rows", "500", *kdf],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in err
    # The story's landmarks, in order.
    landmarks = ["seals", "opens", "lost", "did you mean", "refused", "possibly opened", "audit"]
    positions = [out.lower().find(word) for word in landmarks]
    assert all(p >= 0 for p in positions), out
    assert positions == sorted(positions), out
    # The residents the export covers, as the contractor declared them at sealing, said
    # back then and in the medium report (spec §report "How many people"; issue 12).
    assert "holds personal data of 500 people" in out, out
    assert "Personal data: up to 500 people" in out, out
