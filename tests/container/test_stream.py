"""STREAM layer units: nonces, geometry, per-chunk authentication, pipelined sink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycontainer._engine.pipeline import EncryptingSink, decrypt_chunks
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
    try:
        got = b"".join(
            bytes(v) for _, v in decrypt_chunks(fd, 0, lay, key, range(10), workers=workers)
        )
        assert got == data
        # Out-of-order and repeated requests are served in the requested order.
        order = [9, 0, 5, 5]
        pieces = [(i, bytes(v)) for i, v in decrypt_chunks(fd, 0, lay, key, order)]
        assert [i for i, _ in pieces] == order
        assert pieces[1][1] == data[:C]
        with pytest.raises(PayloadError):
            list(decrypt_chunks(fd, 0, lay, key, [10]))
        with pytest.raises(PayloadError):
            list(decrypt_chunks(fd, 0, lay, os.urandom(32), [0]))
    finally:
        os.close(fd)
