"""Metrics histograms (``observe``) and the validity of the whole Prometheus text output."""

from __future__ import annotations

import math
import re
import threading
from typing import Any

import pytest

from keyserver._domain.metrics import LATENCY_BUCKETS, Metrics
from keyserver._http.routers import health

LE = [
    "0.001",
    "0.0025",
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "10.0",
    "+Inf",
]

# --- a small strict parser of the text exposition format (version 0.0.4) -------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
_LABEL = rf"{_LABEL_NAME}={_LABEL_VALUE}"
_NUMBER = r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_SAMPLE = re.compile(
    rf"^(?P<name>{_NAME})(?:\{{(?P<labels>(?:{_LABEL}(?:,{_LABEL})*,?)?)\}})?"
    rf" (?P<value>{_NUMBER})(?: -?\d+)?$"
)
_TYPE = re.compile(rf"^# TYPE (?P<name>{_NAME}) (?P<type>counter|gauge|histogram|summary|untyped)$")
_HELP = re.compile(rf"^# HELP {_NAME} .*$")
_ONE_LABEL = re.compile(rf"({_LABEL_NAME})=({_LABEL_VALUE})")

Labels = tuple[tuple[str, str], ...]


def _family(name: str, types: dict[str, str]) -> str:
    """The family a sample name belongs to (histogram suffixes stripped)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and types.get(base) == "histogram":
            return base
    return name


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, Labels, float]]]:
    """Parse exposition text strictly; return the types and the samples in order.

    Fails the test on any malformed line, a duplicate TYPE, a TYPE after its samples,
    a family split into several groups, a duplicate series, or a bad histogram.
    """
    assert text.endswith("\n"), "output must end with a newline"
    types: dict[str, str] = {}
    samples: list[tuple[str, Labels, float]] = []
    families_done: list[str] = []
    seen_series: set[tuple[str, Labels]] = set()
    for line in text[:-1].split("\n"):
        assert line, "no empty lines"
        if line.startswith("#"):
            if m := _TYPE.match(line):
                name = m["name"]
                assert name not in types, f"duplicate TYPE for {name}"
                assert name not in families_done, f"TYPE after samples of {name}"
                types[name] = m["type"]
            else:
                assert _HELP.match(line) or not line.startswith(("# TYPE", "# HELP")), line
            continue
        m = _SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        name = m["name"]
        labels: Labels = tuple(_ONE_LABEL.findall(m["labels"] or ""))
        assert len({k for k, _ in labels}) == len(labels), f"duplicate label in {line!r}"
        family = _family(name, types)
        if families_done and families_done[-1] != family:
            assert family not in families_done, f"family {family} is not contiguous"
        if not families_done or families_done[-1] != family:
            families_done.append(family)
        key = (name, labels)
        assert key not in seen_series, f"duplicate series {line!r}"
        seen_series.add(key)
        value = m["value"]
        samples.append((name, labels, float(value.replace("Inf", "inf"))))
    for family, kind in types.items():
        if kind == "histogram":
            _check_histogram(family, samples)
    return types, samples


def _check_histogram(family: str, samples: list[tuple[str, Labels, float]]) -> None:
    """Buckets cumulative and ascending, ending at +Inf == _count; _sum present."""
    buckets: dict[Labels, list[tuple[float, float]]] = {}
    sums: dict[Labels, float] = {}
    counts: dict[Labels, float] = {}
    for name, labels, value in samples:
        if name == f"{family}_bucket":
            rest = tuple(kv for kv in labels if kv[0] != "le")
            (le,) = [v for k, v in labels if k == "le"]
            buckets.setdefault(rest, []).append((float(le.strip('"').replace("Inf", "inf")), value))
        elif name == f"{family}_sum":
            sums[labels] = value
        elif name == f"{family}_count":
            counts[labels] = value
        else:
            assert name != family, f"bare sample {name} in histogram"
    assert buckets, f"histogram {family} without buckets"
    assert set(buckets) == set(sums) == set(counts)
    for labels, series in buckets.items():
        bounds = [b for b, _ in series]
        values = [v for _, v in series]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf
        assert values == sorted(values), "buckets must be cumulative"
        assert values[-1] == counts[labels]


# --- tests -----------------------------------------------------------------------------


def _buckets(text: str, name: str, labels: str = "") -> list[int]:
    """Cumulative bucket values of one series, in output order."""
    pattern = re.compile(rf'^{name}_bucket\{{{re.escape(labels)}le="([^"]+)"\}} (\d+)$', re.M)
    found = pattern.findall(text)
    assert [le for le, _ in found] == LE
    return [int(v) for _, v in found]


def test_buckets_constant() -> None:
    assert LATENCY_BUCKETS == (
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    )


def test_counters_and_gauges_unchanged() -> None:
    m = Metrics()
    m.inc("rwc_refusals_total", action="evaluate", reason="not-allowed")
    m.inc("rwc_evaluations_total", 2, mode="seal")
    m.inc("rwc_receipts_total")
    text = m.render({'rwc_containers{state="active"}': 3, 'rwc_containers{state="destroyed"}': 0})
    assert text == (
        "# TYPE rwc_evaluations_total counter\n"
        'rwc_evaluations_total{mode="seal"} 2\n'
        "# TYPE rwc_receipts_total counter\n"
        "rwc_receipts_total 1\n"
        "# TYPE rwc_refusals_total counter\n"
        'rwc_refusals_total{action="evaluate",reason="not-allowed"} 1\n'
        "# TYPE rwc_containers gauge\n"
        'rwc_containers{state="active"} 3\n'
        'rwc_containers{state="destroyed"} 0\n'
    )
    assert m.render() == text.split("# TYPE rwc_containers")[0]
    parse(text)


def test_empty_render() -> None:
    assert Metrics().render() == "\n"


def test_single_observation_exact_text() -> None:
    m = Metrics()
    m.observe("rwc_evaluate_seconds", 0.003, outcome="ok")
    expected = ["# TYPE rwc_evaluate_seconds histogram"]
    expected += [
        f'rwc_evaluate_seconds_bucket{{outcome="ok",le="{le}"}} {0 if i < 2 else 1}'
        for i, le in enumerate(LE)
    ]
    expected += [
        'rwc_evaluate_seconds_sum{outcome="ok"} 0.003',
        'rwc_evaluate_seconds_count{outcome="ok"} 1',
    ]
    assert m.render() == "\n".join(expected) + "\n"


@pytest.mark.parametrize("index", range(len(LATENCY_BUCKETS)))
def test_bounds_are_inclusive(index: int) -> None:
    """A value equal to a bound counts in that bucket (le = less than or equal)."""
    m = Metrics()
    bound = LATENCY_BUCKETS[index]
    m.observe("h", bound)
    m.observe("h", math.nextafter(bound, math.inf))
    got = _buckets(m.render(), "h")
    assert got[:index] == [0] * index
    assert got[index] == 1
    assert got[index + 1 :] == [2] * (len(LE) - index - 1)


def test_cumulative_counts_sum_and_count() -> None:
    m = Metrics()
    values = [0.0, 0.0005, 0.001, 0.002, 0.07, 0.07, 0.3, 1.0, 9.9, 10.0, 10.5, 1000.0]
    for v in values:
        m.observe("rwc_evaluate_seconds", v, outcome="ok")
    text = m.render()
    expected = [sum(1 for v in values if v <= b) for b in LATENCY_BUCKETS] + [len(values)]
    assert _buckets(text, "rwc_evaluate_seconds", 'outcome="ok",') == expected
    (total,) = re.findall(r'^rwc_evaluate_seconds_sum\{outcome="ok"\} (\S+)$', text, re.M)
    assert float(total) == pytest.approx(sum(values))
    assert f'rwc_evaluate_seconds_count{{outcome="ok"}} {len(values)}\n' in text
    parse(text)


def test_labels_make_separate_sorted_series() -> None:
    m = Metrics()
    m.observe("rwc_evaluate_seconds", 0.02, outcome="refused")
    m.observe("rwc_evaluate_seconds", 0.2, outcome="ok")
    m.observe("rwc_evaluate_seconds", 0.3, outcome="ok")
    m.observe("multi", 0.1, zeta="z", alpha="a")
    m.observe("multi", 0.1, alpha="a", zeta="z")
    text = m.render()
    assert text.count("# TYPE rwc_evaluate_seconds histogram\n") == 1
    assert _buckets(text, "rwc_evaluate_seconds", 'outcome="ok",')[-1] == 2
    assert _buckets(text, "rwc_evaluate_seconds", 'outcome="refused",')[-1] == 1
    assert text.index('outcome="ok"') < text.index('outcome="refused"')
    assert _buckets(text, "multi", 'alpha="a",zeta="z",')[-1] == 2
    assert 'multi_count{alpha="a",zeta="z"} 2\n' in text
    assert 'multi_sum{alpha="a",zeta="z"} 0.2\n' in text
    types, _ = parse(text)
    assert types == {"multi": "histogram", "rwc_evaluate_seconds": "histogram"}


def test_unlabelled_histogram() -> None:
    m = Metrics()
    m.observe("plain_seconds", 0.5)
    text = m.render()
    assert 'plain_seconds_bucket{le="0.5"} 1\n' in text
    assert "plain_seconds_sum 0.5\nplain_seconds_count 1\n" in text
    parse(text)


def test_rejects_nan_le_label_and_counter_name() -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="histogram observation is NaN"):
        m.observe("h", math.nan)
    with pytest.raises(ValueError, match="'le' is reserved for histogram buckets"):
        m.observe("h", 0.1, le="1")
    m.inc("c_total")
    with pytest.raises(ValueError, match="c_total is already a counter"):
        m.observe("c_total", 0.1)
    assert m.render() == "# TYPE c_total counter\nc_total 1\n"


def test_infinite_observation_renders() -> None:
    m = Metrics()
    m.observe("h", math.inf)
    text = m.render()
    assert 'h_bucket{le="10.0"} 0\nh_bucket{le="+Inf"} 1\nh_sum +Inf\nh_count 1\n' in text
    parse(text)


def test_thread_safety() -> None:
    m = Metrics()
    threads, per_thread = 8, 2000
    barrier = threading.Barrier(threads)

    def work(i: int) -> None:
        barrier.wait()
        outcome = "ok" if i % 2 else "refused"
        for j in range(per_thread):
            m.observe("rwc_evaluate_seconds", 0.001 * (j % 20), outcome=outcome)
            if j % 100 == 0:
                m.render()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    text = m.render()
    half = threads // 2 * per_thread
    for outcome in ("ok", "refused"):
        got = _buckets(text, "rwc_evaluate_seconds", f'outcome="{outcome}",')
        assert got[-1] == half
        assert f'rwc_evaluate_seconds_count{{outcome="{outcome}"}} {half}\n' in text
        (total,) = re.findall(
            rf'^rwc_evaluate_seconds_sum\{{outcome="{outcome}"\}} (\S+)$', text, re.M
        )
        expected = threads // 2 * (per_thread // 20) * sum(0.001 * k for k in range(20))
        assert float(total) == pytest.approx(expected)
    parse(text)


class _StubService:
    """What the /metrics route reads from the service."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def counts_by_state(self) -> dict[str, int]:
        return {"active": 2, "suspended": 1}


def test_whole_metrics_route_output_parses() -> None:
    """Counters, histograms and gauges together, as the /metrics route renders them."""
    m = Metrics()
    m.inc("rwc_evaluations_total", mode="seal")
    m.inc("rwc_refusals_total", action="evaluate", reason="not-allowed")
    m.inc("rwc_receipts_total", 3)
    m.observe("rwc_evaluate_seconds", 0.004, outcome="ok")
    m.observe("rwc_evaluate_seconds", 0.012, outcome="refused")
    stub: Any = _StubService(m)
    text = health.metrics(stub)
    types, samples = parse(text)
    assert types == {
        "rwc_evaluations_total": "counter",
        "rwc_refusals_total": "counter",
        "rwc_receipts_total": "counter",
        "rwc_evaluate_seconds": "histogram",
        "rwc_containers": "gauge",
    }
    assert ("rwc_containers", (("state", '"active"'),), 2.0) in samples
    assert 'rwc_evaluate_seconds_bucket{outcome="refused",le="0.025"} 1\n' in text


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ("metric{a=b} 1\n", "malformed sample line"),
        ("metric 1 2 3\n", "malformed sample line"),
        ('metric{le="1"} one\n', "malformed sample line"),
        ("# TYPE x counter\n# TYPE x counter\n", "duplicate TYPE for x"),
        ('a 1\nb 1\na{x="1"} 1\n', "family a is not contiguous"),
        (
            '# TYPE h histogram\nh_bucket{le="1.0"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
            "buckets must be cumulative",
        ),
        ("metric 1", "output must end with a newline"),
    ],
)
def test_parser_is_strict(bad: str, complaint: str) -> None:
    """The parser used above rejects malformed text, each for its own reason."""
    with pytest.raises(AssertionError, match=complaint):
        parse(bad)
