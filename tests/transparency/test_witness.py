"""The witness's decision (keyserver._domain.transparency.witness): cosign only extensions."""

from __future__ import annotations

import hashlib

import pytest

from keyserver._domain.transparency import BadSignatureError, UnknownKeyError
from keyserver._domain.transparency import merkle as m
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.note import Note, SignerKey
from keyserver._domain.transparency.witness import ForkError, decide

LOG = SignerKey.generate("city.example/rwc")


class Tree:
    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        f = m.Frontier()
        for leaf in leaves:
            for level, idx, h in f.append(m.leaf_hash(leaf)):
                self.nodes[level, idx] = h

    def get(self, level: int, idx: int) -> bytes:
        return self.nodes[level, idx]

    def note(self, size: int, key: SignerKey = LOG) -> Note:
        body = Checkpoint(LOG.name, size, m.root(self.get, size)).body()
        return Note(body, (key.sign_note(body),))


DATA = [hashlib.sha256(bytes([i])).digest() for i in range(20)]
TREE = Tree(DATA)
FORK = Tree([*DATA[:5], b"rewritten", *DATA[6:]])


def _cp(tree: Tree, size: int) -> Checkpoint:
    return Checkpoint.parse(tree.note(size).text)


def test_first_use_and_extensions() -> None:
    vk = LOG.verifier()
    assert decide(vk, None, TREE.note(7), []).size == 7
    proof = m.consistency_proof(TREE.get, 7, 12)
    assert decide(vk, _cp(TREE, 7), TREE.note(12), proof).size == 12
    assert decide(vk, _cp(TREE, 12), TREE.note(12), []).size == 12


def test_forks_and_rollbacks_are_refused() -> None:
    vk = LOG.verifier()
    with pytest.raises(ForkError, match="rollback"):
        decide(vk, _cp(TREE, 12), TREE.note(7), [])
    with pytest.raises(ForkError, match="not consistent"):
        decide(vk, _cp(TREE, 12), FORK.note(12), [])
    # The forked log's own proof does not help it: it cannot lead to the old root.
    with pytest.raises(ForkError, match="not consistent"):
        decide(vk, _cp(TREE, 7), FORK.note(15), m.consistency_proof(FORK.get, 7, 15))


def test_signatures() -> None:
    vk = LOG.verifier()
    with pytest.raises(UnknownKeyError):
        decide(vk, None, TREE.note(7, SignerKey.generate(LOG.name)), [])
    note = TREE.note(7)
    moved = Note(TREE.note(8).text, note.signatures)
    with pytest.raises(BadSignatureError):
        decide(vk, None, moved, [])
