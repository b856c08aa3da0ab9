"""In-process counters and histograms rendered in the Prometheus text format.

Values are counts, sums of observed durations and fixed label strings chosen by the
code: no secrets, no container ids, no principal names.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import Counter

LATENCY_BUCKETS: tuple[float, ...] = (
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
"""Upper bounds (seconds, inclusive) of the latency histogram buckets; ``+Inf`` is implied."""

_LabelKey = tuple[tuple[str, str], ...]


def _format_float(value: float) -> str:
    """Format a float like the Prometheus clients do (``0.001``, ``1.0``, ``+Inf``, ``NaN``)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Series:
    """One histogram series: per-bucket (non-cumulative) counts, then the sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # last slot: above the highest bound (+Inf)
        self.total = 0.0


class Metrics:
    """Thread-safe counters and histograms keyed by (metric name, sorted label pairs).

    A name is either a counter (:meth:`inc`) or a histogram (:meth:`observe`), never
    both; histogram names must not collide with ``<counter>_bucket``/``_sum``/``_count``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, _LabelKey]] = Counter()
        self._histograms: dict[tuple[str, _LabelKey], _Series] = {}

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` with ``labels``."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += amount

    def get(self, name: str, **labels: str) -> int:
        """Return the current value of one counter (0 if never incremented)."""
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def summary(self, name: str, **labels: str) -> tuple[int, float]:
        """Return (observations, sum) of one histogram series ((0, 0.0) if none)."""
        with self._lock:
            series = self._histograms.get((name, tuple(sorted(labels.items()))))
            return (0, 0.0) if series is None else (sum(series.counts), series.total)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation into the histogram ``name`` (buckets LATENCY_BUCKETS).

        A value lands in the first bucket whose upper bound is greater than or equal
        to it (Prometheus ``le`` semantics: bounds are inclusive); values above the
        highest bound count only towards ``+Inf``.

        Args:
            name: Metric family name, e.g. ``rwc_evaluate_seconds``.
            value: The observation (seconds for latency histograms).
            **labels: Fixed label strings chosen by the code (never ``le``).

        Raises:
            ValueError: ``value`` is NaN, ``le`` is given as a label, or ``name`` is
                already a counter.
        """
        if math.isnan(value):  # would poison the sum and fit no bucket
            raise ValueError("histogram observation is NaN")
        index = bisect_left(LATENCY_BUCKETS, value)
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            series = self._histograms.get(key)
            if series is None:
                series = self._new_series(key)
            series.counts[index] += 1
            series.total += value

    def _new_series(self, key: tuple[str, _LabelKey]) -> _Series:
        """Create a histogram series (caller holds the lock); runs once per series."""
        name, labels = key
        if any(k == "le" for k, _ in labels):
            raise ValueError("'le' is reserved for histogram buckets")
        if any(counter == name for counter, _ in self._counts):
            raise ValueError(f"{name} is already a counter")
        series = self._histograms[key] = _Series(len(LATENCY_BUCKETS))
        return series

    def render(self, gauges: dict[str, int] | None = None) -> str:
        """Render counters, histograms and optional gauges in the Prometheus text format.

        Args:
            gauges: Complete series (``name{label="value"}``) mapped to their values.

        Returns:
            The exposition text: counters, then histograms (cumulative ``_bucket``
            lines up to ``le="+Inf"``, then ``_sum`` and ``_count``), then gauges, each
            family under one ``# TYPE`` line, ending with a newline.
        """
        lines: list[str] = []
        with self._lock:
            items = sorted(self._counts.items())
            histograms = sorted(
                (key, list(series.counts), series.total) for key, series in self._histograms.items()
            )
        seen: set[str] = set()
        for (name, labels), value in items:
            if name not in seen:
                lines.append(f"# TYPE {name} counter")
                seen.add(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        bounds = [*map(_format_float, LATENCY_BUCKETS), "+Inf"]
        for (name, labels), counts, total in histograms:
            if name not in seen:
                lines.append(f"# TYPE {name} histogram")
                seen.add(name)
            label_text = "".join(f'{k}="{v}",' for k, v in labels)
            cumulative = 0
            for bound, count in zip(bounds, counts, strict=True):
                cumulative += count
                lines.append(f'{name}_bucket{{{label_text}le="{bound}"}} {cumulative}')
            plain = f"{{{label_text[:-1]}}}" if label_text else ""
            lines.append(f"{name}_sum{plain} {_format_float(total)}")
            lines.append(f"{name}_count{plain} {cumulative}")
        for series, value in sorted((gauges or {}).items()):
            name = series.split("{", 1)[0]
            if name not in seen:
                lines.append(f"# TYPE {name} gauge")
                seen.add(name)
            lines.append(f"{series} {value}")
        return "\n".join(lines) + "\n"
