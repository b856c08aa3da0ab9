"""The transparency log's verdict: the rate's, unless its series spread wider than its change.

Issue 15: three series without the log at 812, 999 and 989 req/s and three with it at 877,
978 and 859 made the medians' -11.3% (MISSED), while the CPU per release moved less. Fed
made-up series (no load run, nothing timed); what is checked is the arithmetic and which
figure the verdict is judged on.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def tlog(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/tlog_overhead.py, imported as bench/run.py does (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("tlog_overhead")


def test_a_rate_change_inside_the_spread_is_judged_on_cpu(tlog: ModuleType) -> None:
    # The eighteenth session's series: the rate's change is inside its spread.
    v = tlog.judge([812, 999, 989], [877, 978, 859], [1.00, 1.02, 0.98], [1.03, 1.05, 1.01])
    assert v["rate_change"] == pytest.approx((877 - 989) / 989)
    assert v["rate_spread"] == pytest.approx((999 - 812) / 989)
    assert v["rate_verdict"] == "MISSED"
    assert v["cpu_change"] == pytest.approx(0.03)
    assert v["cpu_spread"] == pytest.approx(0.04)
    assert v["cpu_verdict"] == "MET"
    assert v["judged_on"].startswith("CPU per release")
    assert v["verdict"] == "MET"
    # Over the CPU budget (+11.1%), the CPU's verdict misses as well.
    over = tlog.judge([812, 999, 989], [877, 978, 859], [1.0, 1.0, 1.0], [1.2, 1.2, 1.2])
    assert (over["verdict"], over["cpu_verdict"]) == ("MISSED", "MISSED")


def test_a_rate_change_beyond_the_spread_is_judged_on_the_rate(tlog: ModuleType) -> None:
    # Tight series, the log 20% slower: the rate says it, whatever the CPU says.
    v = tlog.judge([1000, 1010, 990], [800, 805, 795], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert v["rate_spread"] == pytest.approx(0.02)
    assert v["judged_on"] == "the rate"
    assert (v["verdict"], v["rate_verdict"], v["cpu_verdict"]) == ("MISSED", "MISSED", "MET")
