"""open_entry(): a seekable read-only file object that decrypts only what it needs."""

from __future__ import annotations

import io
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer.errors import InputError
from pycontainer.reader import Container

if TYPE_CHECKING:
    from tests.support.container import Kit

C = 1 << 12


@pytest.fixture
def opened(kit: Kit, tmp_path: Path) -> Iterator[tuple[Container, dict[str, bytes]]]:
    d = tmp_path / "d"
    d.mkdir()
    blobs = {
        "d/small": os.urandom(100),
        "d/big": os.urandom(7 * C + 123),
        "d/exact": os.urandom(2 * C),
        "d/empty": b"",
    }
    for name, data in blobs.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "c.rwc"
    kit.seal([d], out)
    with kit.open(out) as c:
        yield c, blobs


def test_random_seeks_match_original(opened: tuple[Container, dict[str, bytes]]) -> None:
    c, blobs = opened
    rnd = random.Random(1234)
    for name, data in blobs.items():
        with c.open_entry(name) as f:
            assert f.readable() and f.seekable() and not f.writable()
            for _ in range(300):
                pos = rnd.randrange(0, len(data) + 10)
                n = rnd.randrange(0, 3 * C)
                whence = rnd.choice([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])
                if whence == io.SEEK_SET:
                    assert f.seek(pos) == pos
                elif whence == io.SEEK_CUR:
                    target = max(0, min(pos, len(data)))
                    f.seek(target - f.tell(), io.SEEK_CUR)
                    pos = target
                else:
                    back = min(pos, len(data))
                    f.seek(-back, io.SEEK_END)
                    pos = len(data) - back
                assert f.tell() == pos
                assert f.read(n) == data[pos : pos + n]
            f.seek(0)
            assert f.read() == data


def test_buffered_and_copy_usage(
    opened: tuple[Container, dict[str, bytes]], tmp_path: Path
) -> None:
    c, blobs = opened
    with io.BufferedReader(c.open_entry("d/big"), buffer_size=1000) as f:
        assert f.read(5) == blobs["d/big"][:5]
        f.seek(C - 2)
        assert f.read(4) == blobs["d/big"][C - 2 : C + 2]
    with c.open_entry("d/big") as src, (tmp_path / "copy").open("wb") as dst:
        shutil.copyfileobj(src, dst)
    assert (tmp_path / "copy").read_bytes() == blobs["d/big"]
    with c.open_entry("d/small") as f:
        buf = bytearray(200)
        assert f.readinto(buf) == 100
        assert bytes(buf[:100]) == blobs["d/small"]
        assert f.readinto(buf) == 0


def test_bad_seeks_and_closed(opened: tuple[Container, dict[str, bytes]]) -> None:
    c, _ = opened
    f = c.open_entry("d/small")
    with pytest.raises(ValueError, match="negative seek position"):
        f.seek(-1)
    with pytest.raises(ValueError, match=r"invalid whence \(7\)"):
        f.seek(0, 7)
    f.close()
    with pytest.raises(ValueError, match="I/O operation on closed file"):
        f.read(1)


def test_directories_and_missing_entries(opened: tuple[Container, dict[str, bytes]]) -> None:
    c, _ = opened
    with pytest.raises(InputError, match="is a directory"):
        c.open_entry("d")
    with pytest.raises(InputError, match="not in this container"):
        c.open_entry("d/nope")


def test_reading_after_container_close_fails(opened: tuple[Container, dict[str, bytes]]) -> None:
    c, _ = opened
    f = c.open_entry("d/big")
    c.close()
    with pytest.raises(ValueError, match="closed"):
        f.read(1)


def test_views_yield_the_rest_of_the_entry(opened: tuple[Container, dict[str, bytes]]) -> None:
    c, blobs = opened
    for name, data in blobs.items():
        for start in (0, 1, C - 1, C, 3 * C + 5, len(data), len(data) + 7):
            with c.open_entry(name) as f:
                f.seek(start)
                pieces = [bytes(v) for v in f.views()]
                assert b"".join(pieces) == data[start:], (name, start)
                assert all(pieces), "no empty pieces"
                assert f.tell() == max(start, len(data))
                assert f.read() == b""


def test_a_view_is_released_when_the_next_is_asked_for(
    opened: tuple[Container, dict[str, bytes]],
) -> None:
    # views() reuses two buffers: a kept piece must fail loudly, never show a later chunk.
    c, blobs = opened
    data = blobs["d/big"]
    with c.open_entry("d/big") as f:
        views = f.views()
        first = next(views)
        assert bytes(first) == data[:C]
        second = next(views)
        with pytest.raises(ValueError, match="released"):
            bytes(first)
        assert bytes(second) == data[C : 2 * C]
        views.close()  # stop half-way: the read-ahead is waited for, the buffers freed
        with pytest.raises(ValueError, match="released"):
            bytes(second)
        assert f.tell() == 2 * C
        assert f.read() == data[2 * C :]
