"""RFC 9162 §2.1.1 Merkle tree hash written from the definition, for tests.

Shares no code with keyserver._domain.transparency: tests compare the server's tree (its
frontier, tiles, proofs) with this naive recursion over a list of leaf hashes.
"""

from __future__ import annotations

import hashlib


def mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH of a non-empty list of LEAF HASHES (already ``SHA-256(0x00 || leaf)``)."""
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):  # the largest power of two smaller than n
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaf_hashes[:k]) + mth(leaf_hashes[k:])).digest()
