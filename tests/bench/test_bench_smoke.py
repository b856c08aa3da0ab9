"""Smoke test of the benchmark harness: it runs and produces figures (never timings).

The quick container bench at a tiny size (4 MiB file, 4 MiB per AESGCM sweep point) takes
about 10 s on 2 cores; the key-server bench is not run here (it needs wrk, Tang and tens of
seconds per figure).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import tools
from tests.support.requirements import missing

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


def test_missing_tool_names_the_apt_command() -> None:
    with pytest.raises(tools.MissingToolError) as info:
        tools.require("rwc-no-such-tool", "rwc-no-such-package")
    message = str(info.value)
    assert "apt-get install -y rwc-no-such-package" in message
    assert "rwc-no-such-tool" in message


def test_find_locates_libexec_tools() -> None:
    assert tools.find("sh") is not None
    assert tools.find("rwc-no-such-tool") is None


def test_quick_container_bench_produces_figures(tmp_path: Path) -> None:
    absent = [t for t in ("age", "age-keygen", "openssl", "time") if tools.find(t) is None]
    if absent:
        missing(", ".join(absent), "apt-get install -y age openssl time")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--only",
            "container",
            "--quick",
            "--size",
            "4M",
            "--sweep-size",
            "4M",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "RECOMMENDATION: default chunk_log2 =" in proc.stdout
    figures = json.loads(out.read_text())["container"]
    files = figures["files"]
    for name in (
        "age seal",
        "age open",
        "rwc workers=1 seal",
        "rwc workers=1 open",
        "rwc default seal",
        "rwc default open",
        "rwc default open+extract",
    ):
        assert files[name]["mib_s"] > 0, name
        assert files[name]["peak_rss_mib"] > 0, name
    assert figures["openssl_ceiling_mib_s"] > 0
    assert 12 <= figures["recommended_chunk_log2"] <= 24
    assert set(figures["aesgcm_sweep_mib_s"]["2"]) == {"12", "14", "16", "18", "20", "22", "24"}
    assert figures["kdf_seconds"]["default"] > 0
    assert {t["verdict"] for t in figures["targets"]} <= {"MET", "MISSED", "n/a"}


def test_quick_command_bench_produces_figures(tmp_path: Path) -> None:
    """Whole rwc processes against a live key server, next to age and clevis + Tang."""
    needed = ("age", "age-keygen", "time", "clevis", "tangd", "tangd-keygen", "socat", "jose")
    absent = [t for t in needed if tools.find(t) is None]
    if absent:
        missing(", ".join(absent), "apt-get install -y age time clevis tang socat jose")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--only",
            "commands",
            "--quick",
            "--size",
            "4M",
            "--small-runs",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    figures = json.loads(out.read_text())["commands"]
    small = figures["small"]
    for name in ("rwc cat", "rwc open", "age -d", "clevis decrypt (Tang)"):
        assert small[name]["seconds"] > 0, name
        assert small[name]["peak_rss_mib"] > 0, name
    assert small["startup"]["interpreter_s"] > 0
    assert small["startup"]["imports_s"] > 0
    measured = [k for k, v in figures["sizes"].items() if "skipped" not in v]
    assert measured, figures["sizes"]
    for key in measured:
        for name in ("rwc seal", "age seal", "rwc open", "age open", "rwc cat", "age cat"):
            assert figures["sizes"][key][name]["mib_s"] > 0, (key, name)
            assert figures["sizes"][key][name]["peak_rss_mib"] > 0, (key, name)
    verdicts = {t["verdict"] for t in figures["targets"]}
    assert verdicts <= {"MET", "MISSED"}
    # 3 rows per measured size and storage, plus the small-container rows.
    assert len(figures["targets"]) == 3 * len(measured) + 3


def test_audit_verify_bench_produces_figures(tmp_path: Path) -> None:
    """The 1,000,000-entry verify bench at 2,000 entries: every figure is there."""
    if tools.find("time") is None:
        missing("GNU time", "apt-get install -y time")
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--only",
            "audit",
            "--audit-entries",
            "2000",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    figures = json.loads(out.read_text())["audit"]
    backends = [row["backend"] for row in figures["rows"]]
    assert backends == ["sqlite", "postgresql"], proc.stderr[-2000:]
    for row in figures["rows"]:
        # One entry (the auditor's principal.add) exists before the built ones.
        assert row["entries"] == row["remote_entries"] - 1000 == 2001, row
        assert row["incremental_entries"] == 1000
        for key in ("local_s", "incremental_s", "remote_s", "remote_server_rss_mib"):
            assert row[key] > 0, key
