"""The saturation sweep goes on until each configuration's peak is behind it (issue 15).

bench/scaling.py: a sweep doubles the connections until the rate falls or p99 passes the
latency bound a clerk would notice, and a peak is only a point within that bound with a
point measured after it; bench/saturation.py runs every configuration's sweep that way.
The twentieth to twenty-second runs' 2-process peaks all sat at the fixed sweep's last
count (bench/profiles/keyserver.md, "Session 23"). Figures are made up; nothing is timed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def scaling(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/scaling.py, imported as the bench does (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("scaling")


def _p(connections: int, rps: float, p99_ms: float = 50.0) -> dict[str, Any]:
    return {
        "connections": connections,
        "rps": rps,
        "p50_ms": p99_ms / 3,
        "p99_ms": p99_ms,
        "all_ms": 1.0,
        "busy": 1.0,
        "load": 1.0,
        "jobs_per_batch": None,
    }


def test_the_sweep_doubles_while_the_rate_rises_within_the_bound(scaling: ModuleType) -> None:
    assert scaling.next_connections([]) == 32
    assert scaling.next_connections([], first=16) == 16
    rising = [_p(16, 1000.0), _p(32, 1500.0), _p(64, 1900.0), _p(128, 2100.0)]
    # The old sweep stopped at 128 whatever the rate did there.
    assert scaling.next_connections(rising) == 256
    assert scaling.next_connections([*rising, _p(256, 2200.0, 200.0)]) == 512
    # A higher rate bought with a p99 past the bound ends the sweep.
    assert scaling.next_connections([*rising, _p(256, 2300.0, 251.0)]) is None


def test_the_sweep_ends_when_the_rate_stops_rising(scaling: ModuleType) -> None:
    # One point under the best may be a dip of a loaded moment: the sweep goes on ...
    dip = [_p(16, 1000.0), _p(32, 1500.0), _p(64, 1400.0)]
    assert scaling.next_connections(dip) == 128
    assert scaling.next_connections([*dip, _p(128, 1700.0)]) == 256
    # ... two in a row not above it (fell, or level within RATE_RISE) end it.
    assert scaling.next_connections([*dip, _p(128, 1450.0)]) is None
    level = [_p(16, 1000.0), _p(32, 1500.0), _p(64, 1520.0), _p(128, 1510.0)]
    assert scaling.next_connections(level) is None
    # And at SWEEP_MAX, where the peak may be censored (peak() says so).
    top = scaling.SWEEP_MAX
    assert scaling.next_connections([_p(top // 2, 900.0), _p(top, 1000.0)]) is None


def test_a_peak_is_inside_the_sweep_and_within_the_bound(scaling: ModuleType) -> None:
    # 128 connections had the highest rate, bought with a p99 over the bound: not a peak.
    points = [_p(32, 1500.0), _p(64, 1900.0), _p(128, 2000.0, 300.0)]
    best = scaling.peak(points)
    assert (best["connections"], best["rps"], best["edge"]) == (64, 1900.0, None)
    # The sweep's last point is not a peak: flagged, so the table cannot pass it off.
    censored = scaling.peak([_p(32, 1500.0), _p(64, 1900.0)])
    assert (censored["connections"], censored["edge"]) == (64, "last point")
    # The last point, level with the one before (+1%): the rate had stopped rising.
    level = scaling.peak([_p(32, 1500.0), _p(64, 1900.0), _p(128, 1920.0)])
    assert (level["connections"], level["edge"]) == (128, None)
    # Every point over the bound (a loaded machine): the best of them, flagged.
    over = scaling.peak([_p(32, 900.0, 400.0), _p(64, 950.0, 600.0)])
    assert (over["connections"], over["edge"]) == (64, "over the bound")


def test_each_configuration_is_judged_at_its_own_peak(
    scaling: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # One worker peaks at 64; two go on rising to 128 and fall at 256. Cut to the counts
    # both were measured at (the old rule) the two would be judged at 64: 1,700 / 1,000.
    row: dict[str, Any] = {"series": "rwc PostgreSQL workers", "keepalive": True, "p50_ms": 1.0}
    one: dict[str, Any] = {
        **row,
        "name": "rwc PostgreSQL, 1 worker(s)",
        "processes": 1,
        "rps": 700.0,
        "p99_ms": 20.0,
        "sweep": [_p(32, 900.0), _p(64, 1000.0), _p(128, 950.0, 200.0)],
    }
    two: dict[str, Any] = {
        **row,
        "name": "rwc PostgreSQL, 2 worker(s)",
        "processes": 2,
        "rps": 900.0,
        "p99_ms": 20.0,
        "sweep": [
            _p(32, 1300.0),
            _p(64, 1700.0),
            _p(128, 1900.0, 180.0),
            _p(256, 1800.0, 240.0),
        ],
    }
    one_only = {**one, "sweep": one["sweep"][:2]}
    (judged,) = scaling.scaling([one_only, two])
    assert (judged["peak_one"]["connections"], judged["peak_two"]["connections"]) == (64, 128)
    assert judged["peak_ratio"] == pytest.approx(1.9)
    assert judged["peak_one"]["edge"] == "last point"
    assert judged["peak_two"]["edge"] is None
    monkeypatch.syspath_prepend(str(BENCH))
    scaling.print_scaling([judged])
    table = capsys.readouterr().out.split("-- Saturation")[1]
    assert "1,000 at 64 (NOT A PEAK: the sweep's last point)" in table
    assert "1,900 at 128 |" in table
    (full,) = scaling.scaling([one, two])
    assert full["peak_one"]["edge"] is None


def _model(cap: float, knee: int) -> Any:
    """A server whose rate rises linearly to ``cap`` at ``knee`` connections, then falls
    5% per doubling; p99 from Little's law."""

    def measure(target: str, connections: int) -> dict[str, Any]:
        rps = cap * min(connections / knee, 1.0)
        rps *= 0.95 ** max(0, (connections // knee).bit_length() - 1)
        return {"series": target, **_p(connections, rps, 2000 * connections / rps)}

    return measure


def test_saturation_sweeps_each_configuration_to_its_own_peak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    saturation = importlib.import_module("saturation")
    models = {"one": _model(1000.0, 32), "two": _model(1900.0, 64)}
    points = saturation.sweeps(["one", "two"], 2, None, lambda t, c: models[t](t, c))
    measured = [(p["series"], p["connections"]) for p in points]
    round_one = [
        ("one", 16),
        ("two", 16),
        ("one", 32),
        ("two", 32),
        ("one", 64),  # one: its rate fell here ...
        ("two", 64),
        ("one", 128),  # ... and again: its sweep ends
        ("two", 128),  # two: fell here ...
        ("two", 256),  # ... and again
    ]
    # The second round repeats each configuration's counts (a median per count).
    assert measured == round_one + round_one
    assert saturation.peak([p for p in points if p["series"] == "two"])["connections"] == 64
    # Fixed counts (--connections 2,4) are measured as given, every configuration alike.
    fixed = saturation.sweeps(["one", "two"], 1, [2, 4], lambda t, c: models[t](t, c))
    assert [(p["series"], p["connections"]) for p in fixed] == [
        ("one", 2),
        ("two", 2),
        ("one", 4),
        ("two", 4),
    ]


def test_a_higher_bound_lets_a_loaded_machine_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a machine others load, p99 passes 250 ms at the first count, and the bench's rule
    # ends every sweep there; saturation.py --latency-bound lifts it for CPU comparisons.
    monkeypatch.syspath_prepend(str(BENCH))
    saturation = importlib.import_module("saturation")

    def slow(target: str, connections: int) -> dict[str, Any]:
        return {"series": target, **_p(connections, 50.0 * min(connections, 64), 400.0)}

    assert [p["connections"] for p in saturation.sweeps(["one"], 1, None, slow)] == [16]
    lifted = saturation.sweeps(["one"], 1, None, slow, 2000.0)
    assert [p["connections"] for p in lifted] == [16, 32, 64, 128, 256]
    (scaled,) = saturation.ratios(
        [{**p, "processes": n} for n in (1, 2) for p in lifted], 16, 2000.0
    )
    assert (scaled["peak_one"]["connections"], scaled["peak_one"]["edge"]) == (64, None)


def test_the_bench_sweeps_its_configurations_in_step_from_their_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # scale18: the bench swept each configuration whole before the next, so a 2-process
    # peak was divided by a 1-process one measured minutes earlier (the VM drifts). Now
    # every configuration of a series takes its next count in turn, each from its own
    # row at 16 connections, and ends on its own (scaling.next_connections).
    monkeypatch.syspath_prepend(str(BENCH))
    kb = importlib.import_module("keyserver_bench")
    models = {"one": _model(1000.0, 32), "two": _model(1900.0, 64)}
    order: list[tuple[str, int]] = []

    def config(name: str) -> Any:
        row = {"rps": models[name](name, 16)["rps"], "p50_ms": 5.0, "p99_ms": 20.0}

        def load(connections: int) -> Any:
            order.append((name, connections))
            return kb.WrkResult(
                rps=models[name](name, connections)["rps"],
                p50_ms=5.0,
                p99_ms=20.0,
                requests=1000,
                errors=0,
                error_kinds="",
            )

        return kb.Swept(row, load, [])

    # CPU from /proc of no process: the sweep's own figures are what is checked.
    monkeypatch.setattr(kb, "with_cpu", lambda _g, fn, _u="", parts=None: (fn(), 0.0, None))
    one, two = config("one"), config("two")
    kb.sweep_in_step([one, two])
    assert order == [
        ("one", 32),
        ("two", 32),
        ("one", 64),  # one: its rate fell here ...
        ("two", 64),
        ("one", 128),  # ... and again: its sweep ends
        ("two", 128),
        ("two", 256),
    ]
    assert [p["connections"] for p in one.row["sweep"]] == [32, 64, 128]
    assert [p["connections"] for p in two.row["sweep"]] == [32, 64, 128, 256]
    assert all("target" not in p for p in two.row["sweep"])
