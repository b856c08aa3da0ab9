"""SIGTERM and SIGHUP end `rwc` the way Ctrl-C does: through the clean-up paths.

Python's default for SIGTERM and SIGHUP is to die at once, skipping every ``finally``:
an extraction would leave its staging directory and a seal its staged file behind (on
systems without O_TMPFILE, with plaintext in it). Raising an exception instead runs the
same clean-up as KeyboardInterrupt; the exit code follows the shell's convention 128+N.
SIGKILL cannot be caught: pycontainer/_engine/staging.py covers that case.
"""

from __future__ import annotations

# The module `signal` wraps, with the same calls and the signals as plain numbers: `signal`
# makes enums of every signal, handler and mask as it is imported, ~3 M instructions of
# every `rwc` run (issue 15, bench/profiles/startup.md), for two numbers and one call here.
# It has no type stub (pyproject.toml's mypy overrides).
import _signal
import contextlib
from collections.abc import Iterator
from types import FrameType

_SIGNALS = tuple(
    s for s in (getattr(_signal, "SIGTERM", None), getattr(_signal, "SIGHUP", None)) if s
)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGHUP arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name, e.g. ``SIGTERM``."""
        import signal  # noqa: PLC0415 - its names, once a signal ended the run (see _signal)

        return signal.Signals(self.signum).name


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (main thread only)."""
    try:
        previous = {s: _signal.signal(s, _raise) for s in _SIGNALS}
    except ValueError:
        # Not the main thread, where alone handlers can be set (signal.signal says so):
        # asked by trying, not through threading, which a small `rwc cat` does not import
        # otherwise (issue 15). The first signal fails, so none was set.
        previous = None
    if previous is None:
        yield  # outside the except block: the run's own errors are not chained to it
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            _signal.signal(s, handler)
