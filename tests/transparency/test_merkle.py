"""RFC 9162 hashing and proofs against the published CT reference data and against a naive
implementation written here from the RFC's recursive definitions (no code shared with
keyserver._domain.transparency.merkle: the test builds its own tree from a list of leaves).
"""

from __future__ import annotations

import hashlib

import pytest

from keyserver._domain.transparency import ProofError
from keyserver._domain.transparency import merkle as m

# RFC 6962 reference leaves and roots (certificate-transparency / transparency-dev test data).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CT_CONSISTENCY = {
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


# --- the naive reference: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 over a plain list ------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(i: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if i < k:
        return [*naive_path(i, d[:k]), naive_mth(d[k:])]
    return [*naive_path(i - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(mm: int, d: list[bytes], b: bool) -> list[bytes]:
    if mm == len(d):
        return [] if b else [naive_mth(d)]
    k = _k(len(d))
    if mm <= k:
        return [*naive_subproof(mm, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(mm - k, d[k:], False), naive_mth(d[:k])]


class StoredTree:
    """The way the server keeps the tree: complete nodes (level, index) from Frontier."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = m.Frontier()
        self.roots = [m.EMPTY_ROOT]
        for data in leaves:
            for level, index, h in self.frontier.append(m.leaf_hash(data)):
                assert (level, index) not in self.nodes, "a node was written twice"
                self.nodes[level, index] = h
            self.roots.append(self.frontier.root())

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[level, index]


DATA = [bytes([i, i * 7 % 256]) * (i % 3) for i in range(70)]
TREE = StoredTree(DATA)


def test_reference_roots_and_proofs() -> None:
    tree = StoredTree(CT_LEAVES)
    for n, want in enumerate(CT_ROOTS):
        assert m.root(tree.get, n).hex() == want
        assert tree.roots[n].hex() == want
    for (i, n), proof in CT_INCLUSION.items():
        assert [p.hex() for p in m.inclusion_proof(tree.get, i, n)] == proof
    for (a, b), proof in CT_CONSISTENCY.items():
        assert [p.hex() for p in m.consistency_proof(tree.get, a, b)] == proof


def test_roots_agree_with_the_naive_tree() -> None:
    for n in range(len(DATA) + 1):
        want = naive_mth(DATA[:n])
        assert m.root(TREE.get, n) == want
        assert TREE.roots[n] == want
        assert m.Frontier.load(TREE.get, n).root() == want


def test_node_count_is_linear() -> None:
    # Each leaf adds one leaf node and at most one interior node on average: 2n - popcount(n).
    n = len(DATA)
    assert len(TREE.nodes) == 2 * n - bin(n).count("1")


def test_every_inclusion_proof() -> None:
    for n in range(1, len(DATA) + 1):
        r = naive_mth(DATA[:n])
        for i in range(n):
            proof = m.inclusion_proof(TREE.get, i, n)
            assert proof == naive_path(i, DATA[:n])
            m.verify_inclusion(m.leaf_hash(DATA[i]), i, n, proof, r)


def test_every_consistency_proof() -> None:
    for b in range(len(DATA) + 1):
        rb = naive_mth(DATA[:b])
        for a in range(b + 1):
            proof = m.consistency_proof(TREE.get, a, b)
            want = [] if a in {0, b} else naive_subproof(a, DATA[:b], True)
            assert proof == want
            m.verify_consistency(a, b, naive_mth(DATA[:a]), rb, proof)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@pytest.mark.parametrize(("i", "n"), [(0, 1), (0, 2), (1, 2), (3, 7), (6, 7), (5, 8), (40, 70)])
def test_inclusion_refusals(i: int, n: int) -> None:
    leaf, r = m.leaf_hash(DATA[i]), naive_mth(DATA[:n])
    proof = naive_path(i, DATA[:n])
    bad: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (_flip(leaf), i, n, proof, r),
        (leaf, i, n, proof, _flip(r)),
        (leaf, i, n, [*proof, r], r),
        (leaf, i + 1, n, proof, r),
        # (a size with the same tree shape is bound by the signed checkpoint, not the proof)
        (leaf, i, 2 * n, proof, r),
        (leaf, n, n, proof, r),
    ]
    if proof:
        bad += [(leaf, i, n, proof[:-1], r), (leaf, i, n, [_flip(proof[0]), *proof[1:]], r)]
    for args in bad:
        with pytest.raises(ProofError):
            m.verify_inclusion(*args)


@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 5), (3, 7), (4, 8), (6, 8), (7, 70), (64, 70)])
def test_consistency_refusals(a: int, b: int) -> None:
    ra, rb = naive_mth(DATA[:a]), naive_mth(DATA[:b])
    proof = naive_subproof(a, DATA[:b], True)
    forked = naive_mth([*DATA[: a - 1], b"rewritten"])
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (a, b, forked, rb, proof),
        (a, b, ra, _flip(rb), proof),
        (a, b, ra, rb, proof[:-1]),
        (a, b, ra, rb, [*proof, rb]),
        (a, b, ra, rb, [_flip(proof[0]), *proof[1:]]),
        (a + 1, b, ra, rb, proof),
        (b, a, rb, ra, proof),
        (a, b, ra, rb, []),
    ]
    for args in bad:
        with pytest.raises(ProofError):
            m.verify_consistency(*args)


def test_equal_sizes_need_equal_roots() -> None:
    r = naive_mth(DATA[:5])
    m.verify_consistency(5, 5, r, r, [])
    with pytest.raises(ProofError, match="fork"):
        m.verify_consistency(5, 5, r, naive_mth(DATA[1:6]), [])


def test_generators_refuse_impossible_requests() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        m.inclusion_proof(TREE.get, 5, 5)
    with pytest.raises(ValueError, match="no consistency proof"):
        m.consistency_proof(TREE.get, 6, 5)
