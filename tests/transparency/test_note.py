"""signed-note, tlog-checkpoint and tlog-cosignature: byte formats against the Go sumdb/note
reference example and against messages built by hand here and checked with ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keyserver._domain.transparency import BadSignatureError, TlogFormatError, UnknownKeyError
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.cosignature import cosign, verify_cosignature
from keyserver._domain.transparency.note import (
    COSIGNATURE_V1,
    Note,
    SignerKey,
    VerifierKey,
    parse_note,
)

# The example of golang.org/x/mod/sumdb/note (its package documentation), byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
).encode()


def test_go_reference_note() -> None:
    sk = SignerKey.parse(GO_SKEY)
    assert sk.encode() == GO_SKEY
    assert sk.verifier().encode() == GO_VKEY
    assert Note(GO_TEXT, (sk.sign_note(GO_TEXT),)).encode() == GO_NOTE
    note = parse_note(GO_NOTE)
    assert note.text == GO_TEXT
    VerifierKey.parse(GO_VKEY).verify_note(note)


def test_key_id_by_hand() -> None:
    vk = VerifierKey.parse(GO_VKEY)
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + vk.public_key).digest()
    assert vk.key_id == digest[:4] == bytes.fromhex("c74f20a3")


def test_tampered_note_and_other_key() -> None:
    vk = VerifierKey.parse(GO_VKEY)
    with pytest.raises(BadSignatureError):
        vk.verify_note(parse_note(GO_NOTE.replace(b"answer", b"ANSWER")))
    other = SignerKey.generate("PeterNeumann")
    with pytest.raises(UnknownKeyError):
        other.verifier().verify_note(parse_note(GO_NOTE))


@pytest.mark.parametrize(
    "data",
    [
        b"no signatures\n",
        b"text\n\n",
        b"text\n\n- PeterNeumann AAAA\n",
        b"text\n\n\xe2\x80\x94 PeterNeumann x08go\n",
        b"text\n\n\xe2\x80\x94 Peter+Neumann x08go/ZJ\n",
        b"text\n\n\xe2\x80\x94 PeterNeumann AAAAAA==\n",
        b"te\x07xt\n\n\xe2\x80\x94 a AAAAAAA=\n",
        b"text\n\n\xe2\x80\x94 a AAAAAAA=",
        b"\xff\n\n\xe2\x80\x94 a AAAAAAA=\n",
    ],
)
def test_malformed_notes(data: bytes) -> None:
    with pytest.raises(TlogFormatError):
        parse_note(data)


_BODY = "city.example/rwc\n20852163\n" + base64.b64encode(bytes(range(32))).decode() + "\n"


def test_checkpoint_body() -> None:
    cp = Checkpoint("city.example/rwc", 20852163, bytes(range(32)))
    assert cp.body() == _BODY
    assert Checkpoint.parse(_BODY) == cp


@pytest.mark.parametrize(
    "bad",
    [
        _BODY.replace("20852163", "020852163"),
        _BODY.replace("20852163", "-1"),
        _BODY.replace("20852163", "\uff11"),
        _BODY[:-1],
        _BODY + "extension\n",
        "city.example/rwc\n1\nAAAA\n",
        "city example\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",
    ],
)
def test_malformed_checkpoint_bodies(bad: str) -> None:
    with pytest.raises(TlogFormatError):
        Checkpoint.parse(bad)


def test_cosignature_by_hand() -> None:
    witness = SignerKey.generate("witness.example/w1", COSIGNATURE_V1)
    log = SignerKey.generate("city.example/rwc")
    body = Checkpoint("city.example/rwc", 3, bytes(32)).body()
    note = Note(body, (log.sign_note(body), cosign(witness, body, 1679315147)))
    encoded = note.encode()
    # Rebuild and check the line by hand (tlog-cosignature §Format, §Ed25519 signed message).
    line = encoded.decode().split("\n")[-2]
    assert line.startswith("\u2014 witness.example/w1 ")
    raw = base64.b64decode(line.split(" ")[2])
    pub = witness.verifier().public_key
    assert raw[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + pub).digest()[:4]
    assert raw[4:12] == struct.pack(">Q", 1679315147)
    message = b"cosignature/v1\ntime 1679315147\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(pub).verify(raw[12:], message)
    # And the module's verifier agrees, on the parsed note.
    parsed = parse_note(encoded)
    assert verify_cosignature(witness.verifier(), parsed) == 1679315147
    log.verifier().verify_note(parsed)
    # A cosignature does not verify as a log signature, nor on another body.
    wv = witness.verifier()
    with pytest.raises(TlogFormatError):
        wv.verify_note(parsed)
    moved = Note(Checkpoint("city.example/rwc", 4, bytes(32)).body(), parsed.signatures)
    with pytest.raises(BadSignatureError):
        verify_cosignature(wv, moved)


def test_vkey_refuses_a_wrong_id() -> None:
    with pytest.raises(TlogFormatError, match="ID does not match"):
        VerifierKey.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(TlogFormatError):
        SignerKey.parse(GO_SKEY.replace("PRIVATE+KEY+", ""))
    assert "AYEKF" not in repr(SignerKey.parse(GO_SKEY))


def _refusals() -> list[tuple[str, str]]:
    """Each malformed variant of both Go reference key strings and the refusal it meets."""
    cases = []
    for prefix, key in (("", GO_VKEY), ("PRIVATE+KEY+", GO_SKEY)):
        name, hex_id, blob = key.removeprefix(prefix).split("+", 2)
        head = f"{prefix}{name}+{hex_id}+"
        raw = base64.b64decode(blob)
        cases += [
            (head + base64.b64encode(b"\x02" + raw[1:]).decode(), "is not an Ed25519 key"),
            (head + base64.b64encode(raw[:-1]).decode(), "is not an Ed25519 key"),
            (key + "!", "is not standard base64"),
            (f"{prefix}{name}+c74f20a4+{blob}", "ID does not match its name and key"),
            (f"{prefix}{name}+{hex_id}", " reads "),
        ]
    return cases


@pytest.mark.parametrize(("text", "match"), _refusals())
def test_both_key_strings_are_read_by_one_rule(text: str, match: str) -> None:
    # The public and the private string share one reading (note._key_fields): the same
    # malformation is refused in both, each naming which string it was.
    if text.startswith("PRIVATE+KEY+"):
        parse: Callable[[str], object] = SignerKey.parse
        what = "private key"
    else:
        parse, what = VerifierKey.parse, "verifier key"
    with pytest.raises(TlogFormatError, match=match) as info:
        parse(text)
    assert what in str(info.value)
