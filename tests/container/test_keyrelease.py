"""The key-release step: wrong password, bad proofs, hostile parameters, revocation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pycontainer.errors import (
    FormatError,
    InputError,
    KeyServerProtocolError,
    KeyServerRevokedError,
    ReaderLimitError,
    WrongPasswordError,
)
from pycontainer.format import header as hdr
from pycontainer.format import oprf
from pycontainer.format import primitives as p
from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import ReaderLimits

if TYPE_CHECKING:
    from tests.support.container import Kit


class WrongKeyServer:
    """A real VOPRF evaluator that answers with a different key than the registered one."""

    def __init__(self) -> None:
        self.ev = oprf.Evaluator(b"\x07" * 32)
        self.calls = 0

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        self.calls += 1
        element, proof = self.ev.evaluate(blinded_element)
        return Evaluation(element, proof, b"c" * 32)


class GarbageServer:
    def __init__(self, element: bytes, proof: bytes) -> None:
        self.answer = Evaluation(element, proof)

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        return self.answer


@pytest.fixture
def sealed(kit: Kit, tmp_path: Path) -> Path:
    f = tmp_path / "secret.txt"
    f.write_bytes(b"460517 residents")
    out = tmp_path / "c.rwc"
    kit.seal([f], out)
    return out


def test_wrong_password(kit: Kit, sealed: Path, tmp_path: Path) -> None:
    with pytest.raises(WrongPasswordError) as info:
        kit.open(sealed, password="wrong")
    assert info.value.hint and "password" in info.value.hint
    with pytest.raises(WrongPasswordError):
        kit.open(sealed, password="")


def test_empty_password_works(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    out = tmp_path / "c.rwc"
    kit.seal([f], out, password="")
    with kit.open(out, password="") as c:
        assert c.open_entry("f").read() == b"x"


def test_reader_rejects_proof_from_wrong_key(kit: Kit, sealed: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyServerProtocolError, match="proof did not verify"):
        kit.open(sealed, key_server=WrongKeyServer())


def test_writer_rejects_proof_from_wrong_key(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    out = tmp_path / "c.rwc"
    with pytest.raises(KeyServerProtocolError, match="proof did not verify"):
        kit.seal([f], out, key_server=WrongKeyServer())
    assert not out.exists()
    assert kit.leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("element", "proof"),
    [
        (b"", b""),
        (bytes(32), bytes(64)),  # identity element, zero proof
        (b"\xff" * 32, b"\xff" * 64),  # not canonical
        (bytes(31), bytes(64)),
    ],
)
def test_malformed_server_answers(kit: Kit, sealed: Path, element: bytes, proof: bytes) -> None:
    with pytest.raises(KeyServerProtocolError):
        kit.open(sealed, key_server=GarbageServer(element, proof))


def test_server_answer_replayed_from_another_request(kit: Kit, sealed: Path) -> None:
    # A valid (element, proof) pair for a *different* blinded input must not verify.
    _, blinded = oprf.blind(b"some other input")
    ev = kit.ks.evaluate(kit.slot, blinded)
    with pytest.raises(KeyServerProtocolError):
        kit.open(sealed, key_server=GarbageServer(ev.evaluated_element, ev.proof))


def _rewrite_slot(path: Path, **changes: Any) -> None:
    raw = path.read_bytes()
    h = hdr.decode_header(raw[: hdr.header_length(raw)])
    slot = h.slots[0]._replace(**changes)
    new = hdr.encode_unsigned(h._replace(slots=(slot,))) + h.mac
    path.write_bytes(new + raw[len(h.mac) + len(hdr.encode_unsigned(h)) :])


@pytest.mark.parametrize(
    "argon2",
    [
        (2**31, 1, 1),  # 2 TiB of memory
        (p.ARGON2_M_MAX + 1, 1, 1),
        (8192, 1_000_000, 1),  # hours of work
        (8192, 1, 255),
        (8192, 0, 1),
        (1024, 1, 1),
    ],
)
def test_hostile_argon2_params_rejected_before_server(
    kit: Kit, sealed: Path, argon2: tuple[int, int, int]
) -> None:
    raw = bytearray(sealed.read_bytes())
    h = hdr.decode_header(bytes(raw[: hdr.header_length(bytes(raw))]))
    slot = h.slots[0]
    assert isinstance(slot, hdr.OprfSlot)
    aad = slot.aad()
    # Patch the three u32 fields in place (the encoder itself refuses such values).
    start = raw.index(aad) + len(aad) - 12
    for i, v in enumerate(argon2):
        raw[start + 4 * i : start + 4 * i + 4] = v.to_bytes(4, "big")
    sealed.write_bytes(bytes(raw))
    calls = kit.ks.calls
    with pytest.raises(FormatError, match="Argon2"):
        kit.open(sealed)
    assert kit.ks.calls == calls


def test_reader_argon2_limit_is_configurable(kit: Kit, sealed: Path) -> None:
    calls = kit.ks.calls
    # spec [F-READER-LIMIT]: not a format error; the message names the limit.
    with pytest.raises(ReaderLimitError, match="8191 KiB"):
        kit.open(sealed, limits=ReaderLimits(max_argon2_m=8191))
    assert kit.ks.calls == calls


def test_modified_url_breaks_unwrap(kit: Kit, sealed: Path) -> None:
    # The URL is part of the wrap AAD: pointing a container elsewhere is detected even
    # though the (real) server answered with a valid proof.
    _rewrite_slot(sealed, url="https://evil.example/")
    with pytest.raises(WrongPasswordError):
        kit.open(sealed)


def test_url_override_is_used_and_checked(kit: Kit, sealed: Path) -> None:
    seen = []

    class Spy:
        def evaluate(self, slot: SlotInfo, blinded: bytes) -> Evaluation:
            seen.append(slot.url)
            return kit.ks.evaluate(slot, blinded)

    with kit.open(sealed, key_server=Spy(), url_override="https://moved.example/rwc") as c:
        assert c.entries()[0].path == "secret.txt"
    assert seen == ["https://moved.example/rwc"]
    calls = kit.ks.calls
    with pytest.raises(InputError, match="not allowed"):
        kit.open(sealed, key_server=Spy(), url_override="http://evil.example/")
    assert kit.ks.calls == calls


def test_revoked_container(kit: Kit, sealed: Path) -> None:
    kit.ks.destroy(kit.slot.container_id)
    with pytest.raises(KeyServerRevokedError):
        kit.open(sealed)


def test_bad_public_key_in_header_rejected_offline(kit: Kit, sealed: Path) -> None:
    _rewrite_slot(sealed, public_key=b"\xff" * 32)
    calls = kit.ks.calls
    with pytest.raises(FormatError, match="public key"):
        kit.open(sealed)
    assert kit.ks.calls == calls


def test_writer_checks_parameters_before_server(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    calls = kit.ks.calls
    with pytest.raises(InputError):
        kit.seal([f], tmp_path / "a.rwc", argon2=p.Argon2Params(1024, 1, 1))
    with pytest.raises(InputError):
        kit.seal([f], tmp_path / "b.rwc", chunk_log2=30)
    bad_slot = kit.slot._replace(url="http://example.com/")
    with pytest.raises(InputError, match="URL"):
        kit.seal([f], tmp_path / "c.rwc", slot=bad_slot)
    with pytest.raises(InputError, match="at most 65502 bytes"):
        kit.seal([f], tmp_path / "d.rwc", password="x" * 70000)
    assert kit.ks.calls == calls
    assert list(tmp_path.iterdir()) == [f]
