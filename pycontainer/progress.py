"""The progress callback of the library: ``progress(done_bytes, total_bytes)``.

One definition for the writer, the reader and the extraction engine (the CLI draws its bar
from it). It is called in the caller's thread, never from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Progress: TypeAlias = Callable[[int, int], None]
