"""The tree stored as tiles (keyserver/_domain/transparency/tiles.py) against the RFC 9162
definition computed here from the leaves (no code shared with merkle or tiles).

A tree is grown in uneven steps, storing only what ``tile_writes`` says after each step
(as the follower does); every complete node read through the tiles must equal the
definition, and the stored tiles must equal the tiles cut from the whole tree at once.
"""

from __future__ import annotations

import random

import pytest

from keyserver._domain.transparency import merkle, tiles
from tests.support.rfc9162 import mth


def _grow(steps: list[int]) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    """Leaf hashes and the tiles stored by appending them ``steps`` at a time."""
    rng = random.Random(len(steps))
    leaves: list[bytes] = []
    store: dict[tuple[int, int], bytes] = {}
    frontier = merkle.Frontier()
    for step in steps:
        old = len(leaves)
        created: list[tuple[int, int, bytes]] = []
        for _ in range(step):
            leaves.append(rng.randbytes(32))
            created += frontier.append(leaves[-1])
        for level, idx, held, data in tiles.tile_writes(old, tiles.tile_hashes(created)):
            assert len(store.get((level, idx), b"")) == held * 32
            store[level, idx] = store.get((level, idx), b"") + data
    return leaves, store


@pytest.mark.parametrize(
    "steps",
    [[1] * 300, [255, 1, 1, 256, 300], [5000], [65536 + 3], [256 * 256 - 1, 1, 1]],
    ids=["one-by-one", "around-a-tile", "one-batch", "second-tile-level", "tile-level-fills"],
)
def test_tiles_hold_every_complete_node(steps: list[int]) -> None:
    leaves, store = _grow(steps)
    size = len(leaves)
    # The stored tiles are the whole tree's level-0, 8, 16 ... nodes cut in 256s.
    level = 0
    while count := size >> (8 * level):
        width = 1 << (8 * level)
        hashes = [mth(leaves[i * width : (i + 1) * width]) for i in range(count)]
        for t in range(0, count, 256):
            assert store.pop((level, t // 256)) == b"".join(hashes[t : t + 256])
        level += 1
    assert store == {}  # nothing else was stored


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 600, 1000])
def test_nodes_roots_and_proofs_through_tiles(size: int) -> None:
    leaves, store = _grow([size])
    nodes = tiles.TileNodes(lambda level, idx: store[level, idx])
    for level in range(size.bit_length()):
        width = 1 << level
        for idx in range(size // width):
            assert nodes(level, idx) == mth(leaves[idx * width : (idx + 1) * width])
    root = mth(leaves)
    assert merkle.root(nodes, size) == root
    for index in {0, size // 2, size - 1}:
        proof = merkle.inclusion_proof(nodes, index, size)
        merkle.verify_inclusion(leaves[index], index, size, proof, root)


def test_a_node_the_tiles_do_not_hold() -> None:
    _leaves, store = _grow([300])
    nodes = tiles.TileNodes(lambda level, idx: store[level, idx])
    with pytest.raises(tiles.MissingNodeError):
        nodes(0, 300)  # leaf 300 of a tree of 300
    with pytest.raises(tiles.MissingNodeError):
        nodes(3, 37)  # leaves 296..303: not complete yet
