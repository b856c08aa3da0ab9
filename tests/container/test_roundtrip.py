"""Seal -> open round trips: chunk-boundary sizes, trees, streams, metadata, extract rules."""

from __future__ import annotations

import io
import os
import random
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer.errors import InputError, OutputExistsError
from pycontainer.format import primitives as p
from pycontainer.reader import read_header

if TYPE_CHECKING:
    from tests.support.container import Kit

C = 1 << 12


def _tree_equal(a: Path, b: Path) -> None:
    names_a = sorted(str(x.relative_to(a)) for x in a.rglob("*"))
    names_b = sorted(str(x.relative_to(b)) for x in b.rglob("*"))
    assert names_a == names_b
    for rel in names_a:
        x, y = a / rel, b / rel
        sx, sy = x.lstat(), y.lstat()
        assert stat.S_IMODE(sx.st_mode) == stat.S_IMODE(sy.st_mode), rel
        assert sx.st_mtime_ns == sy.st_mtime_ns, rel
        if x.is_file():
            assert x.read_bytes() == y.read_bytes(), rel


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 3 * C, 5 * C + 17])
@pytest.mark.parametrize("workers", [1, 2])
def test_single_file_sizes(kit: Kit, tmp_path: Path, size: int, workers: int) -> None:
    src = tmp_path / "src"
    src.mkdir()
    f = src / "data.bin"
    f.write_bytes(os.urandom(size))
    out = tmp_path / "c.rwc"
    res = kit.seal([f], out, workers=workers)
    assert res.entries == 1
    assert res.data_bytes == size
    assert out.stat().st_size == read_header(out).header_length + res.payload_bytes
    with kit.open(out, workers=workers) as c:
        [e] = c.entries()
        assert (e.path, e.size, e.is_file) == ("data.bin", size, True)
        assert c.open_entry("data.bin").read() == f.read_bytes()
        c.verify()
        c.extract(tmp_path / "x")
    assert (tmp_path / "x" / "data.bin").read_bytes() == f.read_bytes()


@pytest.mark.parametrize("extra", range(-10, 11))
def test_total_plaintext_around_chunk_boundary(kit: Kit, tmp_path: Path, extra: int) -> None:
    # The index+trailer of one file "f" is 4 + 25 + 1 = 30 + 8 bytes: put the payload end
    # on, just before and just after chunk boundaries.
    size = 2 * C - 38 + extra
    f = tmp_path / "f"
    f.write_bytes(os.urandom(size))
    out = tmp_path / "c.rwc"
    kit.seal([f], out)
    with kit.open(out) as c:
        c.verify()
        assert c.open_entry("f").read() == f.read_bytes()


def test_tree_with_many_small_files(kit: Kit, tmp_path: Path) -> None:
    src = tmp_path / "project"
    (src / "a" / "b").mkdir(parents=True)
    (src / "empty-dir").mkdir()
    for i in range(150):
        (src / "a" / f"f{i:03d}.txt").write_bytes(os.urandom(i * 37 % 5000))
    (src / "a" / "b" / "deep").write_bytes(b"deep")
    (src / "a" / "b").chmod(0o750)
    (src / "a" / "f001.txt").chmod(0o600)
    os.utime(src / "a" / "f002.txt", ns=(1, 1_234_567_891))
    os.utime(src / "empty-dir", ns=(5, -1_500_000_000))  # negative mtime survives
    other = tmp_path / "loose.txt"
    other.write_text("loose")
    out = tmp_path / "c.rwc"
    res = kit.seal([src, other], out)
    assert res.entries == 1 + 1 + 150 + 1 + 1 + 1 + 1
    dest = tmp_path / "out"
    with kit.open(out) as c:
        paths = [e.path for e in c.entries()]
        assert paths[0] == "project" and paths[-1] == "loose.txt"
        c.extract(dest)
    _tree_equal(src, dest / "project")
    assert (dest / "loose.txt").read_text() == "loose"
    assert kit.leftovers(tmp_path) == []


def test_setuid_bits_are_not_stored(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "tool"
    f.write_bytes(b"#!/bin/sh\n")
    f.chmod(0o4755)
    out = tmp_path / "c.rwc"
    kit.seal([f], out)
    with kit.open(out) as c:
        assert c.entries()[0].mode == 0o755
        c.extract(tmp_path / "x")
    assert stat.S_IMODE((tmp_path / "x" / "tool").stat().st_mode) == 0o755


class _NoReadinto:
    """A stream with only read(), like some wrapped pipes."""

    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._b.read(min(n, 1000))  # short reads on purpose


@pytest.mark.parametrize("size", [0, 1, C, 4 * C + 3])
def test_seal_stream(kit: Kit, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    out = tmp_path / "s.rwc"
    res = kit.seal_stream(io.BytesIO(data), "stdin", out, mtime_ns=10**18 + 7)
    assert res.data_bytes == size
    out2 = tmp_path / "s2.rwc"
    kit.seal_stream(_NoReadinto(data), "dump.sql", out2)
    with kit.open(out) as c:
        [e] = c.entries()
        assert (e.path, e.size, e.mode, e.mtime_total_ns) == ("stdin", size, 0o600, 10**18 + 7)
        assert c.open_entry("stdin").read() == data
    with kit.open(out2) as c:
        assert c.open_entry("dump.sql").read() == data


def test_stream_name_must_be_safe(kit: Kit, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        kit.seal_stream(io.BytesIO(b"x"), "../evil", tmp_path / "s.rwc")
    assert not (tmp_path / "s.rwc").exists()


def test_progress_reports_reach_total(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(os.urandom(10 * C))
    seen: list[tuple[int, int]] = []
    kit.seal([f], tmp_path / "c.rwc", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10 * C, 10 * C)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_extract_selected_paths(kit: Kit, tmp_path: Path) -> None:
    src = tmp_path / "d"
    (src / "keep").mkdir(parents=True)
    (src / "keep" / "k").write_bytes(os.urandom(3 * C))
    (src / "skip").write_bytes(os.urandom(2 * C))
    out = tmp_path / "c.rwc"
    kit.seal([src], out)
    with kit.open(out) as c:
        got = c.extract(tmp_path / "x", ["d/keep"])
        assert [e.path for e in got] == ["d/keep", "d/keep/k"]
        with pytest.raises(InputError, match="not in this container"):
            c.extract(tmp_path / "y", ["d/nope"])
    assert (tmp_path / "x" / "d" / "keep" / "k").read_bytes() == (src / "keep" / "k").read_bytes()
    assert not (tmp_path / "x" / "d" / "skip").exists()
    assert not (tmp_path / "y").exists()


def test_extract_destination_rules(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"new")
    d = tmp_path / "dir"
    d.mkdir()
    (d / "inner").write_bytes(b"i")
    out = tmp_path / "c.rwc"
    kit.seal([f, d], out)
    with kit.open(out) as c:
        empty = tmp_path / "empty"
        empty.mkdir()
        c.extract(empty)  # an existing empty directory is fine
        assert (empty / "f").read_bytes() == b"new"

        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "f").write_bytes(b"old")
        (busy / "unrelated").write_bytes(b"u")
        with pytest.raises(OutputExistsError, match="not empty"):
            c.extract(busy)
        assert (busy / "f").read_bytes() == b"old"
        # force: the file is replaced, unrelated content stays.
        c.extract(busy, ["f"], force=True)
        assert (busy / "f").read_bytes() == b"new"
        assert (busy / "unrelated").read_bytes() == b"u"
        # force never merges into or deletes an existing directory.
        (busy / "dir").mkdir()
        (busy / "dir" / "mine").write_bytes(b"m")
        with pytest.raises(OutputExistsError, match="already exists"):
            c.extract(busy, force=True)
        assert (busy / "dir" / "mine").read_bytes() == b"m"

        a_file = tmp_path / "a-file"
        a_file.write_bytes(b"")
        with pytest.raises(OutputExistsError, match="not a directory"):
            c.extract(a_file, force=True)
    assert kit.leftovers(tmp_path) == []


def test_seal_refuses_to_overwrite(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"data")
    out = tmp_path / "c.rwc"
    out.write_bytes(b"precious")
    calls = kit.ks.calls
    with pytest.raises(OutputExistsError, match="already exists"):
        kit.seal([f], out)
    assert out.read_bytes() == b"precious"
    assert kit.ks.calls == calls  # refused before contacting the key server
    kit.seal([f], out, force=True)
    with kit.open(out) as c:
        assert c.open_entry("f").read() == b"data"
    assert kit.leftovers(tmp_path) == []


def test_output_file_mode_and_header(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    out = tmp_path / "c.rwc"
    res = kit.seal([f], out, chunk_log2=16)
    info = read_header(out)
    assert info.chunk_size == 1 << 16
    assert info.container_id == kit.slot.container_id == res.container_id
    assert info.slots[0].url == kit.slot.url
    assert info.slots[0].argon2 == kit.FAST
    assert stat.S_IMODE(out.stat().st_mode) & 0o111 == 0
    assert out.read_bytes()[:8] == p.MAGIC


def test_receipt_and_commit_flow(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    out = tmp_path / "c.rwc"
    res = kit.seal([f], out)
    kit.ks.commit(res.container_id, res.header_digest, res.receipt_key)
    with kit.open(out) as c:
        assert c.header_digest == res.header_digest
        assert c.receipt_key == res.receipt_key
        assert c.evaluation.challenge is not None
        assert kit.ks.confirm_receipt(c.container_id, c.evaluation.challenge, c.receipt_mac())
        assert not kit.ks.confirm_receipt(c.container_id, c.evaluation.challenge, bytes(32))


def test_deterministic_with_injected_rng(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"same input")
    os.utime(f, ns=(0, 0))

    def counter_rng() -> Callable[[int], bytes]:
        state = {"n": 0}

        def rng(k: int) -> bytes:
            state["n"] += 1
            return bytes([state["n"]]) * k

        return rng

    a, b = tmp_path / "a.rwc", tmp_path / "b.rwc"
    kit.seal([f], a, rng=counter_rng())
    kit.seal([f], b, rng=counter_rng())
    assert a.read_bytes() == b.read_bytes()


def test_read_only_directories_extract(kit: Kit, tmp_path: Path) -> None:
    top = tmp_path / "ro"
    (top / "inner").mkdir(parents=True)
    (top / "inner" / "f").write_bytes(b"data")
    (top / "inner").chmod(0o555)
    top.chmod(0o500)
    os.utime(top, ns=(0, 1_000_000_123))
    out = tmp_path / "c.rwc"
    try:
        kit.seal([top], out)
        with kit.open(out) as c:
            c.extract(tmp_path / "x")
        got = tmp_path / "x" / "ro"
        assert stat.S_IMODE(got.stat().st_mode) == 0o500
        assert stat.S_IMODE((got / "inner").stat().st_mode) == 0o555
        assert got.stat().st_mtime_ns == 1_000_000_123
        assert (got / "inner" / "f").read_bytes() == b"data"
    finally:
        for d in (top, top / "inner", tmp_path / "x" / "ro", tmp_path / "x" / "ro" / "inner"):
            if d.exists():
                d.chmod(0o755)


def test_random_subsets_extract_exactly(kit: Kit, tmp_path: Path) -> None:
    rnd = random.Random(7)
    src = tmp_path / "s"
    src.mkdir()
    sizes = [rnd.choice([0, 1, 100, C - 1, C, C + 1, 3 * C + 7]) for _ in range(40)]
    for n, size in enumerate(sizes):
        (src / f"f{n:02d}").write_bytes(os.urandom(size))
    out = tmp_path / "c.rwc"
    kit.seal([src], out)
    with kit.open(out) as c:
        for round_ in range(6):
            pick = sorted(rnd.sample(range(40), rnd.randrange(1, 12)))
            dest = tmp_path / f"x{round_}"
            c.extract(dest, [f"s/f{n:02d}" for n in pick])
            got = sorted(p.name for p in (dest / "s").iterdir())
            assert got == [f"f{n:02d}" for n in pick]
            for n in pick:
                assert (dest / "s" / f"f{n:02d}").read_bytes() == (src / f"f{n:02d}").read_bytes()


def test_seal_stream_from_a_real_pipe(kit: Kit, tmp_path: Path) -> None:
    data = os.urandom(5 * C + 321)
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as fh:
            for i in range(0, len(data), 777):  # many small writes: short reads downstream
                fh.write(data[i : i + 777])
                fh.flush()

    t = threading.Thread(target=feed)
    t.start()
    with os.fdopen(r, "rb", buffering=0) as fh:
        res = kit.seal_stream(fh, "stdin", tmp_path / "p.rwc")
    t.join()
    assert res.data_bytes == len(data)
    with kit.open(tmp_path / "p.rwc") as c:
        assert c.open_entry("stdin").read() == data
