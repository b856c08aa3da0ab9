"""In-process counters rendered in the Prometheus text format (no secrets, no names)."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    """Thread-safe counters keyed by (metric name, sorted label pairs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` with ``labels``."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += amount

    def get(self, name: str, **labels: str) -> int:
        """Return the current value of one counter (0 if never incremented)."""
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self, gauges: dict[str, int] | None = None) -> str:
        """Render all counters (and optional gauges) in the Prometheus text format."""
        lines: list[str] = []
        with self._lock:
            items = sorted(self._counts.items())
        seen: set[str] = set()
        for (name, labels), value in items:
            if name not in seen:
                lines.append(f"# TYPE {name} counter")
                seen.add(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        for series, value in sorted((gauges or {}).items()):
            name = series.split("{", 1)[0]
            if name not in seen:
                lines.append(f"# TYPE {name} gauge")
                seen.add(name)
            lines.append(f"{series} {value}")
        return "\n".join(lines) + "\n"
