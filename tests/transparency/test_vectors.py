"""spec/vectors/tlog: reproducible byte for byte, and right by an independent computation."""

from __future__ import annotations

import base64
import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keyserver._domain.transparency import BadSignatureError, ProofError, UnknownKeyError
from keyserver._domain.transparency.merkle import verify_consistency, verify_inclusion
from keyserver._domain.transparency.note import VerifierKey, parse_note

ROOT = Path(__file__).resolve().parents[2]
VDIR = ROOT / "spec" / "vectors" / "tlog"
NOT_VECTORS = {"README.md", "generate.py"}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in directory.iterdir()
        if p.is_file() and p.name not in NOT_VECTORS
    }


def _parse(data: bytes) -> tuple[list[tuple[str, str]], bytes]:
    head, sep, body = data.partition(b"\n\n")
    assert sep
    lines = []
    for line in head.decode().split("\n"):
        key, colon, value = line.partition(": ")
        assert colon, line
        lines.append((key, value))
    return lines, body


def _all(lines: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in lines if k == key]


def _one(lines: list[tuple[str, str]], key: str) -> str:
    (value,) = _all(lines, key)
    return value


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(d: list[bytes]) -> bytes:  # RFC 9162 §2.1.1 over leaf HASHES
    if not d:
        return _h(b"")
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return _h(b"\x01" + _mth(d[:k]) + _mth(d[k:]))


def _leaves() -> list[bytes]:
    lines, _ = _parse((VDIR / "tlog_leaf_hashes").read_bytes())
    return [bytes.fromhex(h) for h in _all(lines, "leaf hash")]


def test_regenerated_vectors_are_identical(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(VDIR / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert _files(tmp_path) == _files(VDIR), "run `make vectors` and commit the result"


def test_leaf_hashes_and_roots() -> None:
    lines, _ = _parse((VDIR / "tlog_leaf_hashes").read_bytes())
    entries, hashes = _all(lines, "entry"), _all(lines, "leaf hash")
    assert len(entries) == len(hashes) == 11
    for e, h in zip(entries, hashes, strict=True):
        assert _h(b"\x00" + e.encode()).hex() == h
    leaves = _leaves()
    lines, _ = _parse((VDIR / "tlog_tree_roots").read_bytes())
    for row in _all(lines, "root"):
        n, hexroot = row.split(" ")
        assert _mth(leaves[: int(n)]).hex() == hexroot


def _node_from_proof_positions(leaves: list[bytes], index: int, size: int) -> set[bytes]:
    """Every subtree hash a correct inclusion proof could contain (independent check)."""
    out = set()
    for width in range(1, size + 1):
        for start in range(size - width + 1):
            out.add(_mth(leaves[start : start + width]))
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in VDIR.glob("tlog_inclusion_*")))
def test_inclusion_vectors(name: str) -> None:
    lines, _ = _parse((VDIR / name).read_bytes())
    index, size = int(_one(lines, "leaf index")), int(_one(lines, "tree size"))
    leaves = _leaves()
    assert _one(lines, "leaf hash") == leaves[index].hex()
    assert _one(lines, "root") == _mth(leaves[:size]).hex()
    proof = [bytes.fromhex(p) for p in _all(lines, "proof")]
    # Independent: fold the proof the way the tree is shaped (split at powers of two).
    lo, hi, i, steps = 0, size, index, []
    while hi - lo > 1:
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        if i - lo < k:
            steps.append(("right", _mth(leaves[lo + k : hi])))
            hi = lo + k
        else:
            steps.append(("left", _mth(leaves[lo : lo + k])))
            lo += k
    assert [h for _, h in reversed(steps)] == proof
    verify_inclusion(leaves[index], index, size, proof, _mth(leaves[:size]))


@pytest.mark.parametrize("name", sorted(p.name for p in VDIR.glob("tlog_consistency_*")))
def test_consistency_vectors(name: str) -> None:
    lines, _ = _parse((VDIR / name).read_bytes())
    old, new = int(_one(lines, "old size")), int(_one(lines, "new size"))
    old_root, new_root = (
        bytes.fromhex(_one(lines, "old root")),
        bytes.fromhex(_one(lines, "new root")),
    )
    proof = [bytes.fromhex(p) for p in _all(lines, "proof")]
    leaves = _leaves()
    assert old_root == _mth(leaves[:old])
    if _one(lines, "expect") == "consistency ok":
        assert new_root == _mth(leaves[:new])
        # Every proof hash is the hash of a subtree of the new tree.
        subtrees = _node_from_proof_positions(leaves, 0, new)
        assert all(p in subtrees for p in proof)
        verify_consistency(old, new, old_root, new_root, proof)
    else:
        assert new_root != _mth(leaves[:new])
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, proof)


def _vkey(text: str, key_type: int) -> tuple[str, bytes, bytes]:
    name, hex_id, blob = text.split("+", 2)
    raw = base64.b64decode(blob, validate=True)
    assert raw[0] == key_type and len(raw) == 33
    assert _h(name.encode() + b"\n" + raw[:1] + raw[1:])[:4].hex() == hex_id
    return name, bytes.fromhex(hex_id), raw[1:]


def _sig_lines(body: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    text, _, sigs = body.decode().rpartition("\n\n")
    out = []
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith("\u2014 ")
        name, b64 = line[2:].split(" ")
        out.append((name, base64.b64decode(b64, validate=True)))
    return (text + "\n").encode(), out


@pytest.mark.parametrize("name", sorted(p.name for p in VDIR.glob("tlog_checkpoint*")))
def test_checkpoint_vectors(name: str) -> None:
    lines, body = _parse((VDIR / name).read_bytes())
    log_name, log_id, log_pub = _vkey(_one(lines, "log key"), 0x01)
    text, sigs = _sig_lines(body)
    origin, size, root_b64 = text.decode().rstrip("\n").split("\n")
    assert origin == log_name
    ours = [raw for n, raw in sigs if n == log_name and raw[:4] == log_id]
    expect = _one(lines, "expect")
    module_key = VerifierKey.parse(_one(lines, "log key"))
    if expect == "unknown key":
        assert not ours
        with pytest.raises(UnknownKeyError):
            module_key.verify_note(parse_note(body))
        return
    (raw,) = ours
    if expect == "bad signature":
        with pytest.raises(InvalidSignature):
            Ed25519PublicKey.from_public_bytes(log_pub).verify(raw[4:], text)
        with pytest.raises(BadSignatureError):
            module_key.verify_note(parse_note(body))
        return
    assert expect == "checkpoint ok"
    assert base64.b64decode(root_b64) == _mth(_leaves()[: int(size)])
    Ed25519PublicKey.from_public_bytes(log_pub).verify(raw[4:], text)
    module_key.verify_note(parse_note(body))
    if _all(lines, "witness key"):
        w_name, w_id, w_pub = _vkey(_one(lines, "witness key"), 0x04)
        (wraw,) = [raw for n, raw in sigs if n == w_name and raw[:4] == w_id]
        timestamp = int(_one(lines, "cosignature time"))
        assert wraw[4:12] == struct.pack(">Q", timestamp)
        message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text
        assert message.hex() == _one(lines, "cosigned message hex")
        Ed25519PublicKey.from_public_bytes(w_pub).verify(wraw[12:], message)
