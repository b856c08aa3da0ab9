"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs (spec §transparency).

Hashing (RFC 9162 §2.1.1): ``leaf = SHA-256(0x00 || data)``, ``node = SHA-256(0x01 || left ||
right)``, the empty tree's root ``SHA-256("")``; a tree of ``n > 1`` leaves splits at ``k``,
the largest power of two smaller than ``n``.

The proof generators follow the recursive definitions of RFC 9162 §2.1.3.1 (``PATH``) and
§2.1.4.1 (``PROOF``/``SUBPROOF``) over a :data:`NodeSource`: a callable answering the hash
of a COMPLETE subtree ``(level, index)``, i.e. leaves ``[index * 2**level, (index + 1) *
2**level)``. The server stores exactly those nodes (:class:`Frontier` yields them as
leaves are appended), so a proof or a root costs O(log n) node reads, never a walk over
the log. The verifiers are the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and
share no code with the generators.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from keyserver._domain.transparency import ProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeSource = Callable[[int, int], bytes]
"""``(level, index) -> hash`` of a complete subtree of the tree."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(nodes: NodeSource, start: int, end: int) -> bytes:
    """MTH of the leaves ``[start, end)``: stored complete subtrees, joined by RFC 9162's split."""
    n = end - start
    if n <= 0:
        raise ValueError("empty range")
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return nodes(level, start >> level)
    k = _split(n)
    return node_hash(subtree_hash(nodes, start, start + k), subtree_hash(nodes, start + k, end))


def root(nodes: NodeSource, size: int) -> bytes:
    """The root hash of the tree of the first ``size`` leaves."""
    if size < 0:
        raise ValueError("negative tree size")
    return EMPTY_ROOT if size == 0 else subtree_hash(nodes, 0, size)


def inclusion_proof(nodes: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])``, nearest sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _path(nodes, index, 0, size)


def _path(nodes: NodeSource, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(nodes, m, start, start + k), subtree_hash(nodes, start + k, end)]
    return [*_path(nodes, m - k, start + k, end), subtree_hash(nodes, start, start + k)]


def consistency_proof(nodes: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 ``PROOF(old_size, D[0:new_size])``; empty for 0 or equal sizes."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size in {0, new_size}:
        return []
    return _subproof(nodes, old_size, 0, new_size, complete=True)


def _subproof(nodes: NodeSource, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [subtree_hash(nodes, start, end)]
    k = _split(n)
    if m <= k:
        return [
            *_subproof(nodes, m, start, start + k, complete=complete),
            subtree_hash(nodes, start + k, end),
        ]
    return [
        *_subproof(nodes, m - k, start + k, end, complete=False),
        subtree_hash(nodes, start, start + k),
    ]


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofError("a proof hash is not 32 bytes")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise :class:`ProofError` unless ``leaf`` is leaf ``index``."""
    _check_hashes([leaf, root_hash, *proof])
    # spec §transparency / RFC 9162 §2.1.3.2 step 1: the index must lie inside the tree.
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if not hmac.compare_digest(r, root_hash):
        raise ProofError("inclusion proof does not lead to the checkpoint's root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless the old tree is a prefix of the new."""
    _check_hashes([old_root, new_root, *proof])
    if not 0 <= old_size <= new_size:
        raise ProofError(f"tree size went down from {old_size} to {new_size}")
    if old_size in {0, new_size}:
        # Nothing to prove for an empty old tree; equal sizes must have equal roots.
        if proof:
            raise ProofError("consistency proof must be empty for these sizes")
        if old_size == new_size and not hmac.compare_digest(old_root, new_root):
            raise ProofError("two different roots for the same tree size (a fork)")
        return
    path = list(proof)
    if not path:
        raise ProofError("consistency proof is empty")
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError("consistency proof does not lead to the older root (history changed)")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError("consistency proof does not lead to the newer root")


@dataclass
class Frontier:
    """The right edge of the tree: the complete subtrees that make up ``size`` leaves.

    ``hashes`` holds one hash per set bit of ``size``, highest level first; appending a
    leaf merges equal-sized subtrees like a binary counter and reports every complete node
    it creates, which is what the server stores.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def load(cls, nodes: NodeSource, size: int) -> Frontier:
        """Rebuild the frontier of a stored tree from its complete nodes."""
        hashes = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(nodes(level, start >> level))
                start += 1 << level
        return cls(size, hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the new complete nodes ``(level, index, hash)``."""
        index = self.size
        created = [(0, index, leaf)]
        h, level = leaf, 0
        while index >> level & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            created.append((level, index >> level, h))
        self.hashes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        """The root hash of the current tree."""
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r
