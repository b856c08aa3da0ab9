"""bench/saturation.py: every configuration over a sweep of connections, and its peak.

Issue 15 (bench/README.md, "Session 20: scaling at saturation"): the scaling target is
judged with each configuration at the load where its rate peaks, not at one fixed load.
Figures here are noise (1 s points); what is checked is that the points run, every
configuration at every connection count, and that the ratios and peaks are printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench_scripts import run_script

pytestmark = pytest.mark.slow


def test_each_configuration_runs_at_each_connection_count(tmp_path: Path) -> None:
    stdout, figures = run_script(
        tmp_path,
        "saturation.py",
        *("--rounds", "1", "--duration", "1", "--containers", "5"),
        *("--connections", "2,4", "--series", "bare,SQLite"),
    )
    # 1 process right before 2, configuration after configuration, at each count.
    assert [(p["series"], p["processes"], p["connections"]) for p in figures["points"]] == [
        (series, n, conns) for conns in (2, 4) for series in ("bare", "SQLite") for n in (1, 2)
    ]
    for p in figures["points"]:
        assert p["errors"] == 0 and p["rps"] > 0 and p["all_ms"] > 0, p
    assert [r["series"] for r in figures["ratios"]] == ["bare", "SQLite"]
    for r in figures["ratios"]:
        assert r["ratio_at_peak"] > 0 and r["cpu_ratio_at_peak"] > 0, r
        assert r["peak_two"]["connections"] in (2, 4), r
    assert "2 / 1 at peaks" in stdout
