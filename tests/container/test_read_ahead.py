"""The read-ahead stage of reads around the page cache (_engine/readahead.py).

Reading threads fill input buffers in position order while the workers seal or decrypt;
the tests check what must hold whatever the timing: the same bytes as without it, never
more inputs read and not yet used than there are buffers, the read's error raised to the
caller with every thread stopped, and no reading thread outliving the call.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from pycontainer._engine.pipeline import seal_chunks
from pycontainer._engine.readahead import ReadAhead
from pycontainer.errors import InputError

C = 1 << 12  # chunk size of these tests
COUNT = 37


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rwc-read-ahead"]


def _seal(
    data: bytes, key: bytes, *, workers: int, read_ahead: int, fail_at: int | None = None
) -> tuple[bytes, int]:
    """Seal ``data`` in memory; return the payload and the most inputs read but not sealed."""
    out = bytearray(len(data) + COUNT * 16)
    lock = threading.Lock()
    unsealed: set[int] = set()
    most = 0

    def fill(offset: int, view: memoryview) -> None:
        nonlocal most
        if offset // C == fail_at:
            raise InputError("the file changed", hint="seal again")
        view[:] = data[offset : offset + len(view)]
        with lock:
            unsealed.add(offset // C)
            most = max(most, len(unsealed))

    def write_at(view: memoryview, offset: int) -> None:
        out[offset : offset + len(view)] = view
        with lock:
            unsealed.discard(offset // (C + 16))

    seal_chunks(key, 12, len(data), fill, write_at, workers=workers, read_ahead=read_ahead)
    return bytes(out), most


@pytest.mark.parametrize(("workers", "read_ahead"), [(1, 1), (2, 1), (2, 4), (3, 8)])
def test_read_ahead_seals_the_same_bytes_in_bounded_memory(workers: int, read_ahead: int) -> None:
    data = os.urandom(COUNT * C - 7)
    key = os.urandom(32)
    expected, _ = _seal(data, key, workers=workers, read_ahead=0)
    got, most = _seal(data, key, workers=workers, read_ahead=read_ahead)
    assert got == expected
    # An input is read into a free buffer only: never more in memory than the buffers.
    assert most <= read_ahead + workers
    assert _readers() == []


@pytest.mark.parametrize("fail_at", [0, 5, COUNT - 1])
def test_a_failed_read_ahead_fails_the_seal_and_stops_every_thread(fail_at: int) -> None:
    with pytest.raises(InputError, match="the file changed"):
        _seal(os.urandom(COUNT * C), os.urandom(32), workers=2, read_ahead=3, fail_at=fail_at)
    assert _readers() == []


def test_close_waits_for_a_read_in_progress() -> None:
    """No reading thread outlives close(): the caller's clean-up then closes the files."""
    events: list[str] = []
    started = threading.Event()

    def read(position: int, view: memoryview) -> tuple[int, int]:
        if position == 1:
            started.set()
            time.sleep(0.2)  # not a measurement: gives an early return the time to show
            events.append("read finished")
        view[:1] = b"x"
        return 0, 1

    ahead = ReadAhead(2, C, read, threads=2, buffers=2)
    buf, span = ahead.take(0)
    assert bytes(buf[span[0] : span[1]]) == b"x"
    ahead.give_back(buf)
    assert started.wait(30)
    ahead.close()
    events.append("closed")
    assert events == ["read finished", "closed"]
    assert _readers() == []


def test_a_thread_that_cannot_start_stops_the_ones_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No memory or thread left for the third reader: the two started are stopped first."""
    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name == "rwc-read-ahead" and len(started) == 2:
            raise RuntimeError("can't start new thread")
        real_start(self)
        started.append(self)

    monkeypatch.setattr(threading.Thread, "start", start)

    def read(_position: int, view: memoryview) -> tuple[int, int]:
        view[:1] = b"x"
        return 0, 1

    with pytest.raises(RuntimeError, match="can't start new thread"):
        ReadAhead(COUNT, C, read, threads=4, buffers=6)
    assert len(started) == 2
    # Left running, they would wait for a free buffer forever (nobody takes what they read).
    for t in started:
        t.join(30)
    assert not any(t.is_alive() for t in started)
