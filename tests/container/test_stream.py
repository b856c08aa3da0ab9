"""STREAM layer units: nonces, geometry, per-chunk authentication, pipelined sink."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import pytest

from pycontainer._engine import pipeline
from pycontainer._engine.pipeline import EncryptingSink, open_chunks
from pycontainer.errors import PayloadError
from pycontainer.format.stream import Layout, StreamCipher, nonce

C = 1 << 12


def test_nonce_layout() -> None:
    assert nonce(0, False) == bytes(12)
    assert nonce(1, True) == bytes(10) + b"\x01\x01"
    assert nonce(2**88 - 1, False) == b"\xff" * 11 + b"\x00"
    with pytest.raises(PayloadError):
        nonce(2**88, False)


@pytest.mark.parametrize(
    ("length", "count", "plain"),
    [
        (17, 1, 1),
        (C + 16, 1, C),
        (C + 16 + 17, 2, C + 1),
        (3 * (C + 16), 3, 3 * C),
    ],
)
def test_layout_geometry(length: int, count: int, plain: int) -> None:
    lay = Layout(12, length)
    lay.check()
    assert lay.chunk_count == count
    assert lay.plaintext_length == plain
    assert lay.span(count - 1)[1] == length - (count - 1) * (C + 16)


@pytest.mark.parametrize("length", [0, 16, C + 16 + 16, C + 16 + 1])
def test_impossible_lengths(length: int) -> None:
    with pytest.raises(PayloadError):
        Layout(12, length).check()


def test_chunks_for() -> None:
    lay = Layout(12, 10 * (C + 16))
    assert list(lay.chunks_for(0, 0)) == []
    assert list(lay.chunks_for(0, 1)) == [0]
    assert list(lay.chunks_for(C - 1, C + 1)) == [0, 1]
    assert list(lay.chunks_for(C, 2 * C)) == [1]


def test_last_flag_and_index_are_authenticated() -> None:
    cipher = StreamCipher(os.urandom(32))
    sealed = cipher.encrypt(3, False, b"data")
    assert cipher.decrypt(3, False, sealed) == b"data"
    for index, last in ((3, True), (4, False), (2, False)):
        with pytest.raises(PayloadError):
            cipher.decrypt(index, last, sealed)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_sink_and_decrypt_pipeline(tmp_path: Path, workers: int) -> None:
    key = os.urandom(32)
    data = os.urandom(9 * C + 5)
    path = tmp_path / "p"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)

    def write_at(v: memoryview, off: int) -> None:
        os.pwrite(fd, v, off)

    try:
        sink = EncryptingSink(key, 12, write_at, workers=workers)
        sink.write(data[:100])
        view = sink.space()
        view[:50] = data[100:150]
        sink.commit(50)
        sink.write(data[150:])
        sink.close()
    finally:
        os.close(fd)
    lay = Layout(12, path.stat().st_size)
    lay.check()
    fd = os.open(path, os.O_RDONLY)

    def pieces(indices: list[int], key: bytes = key) -> dict[int, bytes]:
        got: dict[int, bytes] = {}

        def consume(index: int, plain: memoryview) -> int:
            got[index] = bytes(plain)  # called from several threads; dict item set is atomic
            return len(plain)

        open_chunks(fd, 0, lay, key, indices, consume=consume, workers=workers)
        return got

    try:
        got = pieces(list(range(10)))
        assert b"".join(got[i] for i in range(10)) == data
        # Any order, any subset: each chunk authenticated and decrypted on its own.
        assert pieces([9, 0, 5]) == {i: got[i] for i in (9, 0, 5)}
        with pytest.raises(PayloadError):
            pieces([10])
        with pytest.raises(PayloadError):
            pieces([0], os.urandom(32))
    finally:
        os.close(fd)


def _sealed(tmp_path: Path, key: bytes, chunks: int) -> tuple[Path, Layout]:
    path = tmp_path / "p"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:

        def write_at(v: memoryview, off: int) -> None:
            os.pwrite(fd, v, off)

        sink = EncryptingSink(key, 12, write_at, workers=1)
        sink.write(os.urandom(chunks * C))
        sink.close()
    finally:
        os.close(fd)
    return path, Layout(12, path.stat().st_size)


def _until_waiting(thread: threading.Thread) -> None:
    """Return once ``thread`` has done its own chunks (it is out of the pipeline's ``run``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident or 0)  # no public API for another thread
        inside = False
        while frame is not None:
            code = frame.f_code
            # The pipeline's own `run` (a test runner's main thread has others of that name).
            inside |= code.co_name == "run" and code.co_filename == pipeline.__file__
            frame = frame.f_back
        if not inside:
            return
        time.sleep(0.001)
    pytest.fail("the caller did not finish its chunk")


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="signals a thread (POSIX)")
def test_interrupt_waits_for_the_helper_threads(tmp_path: Path) -> None:
    """Ctrl-C (or rwc's SIGTERM) while the caller waits for a helper: the helper ends first.

    An interrupt that left the helpers running let an extraction's clean-up race them: a
    killed `rwc open` (SIGTERM, no O_TMPFILE) once left its staging directory, with a file
    a helper created after the clean-up removed the tree (tests/faults/test_client_crash.py).
    """
    key = os.urandom(32)
    path, layout = _sealed(tmp_path, key, 2)
    events: list[str] = []
    interrupted = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    helper_working = threading.Event()

    def consume(_index: int, plain: memoryview) -> int:
        if threading.current_thread() is threading.main_thread():
            # The caller's chunk: it holds on until the helper has the other one.
            assert helper_working.wait(30)
        else:
            # The helper's chunk: interrupt the caller once it waits for this chunk (the
            # case that lost the helpers), then go on working after the interrupt.
            helper_working.set()
            _until_waiting(threading.main_thread())
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
            assert interrupted.wait(30)
            time.sleep(0.2)  # not a measurement: gives an early return the time to show
            events.append("helper finished")
        return len(plain)

    fd = os.open(path, os.O_RDONLY)
    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        with pytest.raises(KeyboardInterrupt):
            open_chunks(fd, 0, layout, key, [0, 1], consume=consume, workers=2)
        events.append("interrupt raised")
    finally:
        signal.signal(signal.SIGUSR1, previous)
        os.close(fd)
    assert events == ["helper finished", "interrupt raised"]
