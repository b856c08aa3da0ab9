"""Chunk-parallel sealing of files: same bytes for any thread count, no descriptor leaks."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer.errors import InputError, PayloadError
from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import read_header

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.container import Kit

C = 1 << 12


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _tree(root: Path) -> dict[str, bytes]:
    rng = random.Random(7)
    files: dict[str, bytes] = {}
    root.mkdir()
    # Sizes around the chunk size: files that share a chunk, span several, or are empty.
    for i, size in enumerate([0, 1, C - 1, C, C + 1, 3 * C + 5, 17, 0, 2 * C, 5]):
        data = rng.randbytes(size)
        (root / f"f{i:02d}").write_bytes(data)
        files[f"f{i:02d}"] = data
    return files


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_same_container_for_any_worker_count(kit: Kit, tmp_path: Path, workers: int) -> None:
    files = _tree(tmp_path / "src")
    before = _open_fds()
    out = tmp_path / f"c{workers}.rwc"
    res = kit.seal([tmp_path / "src"], out, workers=workers)
    assert _open_fds() == before  # every source file was closed
    assert res.data_bytes == sum(len(d) for d in files.values())
    with kit.open(out, workers=workers) as c:
        c.verify()
        for name, data in files.items():
            assert c.open_entry(f"src/{name}").read() == data


class _MeddlingServer:
    """The real in-process key server, but it changes a source file when asked.

    Key release runs after the walk and before the first byte is read, so the change is
    seen by whichever thread reads the file, deterministically.
    """

    def __init__(self, kit: Kit, meddle: Callable[[], None]) -> None:
        self._ks = kit.ks
        self._meddle = meddle

    def evaluate(self, slot: SlotInfo, blinded: bytes) -> Evaluation:
        self._meddle()
        return self._ks.evaluate(slot, blinded)


@pytest.mark.parametrize("change", ["shrink", "grow", "replace"])
@pytest.mark.parametrize("workers", [1, 2, 5])
def test_changed_file_stops_every_worker_and_leaves_nothing(
    kit: Kit, tmp_path: Path, change: str, workers: int
) -> None:
    _tree(tmp_path / "src")
    victim = tmp_path / "src" / "f05"  # 3C + 5 bytes, spans four chunks

    def meddle() -> None:
        if change == "shrink":
            os.truncate(victim, C)
        elif change == "grow":
            with victim.open("ab") as fh:
                fh.write(b"more")
        else:
            victim.unlink()
            victim.write_bytes(b"y" * (3 * C + 5))  # same size, another file

    before = _open_fds()
    out = tmp_path / "c.rwc"
    with pytest.raises(InputError, match="changed while it was being sealed"):
        kit.seal([tmp_path / "src"], out, workers=workers, key_server=_MeddlingServer(kit, meddle))
    assert _open_fds() == before
    assert not out.exists()
    assert kit.leftovers(tmp_path) == []
    # Argon2id ran beside the failed payload: the seal waited for it before raising.
    assert [t.name for t in threading.enumerate() if t.name == "rwc-argon2id"] == []


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_parallel_extract_and_corrupt_chunk(kit: Kit, tmp_path: Path, workers: int) -> None:
    files = _tree(tmp_path / "src")
    out = tmp_path / "c.rwc"
    kit.seal([tmp_path / "src"], out, workers=workers)
    before = _open_fds()
    with kit.open(out, workers=workers) as c:
        c.extract(tmp_path / "x")
    assert _open_fds() == before  # every extracted file was closed
    for name, data in files.items():
        assert (tmp_path / "x" / "src" / name).read_bytes() == data
    # Flip one byte in the second chunk: every worker count must refuse, extract nothing.
    info = read_header(out)
    raw = bytearray(out.read_bytes())
    raw[info.header_length + C + 16 + 3] ^= 1
    out.write_bytes(bytes(raw))
    with kit.open(out, workers=workers) as c:
        with pytest.raises(PayloadError):
            c.verify()
        with pytest.raises(PayloadError):
            c.extract(tmp_path / "y")
    assert not (tmp_path / "y").exists()
    assert kit.leftovers(tmp_path) == []
