"""The library's STREAM layer alone, in-process, without file I/O.

Separates what the library's own code costs from what the kernel's read/write copies cost:
``EncryptingSink`` is fed by committing its (already filled) buffers in place and its
output goes to a no-op writer, so the figure is AES-GCM plus the library's per-chunk
bookkeeping. This is the number to hold against ``openssl speed`` (one core) for
workers=1; the end-to-end figures add reading the input and writing the container.
Uses an internal module (pycontainer.format.stream); if its API changes the figure is skipped.
"""

from __future__ import annotations

import time
from typing import Any


def stream_seal_rate(total: int, workers: int, chunk_log2: int, runs: int) -> float | None:
    """Best-of-runs bytes/second of EncryptingSink over ``total`` bytes, or None if unavailable."""
    try:
        from pycontainer._engine.pipeline import EncryptingSink  # noqa: PLC0415 - internal, optional
    except ImportError:
        return None

    def discard(*_args: object) -> None:
        # Accepts write(view) and write_at(view, offset): the sink's writer API evolves.
        return None

    try:
        rates = [
            _one_pass(EncryptingSink, discard, total, workers, chunk_log2) for _ in range(runs)
        ]
    except (TypeError, AttributeError) as exc:  # the internal API changed: skip the figure
        print(f"  STREAM core figure skipped: pycontainer.format.stream changed ({exc})")
        return None
    return max(rates)


def _one_pass(sink_type: Any, discard: Any, total: int, workers: int, chunk_log2: int) -> float:
    sink = sink_type(b"\x01" * 32, chunk_log2, discard, workers=workers)
    done = 0
    start = time.perf_counter()
    while done < total:
        room = sink.space()
        n = min(len(room), total - done)
        sink.commit(n)
        done += n
    sink.close()
    return total / (time.perf_counter() - start)
