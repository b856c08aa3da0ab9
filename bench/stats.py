"""Small statistics and table helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

MIB = 1024 * 1024
GIB = 1024 * MIB


def median(values: Sequence[float]) -> float:
    """Median of the runs (we report medians of a few runs, not means)."""
    return float(statistics.median(values))


def parse_size(text: str) -> int:
    """Parse "1G", "512M", "64K" or a plain byte count (binary units)."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    units = {"K": 1024, "M": MIB, "G": GIB, "T": 1024 * GIB}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def human_size(n: int) -> str:
    """Format a byte count with binary units."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render a plain-text table (pipes and copy-pastes into README.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + " |"
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    """Render a target check."""
    if ok is None:
        return "n/a"
    return "MET" if ok else "MISSED"
