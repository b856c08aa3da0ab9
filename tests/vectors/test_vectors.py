"""Run every committed test vector (spec/vectors/) through pycontainer's reader.

Each vector is opened with a real in-process key server holding the vector's VOPRF seed,
then verified, listed, read entry by entry (with seeks) and extracted. A success vector must
give exactly its files (by SHA-256), directories, receipt key and header digest; any other
vector must fail with exactly the error class of its ``expect:`` line, and an extraction that
fails must leave no plaintext on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from pycontainer.errors import (
    ContainerError,
    FormatError,
    HeaderAuthError,
    InputError,
    KeyServerError,
    PayloadError,
    UnsafePathError,
    UnsupportedVersionError,
    WrongPasswordError,
)
from pycontainer.format import keyschedule, oprf
from pycontainer.format.header import decode_header
from pycontainer.keyrelease import Evaluation, InProcessKeyServer, SlotInfo
from pycontainer.reader import Container, open_container

EXPECT: dict[str, type[ContainerError]] = {
    "format error": FormatError,
    "unsupported version": UnsupportedVersionError,
    "unsafe path": UnsafePathError,
    "wrong password": WrongPasswordError,
    "key server error": KeyServerError,
    "header auth error": HeaderAuthError,
    "payload error": PayloadError,
    "input error": InputError,
}


class VectorKeyServer:
    """The vector's server: an InProcessKeyServer holding the vector's seed.

    The seed is registered under whatever container id the reader asks about, so that a
    vector whose container id was altered still reaches the real key (as a server that
    mapped that id to this seed would).
    """

    def __init__(self, seed: bytes, element: bytes | None = None) -> None:
        self.server = InProcessKeyServer()
        self._seed = seed
        self._element = element
        self._known: set[bytes] = set()

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        if slot.container_id not in self._known:
            self.server.register(seed=self._seed, container_id=slot.container_id)
            self._known.add(slot.container_id)
        answer = self.server.evaluate(slot, blinded_element)
        if self._element is not None:  # the vector's "evaluated element" line
            return Evaluation(self._element, answer.proof, answer.challenge)
        return answer


def _server(v: Any) -> VectorKeyServer:
    element = v.all("evaluated element")
    return VectorKeyServer(
        bytes.fromhex(v.one("server seed")), bytes.fromhex(element[0]) if element else None
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_all_entries(c: Container) -> dict[str, str]:
    digests = {}
    for e in c.entries():
        if not e.is_file:
            continue
        with c.open_entry(e.path) as f:
            data = f.read()
            assert len(data) == e.size
            # Random access must give the same bytes as a sequential read.
            if e.size > 2:
                f.seek(e.size // 2)
                assert f.read(7) == data[e.size // 2 : e.size // 2 + 7]
                f.seek(-1, io.SEEK_END)
                assert f.read() == data[-1:]
        digests[e.path] = _sha256(data)
    return digests


def _files_on_disk(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def _open(v: Any, path: Path, server: VectorKeyServer) -> Container:
    return open_container(
        path,
        key_server=server,
        password=v.one("password"),
        workers=1,
    )


def _check_success(v: Any, path: Path, tmp_path: Path) -> None:
    server = _server(v)
    want_files = dict(line.rsplit(" ", 1) for line in v.all("file"))
    want_dirs = set(v.all("directory"))
    with _open(v, path, server) as c:
        c.verify()
        entries = c.entries()
        assert {e.path for e in entries if e.is_dir} == want_dirs
        assert _read_all_entries(c) == want_files
        assert c.header_digest.hex() == v.one("header digest")
        assert c.receipt_key.hex() == v.one("receipt key")
        # The receipt the reader would send verifies with the receipt key of the vector.
        server.server.commit(c.container_id, c.header_digest, bytes.fromhex(v.one("receipt key")))
        assert c.evaluation.challenge is not None
        assert server.server.confirm_receipt(
            c.container_id, c.evaluation.challenge, c.receipt_mac()
        )
        dest = tmp_path / "out"
        c.extract(dest)
    on_disk = {str(p.relative_to(dest)): _sha256(p.read_bytes()) for p in _files_on_disk(dest)}
    assert on_disk == want_files
    for d in want_dirs:
        assert (dest / d).is_dir()


def _check_failure(v: Any, path: Path, tmp_path: Path) -> None:
    expected = EXPECT[v.one("expect")]
    dest = tmp_path / "out"
    server = _server(v)
    with pytest.raises(ContainerError) as info, _open(v, path, server) as c:
        c.verify()
        _read_all_entries(c)
        c.extract(dest)
    err = info.value
    assert isinstance(err, expected), f"{v.name}: got {type(err).__name__}: {err}"
    if expected is FormatError:
        assert not isinstance(err, UnsupportedVersionError | UnsafePathError), repr(err)
    if expected is PayloadError:
        # Extraction without a prior verify() must fail the same way and leave nothing.
        try:
            with _open(v, path, _server(v)) as c, pytest.raises(PayloadError):
                c.extract(dest)
        except PayloadError:
            pass  # the fault was already caught while opening (final or index chunk)
    assert _files_on_disk(tmp_path) == [path], "a failed read left files behind"
    if set(v.all("spec")) <= STEP_1_RULES:
        # spec §reading step 1: refused before the key server is asked (no attempt spent).
        assert server.server.calls == 0, f"{v.name}: the key server was asked"


# The rules spec §reading step 1 checks, before any network request.
STEP_1_RULES = {
    *(f"[F-{r}]" for r in ("MAGIC", "PREFIX", "VERSION", "HLEN-RANGE", "HLEN-FILE", "SUITE")),
    *(f"[F-{r}]" for r in ("CHUNK-LOG2", "SLOT-COUNT", "SLOT-LENGTH", "URL", "PUBKEY")),
    *(f"[F-{r}]" for r in ("ARGON2", "EXT-COUNT", "EXT-FLAGS", "EXT-DUPLICATE", "HLEN-MATCH")),
    *(f"[F-{r}]" for r in ("EXT-CRITICAL", "NO-SLOT", "PAYLOAD-EMPTY", "CHUNK-SHORT")),
    "[F-PASSWORD-LENGTH]",
}


def test_vector(vector: Any, tmp_path: Path) -> None:
    container = tmp_path / "container.rwc"
    container.write_bytes(vector.body)
    if vector.one("expect") == "success":
        _check_success(vector, container, tmp_path)
    else:
        _check_failure(vector, container, tmp_path)


def test_expect_values_are_known(all_vectors: list[Any]) -> None:
    assert all_vectors, "no vectors committed"
    for v in all_vectors:
        assert v.one("expect") in {*EXPECT, "success"}, v.name


def test_key_schedule_intermediates(all_vectors: list[Any]) -> None:
    """The step-by-step values of the builder's success vectors match pycontainer's own."""
    checked = 0
    for v in all_vectors:
        if not v.all("kek"):
            continue
        header_length = int.from_bytes(v.body[10:14], "big")
        header = decode_header(v.body[:header_length])
        slot = header.oprf_slots()[0]
        state, blinded = oprf.blind(keyschedule.oprf_input(slot.container_id, v.one("password")))
        element, proof = oprf.Evaluator(bytes.fromhex(v.one("server seed"))).evaluate(blinded)
        oprf_out = oprf.finalize(state, element, proof, slot.public_key)
        assert oprf_out.hex() == v.one("oprf output"), v.name
        kek = keyschedule.derive_kek(oprf_out, slot.container_id, slot.argon2)
        assert kek.hex() == v.one("kek"), v.name
        dek, _ = keyschedule.unwrap(kek, slot.wrap_nonce, slot.wrapped, slot.aad())
        assert dek.hex() == v.one("dek"), v.name
        assert keyschedule.payload_key(dek, header.payload_nonce).hex() == v.one("payload key")
        checked += 1
    assert checked >= 10
