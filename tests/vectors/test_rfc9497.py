"""The VOPRF of spec/format.md §voprf is RFC 9497's: check it against the RFC's own vectors.

pycontainer's wrapper must reproduce the RFC's public key from (Seed, KeyInfo) and its
Finalize outputs (which do not depend on the random blind), with a 32-byte evaluated element
and a 64-byte proof (c || s) on the wire.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pycontainer.format import oprf

HERE = Path(__file__).resolve().parent
SUITE = json.loads((HERE / "rfc9497.json").read_text())["suites"]["ristretto255-SHA512"]
VOPRF = SUITE["VOPRF Mode"]
KEY = VOPRF["key"]


def test_public_key_from_seed() -> None:
    ev = oprf.Evaluator(bytes.fromhex(KEY["Seed"]), bytes.fromhex(KEY["KeyInfo"]))
    assert ev.public_key.hex() == KEY["pkSm"]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for vec in VOPRF["vectors"]:
        # Batched vectors list their inputs and outputs comma-separated.
        for n, (inp, out) in enumerate(
            zip(vec["Input"].split(","), vec["Output"].split(","), strict=True)
        ):
            cases.append((f"{vec['name']} #{n}", inp, out))
    return cases


@pytest.mark.parametrize(("name", "inp", "out"), _cases(), ids=[c[0] for c in _cases()])
def test_finalize_output(name: str, inp: str, out: str) -> None:
    ev = oprf.Evaluator(bytes.fromhex(KEY["Seed"]), bytes.fromhex(KEY["KeyInfo"]))
    state, blinded = oprf.blind(bytes.fromhex(inp))
    element, proof = ev.evaluate(blinded)
    assert len(blinded) == 32
    assert len(element) == 32
    assert len(proof) == 64
    assert oprf.finalize(state, element, proof, ev.public_key).hex() == out, name


def test_proof_against_another_key_is_refused() -> None:
    from pycontainer.errors import KeyServerProtocolError  # noqa: PLC0415

    ev = oprf.Evaluator(bytes.fromhex(KEY["Seed"]), bytes.fromhex(KEY["KeyInfo"]))
    other = oprf.Evaluator(bytes(32))
    state, blinded = oprf.blind(b"rwc/v1 oprf input")
    element, proof = ev.evaluate(blinded)
    with pytest.raises(KeyServerProtocolError):
        oprf.finalize(state, element, proof, other.public_key)
