"""Tampering: bit flips, truncation, chunk reordering. Every one must be refused with a
library error, and no plaintext may reach the extraction target."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pycontainer.errors import ContainerError, PayloadError
from pycontainer.format import keyschedule
from pycontainer.format.keyschedule import Argon2Memory
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import InProcessKeyServer
from pycontainer.reader import ReaderLimits, read_header

if TYPE_CHECKING:
    from tests.support.container import Kit

C = 1 << 12
SEALED = C + 16


def _attempt_extract(kit: Kit, path: Path, dest: Path, **kw: Any) -> ContainerError:
    with pytest.raises(ContainerError) as info, kit.open(path, **kw) as c:
        c.extract(dest)
    assert not dest.exists(), "plaintext reached the extraction target"
    assert kit.leftovers(dest.parent) == []
    return info.value


@pytest.mark.slow
def test_every_single_bit_flip_is_rejected(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ~2400 opens, most with the same Argon2 inputs: the real Argon2id runs once per
    # distinct input (memoised), so a flip that changes an input still pays for its own.
    # Keyed without `memory` (a new pair of allocation callbacks per call, which does not
    # change the bytes: tests/container/test_keyschedule_argon2.py).
    memoised = functools.lru_cache(maxsize=None)(keyschedule.stretch)

    def stretch(
        oprf_out: bytes, container_id: bytes, params: Argon2Params, _memory: Argon2Memory = None
    ) -> bytes:
        return memoised(oprf_out, container_id, params)

    monkeypatch.setattr(keyschedule, "stretch", stretch)
    # A short URL keeps the container (and so this exhaustive test) small.
    ks = InProcessKeyServer(url="http://[::1]")
    slot = ks.register()
    src = tmp_path / "a"
    src.write_bytes(b"z")
    good = tmp_path / "good.rwc"
    kit.seal([src], good, workers=1, slot=slot, key_server=ks)
    blob = good.read_bytes()
    assert len(blob) < 300
    # The reader limit keeps flipped Argon2 memory bits from costing hundreds of MiB.
    limits = ReaderLimits(max_argon2_m=kit.FAST.m)

    def attempt(bit: int) -> str:
        work = tmp_path / f"w{bit}"
        work.mkdir()
        mutated = bytearray(blob)
        mutated[bit // 8] ^= 1 << (bit % 8)
        bad = work / "bad.rwc"
        bad.write_bytes(bytes(mutated))
        err = _attempt_extract(kit, bad, work / "out", limits=limits, workers=1, key_server=ks)
        return type(err).__name__

    # Argon2 releases the GIL: two threads halve the wall time of ~2400 opens.
    with ThreadPoolExecutor(2) as pool:
        kinds = set(pool.map(attempt, range(len(blob) * 8)))
    # The flips hit every layer: parser, server proof, unwrap, header MAC, payload.
    assert {
        "FormatError",
        "KeyServerProtocolError",
        "WrongPasswordError",
        "HeaderAuthError",
        "PayloadError",
    } <= kinds


def _sealed(kit: Kit, tmp_path: Path, size: int) -> tuple[Path, bytes, int]:
    src = tmp_path / "data"
    src.write_bytes(os.urandom(size))
    path = tmp_path / "c.rwc"
    kit.seal([src], path)
    return path, path.read_bytes(), read_header(path).header_length


def test_truncation_at_and_between_chunk_boundaries(kit: Kit, tmp_path: Path) -> None:
    _path, blob, hlen = _sealed(kit, tmp_path, 3 * C + 100)
    payload = len(blob) - hlen
    cuts = {0, 1, 15, 16, 17, payload - 1, payload - 16, payload - 17}
    for k in range(1, payload // SEALED + 1):
        cuts |= {k * SEALED - 1, k * SEALED, k * SEALED + 1, k * SEALED + 16, k * SEALED + 17}
    bad = tmp_path / "bad.rwc"
    for cut in sorted(c for c in cuts if 0 <= c < payload):
        bad.write_bytes(blob[: hlen + cut])
        err = _attempt_extract(kit, bad, tmp_path / "out")
        assert isinstance(err, PayloadError), (cut, err)
    # Cuts inside the header are format errors, found offline.
    for cut in (0, 7, 13, hlen - 1):
        bad.write_bytes(blob[:cut])
        _attempt_extract(kit, bad, tmp_path / "out")


def _chunks(blob: bytes, hlen: int) -> list[bytes]:
    payload = blob[hlen:]
    return [payload[i : i + SEALED] for i in range(0, len(payload), SEALED)]


@pytest.mark.parametrize(
    "rearrange",
    [
        pytest.param(lambda ch: [ch[1], ch[0], *ch[2:]], id="swap-first-two"),
        pytest.param(lambda ch: [*ch[:-2], ch[-1], ch[-2]], id="swap-last-two"),
        pytest.param(lambda ch: [ch[0], *ch], id="duplicate-first"),
        pytest.param(lambda ch: [*ch[:2], ch[1], *ch[2:]], id="duplicate-middle"),
        pytest.param(lambda ch: [*ch[:-1], ch[-2], ch[-1]], id="duplicate-before-last"),
        pytest.param(lambda ch: ch[1:], id="drop-first"),
        pytest.param(lambda ch: [ch[0], *ch[2:]], id="drop-middle"),
        pytest.param(lambda ch: ch[:-1], id="drop-last"),
        pytest.param(lambda ch: [*ch, ch[0]], id="append-chunk"),
        pytest.param(lambda ch: [*ch, b"\x00"], id="append-byte"),
        pytest.param(lambda ch: [*ch, ch[-1]], id="append-final-again"),
    ],
)
def test_chunk_rearrangements_are_rejected(
    kit: Kit, tmp_path: Path, rearrange: Callable[[list[bytes]], list[bytes]]
) -> None:
    _path, blob, hlen = _sealed(kit, tmp_path, 4 * C + 5)
    chunks = _chunks(blob, hlen)
    assert len(chunks) == 5
    bad = tmp_path / "bad.rwc"
    bad.write_bytes(blob[:hlen] + b"".join(rearrange(chunks)))
    err = _attempt_extract(kit, bad, tmp_path / "out")
    assert isinstance(err, PayloadError)
    assert str(err) == (
        "payload chunk authentication failed: the container is corrupt or was tampered with"
    )


def test_chunks_from_another_container_are_rejected(kit: Kit, tmp_path: Path) -> None:
    _a_path, a, hlen = _sealed(kit, tmp_path, 2 * C)
    b_src = tmp_path / "data"
    b_path = tmp_path / "b.rwc"
    kit.seal([b_src], b_path)
    b = b_path.read_bytes()
    # Same size, same slot, different DEK: splice b's first chunk into a.
    bad = tmp_path / "bad.rwc"
    bad.write_bytes(a[:hlen] + b[hlen : hlen + SEALED] + a[hlen + SEALED :])
    assert isinstance(_attempt_extract(kit, bad, tmp_path / "out"), PayloadError)


def test_verify_and_open_entry_detect_middle_corruption(kit: Kit, tmp_path: Path) -> None:
    path, blob, hlen = _sealed(kit, tmp_path, 6 * C)
    mutated = bytearray(blob)
    mutated[hlen + 2 * SEALED + 10] ^= 0x40  # chunk 2: not read when opening
    path.write_bytes(bytes(mutated))
    with kit.open(path) as c:  # final + index chunks are fine
        with pytest.raises(PayloadError):
            c.verify()
        f = c.open_entry("data")
        assert len(f.read(2 * C)) == 2 * C  # chunks 0 and 1 still read
        with pytest.raises(PayloadError):
            f.read(1)
        f.seek(3 * C)
        assert len(f.read()) == 3 * C


def test_extract_failing_midway_leaves_no_plaintext(kit: Kit, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    src.mkdir()
    for n in range(6):
        (src / f"f{n}").write_bytes(os.urandom(C + 100 * n))
    path = tmp_path / "c.rwc"
    kit.seal([src], path)
    blob = bytearray(path.read_bytes())
    hlen = read_header(path).header_length
    blob[hlen + 4 * SEALED + 5] ^= 0x01  # chunk 4: after several files were written
    path.write_bytes(bytes(blob))
    for workers in (1, 2):
        with kit.open(path, workers=workers) as c:  # final and index chunks are intact
            with pytest.raises(PayloadError):
                c.extract(tmp_path / "out")
            existing = tmp_path / "existing"
            existing.mkdir(exist_ok=True)
            with pytest.raises(PayloadError):
                c.extract(existing)
        assert not (tmp_path / "out").exists()
        assert list(existing.iterdir()) == []
        assert kit.leftovers(tmp_path) == []


def test_views_stop_before_a_corrupt_chunk(kit: Kit, tmp_path: Path) -> None:
    path, blob, hlen = _sealed(kit, tmp_path, 6 * C)
    mutated = bytearray(blob)
    mutated[hlen + 2 * SEALED + 10] ^= 0x40  # chunk 2
    path.write_bytes(bytes(mutated))
    with kit.open(path) as c, c.open_entry("data") as f:
        got: list[bytes] = []
        with pytest.raises(PayloadError):
            got.extend(bytes(v) for v in f.views())  # chunk 3 is read ahead, never yielded
    plain = (tmp_path / "data").read_bytes()
    assert got == [plain[:C], plain[C : 2 * C]]  # only authenticated chunks came out
