"""RFC 9497 conformance (VOPRF mode, ristretto255-SHA512) through pycontainer.format.oprf."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pycontainer.errors import FormatError, KeyServerProtocolError
from pycontainer.format import oprf

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc9497.json"
SUITE = json.loads(VECTORS.read_text())["suites"]["ristretto255-SHA512"]["VOPRF Mode"]
KEY = SUITE["key"]
BATCH1 = [v for v in SUITE["vectors"] if v["name"].endswith("Batch Size 1")]


def _evaluator() -> oprf.Evaluator:
    return oprf.Evaluator(bytes.fromhex(KEY["Seed"]), bytes.fromhex(KEY["KeyInfo"]))


def test_derive_key_pair_matches_pksm() -> None:
    assert _evaluator().public_key.hex() == KEY["pkSm"]


def test_there_are_batch_one_vectors() -> None:
    assert len(BATCH1) == 2


@pytest.mark.parametrize("vector", BATCH1, ids=lambda v: v["name"])
def test_output_reproduced(vector: dict[str, Any]) -> None:
    ev = _evaluator()
    state, blinded = oprf.blind(bytes.fromhex(vector["Input"]))
    element, proof = ev.evaluate(blinded)
    assert len(element) == 32 and len(proof) == 64
    out = oprf.finalize(state, element, proof, bytes.fromhex(KEY["pkSm"]))
    assert out.hex() == vector["Output"]


def test_rfc_blinded_element_evaluates_to_rfc_element() -> None:
    # The evaluated element is deterministic given the blinded element (the proof is not).
    ev = _evaluator()
    for vector in BATCH1:
        element, _ = ev.evaluate(bytes.fromhex(vector["BlindedElement"]))
        assert element.hex() == vector["EvaluationElement"]


def test_proof_against_other_key_fails() -> None:
    state, blinded = oprf.blind(b"\x00")
    element, proof = _evaluator().evaluate(blinded)
    other = oprf.Evaluator(b"\x01" * 32).public_key
    with pytest.raises(KeyServerProtocolError, match="proof did not verify"):
        oprf.finalize(state, element, proof, other)


def test_tampered_proof_or_element_fails() -> None:
    ev = _evaluator()
    state, blinded = oprf.blind(b"input")
    element, proof = ev.evaluate(blinded)
    for i in (0, 31, 63):
        bad = bytearray(proof)
        bad[i] ^= 1
        with pytest.raises(KeyServerProtocolError):
            oprf.finalize(state, element, bytes(bad), ev.public_key)
    bad_el = bytearray(element)
    bad_el[0] ^= 2
    with pytest.raises(KeyServerProtocolError):
        oprf.finalize(state, bytes(bad_el), proof, ev.public_key)


@pytest.mark.parametrize("blob", [b"", bytes(32), b"\xff" * 32, bytes(33)])
def test_evaluator_rejects_invalid_blinded_elements(blob: bytes) -> None:
    with pytest.raises(FormatError):
        _evaluator().evaluate(blob)


@pytest.mark.parametrize("pk", [b"", bytes(31), b"\xff" * 32])
def test_invalid_public_keys(pk: bytes) -> None:
    with pytest.raises(FormatError):
        oprf.check_public_key(pk)


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="the VOPRF seed must be 32 bytes"):
        oprf.Evaluator(b"short")
