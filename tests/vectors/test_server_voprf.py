"""The key server's own VOPRF (keyserver._domain.keys, what the release path calls) against
RFC 9497's vectors and against the container vectors of spec/vectors/.

pycontainer's in-process server is only a stand-in; this checks the code that answers
readers in production: its key derivation, its evaluation and its proof.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from keyserver._domain import keys
from pycontainer.format import oprf
from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import open_container

HERE = Path(__file__).resolve().parent
SUITE = json.loads((HERE / "rfc9497.json").read_text())["suites"]["ristretto255-SHA512"]
VOPRF = SUITE["VOPRF Mode"]
SEED = bytes.fromhex(VOPRF["key"]["Seed"])
INFO = bytes.fromhex(VOPRF["key"]["KeyInfo"])


def test_server_key_pair_is_the_rfcs() -> None:
    assert keys.evaluator(SEED, INFO).public_key.serialize().hex() == VOPRF["key"]["pkSm"]


@pytest.mark.parametrize("vec", [v for v in VOPRF["vectors"] if "," not in v["Input"]])
def test_server_evaluation_matches_the_rfc(vec: dict[str, Any]) -> None:
    # The RFC's blinded element, evaluated by the server: the RFC's evaluated element
    # (the proof uses a random nonce, so it is checked by verification below).
    element, proof = keys.evaluate(
        SEED, keys.parse_blinded(bytes.fromhex(vec["BlindedElement"])), INFO
    )
    assert element.hex() == vec["EvaluationElement"]
    assert len(proof) == 64
    # A fresh blind of the RFC's input: the client verifies the server's proof and gets
    # the RFC's output.
    state, blinded = oprf.blind(bytes.fromhex(vec["Input"]))
    element, proof = keys.evaluate(SEED, keys.parse_blinded(blinded), INFO)
    pk = bytes.fromhex(VOPRF["key"]["pkSm"])
    assert oprf.finalize(state, element, proof, pk).hex() == vec["Output"]


class _ServerCode:
    """A KeyServer whose evaluation is the key server's own code path."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        element, proof = keys.evaluate(self.seed, keys.parse_blinded(blinded_element))
        return Evaluation(element, proof, None)


def test_server_opens_every_success_vector(all_vectors: list[Any], tmp_path: Path) -> None:
    opened = 0
    for v in all_vectors:
        if v.one("expect") != "success":
            continue
        path = tmp_path / v.name
        path.write_bytes(v.body)
        server = _ServerCode(bytes.fromhex(v.one("server seed")))
        with open_container(path, key_server=server, password=v.one("password"), workers=1) as c:
            c.verify()
            assert c.receipt_key.hex() == v.one("receipt key")
            assert c.header_digest.hex() == v.one("header digest")
            header_length = int.from_bytes(v.body[10:14], "big")
            assert c.header_digest == hashlib.sha256(v.body[:header_length]).digest()
        opened += 1
    assert opened >= 20
