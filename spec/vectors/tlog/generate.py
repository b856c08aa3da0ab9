#!/usr/bin/env python3
"""Generate the transparency-log test vectors deterministically (spec/protocol.md §transparency).

Usage: ``python spec/vectors/tlog/generate.py [--out DIR]`` (``make vectors``). Every key is
derived from SHA-256 of a fixed label, and Ed25519 signatures are deterministic (RFC 8032),
so the output is the same byte for byte on every run. Format: README.md in this directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep spec/vectors/ free of __pycache__
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from keyserver._domain.transparency import merkle  # noqa: E402
from keyserver._domain.transparency.checkpoint import Checkpoint  # noqa: E402
from keyserver._domain.transparency.cosignature import cosign, signed_message  # noqa: E402
from keyserver._domain.transparency.note import COSIGNATURE_V1, ED25519, Note, SignerKey  # noqa: E402

NOT_VECTORS = {"README.md", "generate.py"}
ORIGIN = "city.example/rwc"
WITNESS = "prefecture.example/witness"
TIMESTAMP = 1796371200  # 2026-12-04T00:00:00Z


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"rwc/v1 tlog vector {label}".encode()).digest()


LOG_KEY = SignerKey(ORIGIN, ED25519, _seed("log key"))
OTHER_LOG_KEY = SignerKey(ORIGIN, ED25519, _seed("another log key"))
WITNESS_KEY = SignerKey(WITNESS, COSIGNATURE_V1, _seed("witness key"))

_ENTRY = {"actor": "clerk@city.example", "action": "evaluate", "outcome": "ok",
          "remote": "192.0.2.7", "container": "AAECAwQFBgcICQoLDA0ODw"}  # fmt: skip


def entries() -> list[str]:
    """Canonical encodings (spec §audit) of 11 audit entries: the leaves of the vectors."""
    out = []
    for seq in range(1, 12):
        doc = dict(_ENTRY, seq=seq, at=f"2026-11-26T09:00:{seq:02d}.000000Z")
        doc["details"] = {"mode": "read", "unconfirmed": seq}
        if seq == 1:
            doc.update(actor="writer@contractor.example", action="register", details={})
        if seq == 6:
            doc.update(outcome="refused", details={"reason": "not-allowed"})
        if seq == 11:
            doc.update(actor="official@city.example", action="destroy", container=None,
                       details={"reason": "USB stick lost", "scope": "medium",
                                "target": "USB-0042", "affected": 1})  # fmt: skip
        out.append(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return out


class _Tree:
    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        frontier = merkle.Frontier()
        for leaf in leaves:
            for level, index, h in frontier.append(leaf):
                self.nodes[level, index] = h

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[level, index]


def _vector(lines: list[tuple[str, str]], body: bytes = b"") -> bytes:
    for key, value in lines:
        assert "\n" not in value and ": " not in key, (key, value)
    return ("".join(f"{k}: {v}\n" for k, v in lines) + "\n").encode("utf-8") + body


def vectors() -> dict[str, bytes]:
    """Every vector, by file name."""
    data = [e.encode("utf-8") for e in entries()]
    leaves = [merkle.leaf_hash(d) for d in data]
    tree = _Tree(leaves)
    out: dict[str, bytes] = {}
    lines = [("expect", "leaf hashes"), ("comment", "leaf = SHA-256(0x00 || canonical entry)")]
    for d, h in zip(data, leaves, strict=True):
        lines += [("entry", d.decode("utf-8")), ("leaf hash", h.hex())]
    out["tlog_leaf_hashes"] = _vector(lines)
    lines = [("expect", "tree roots"), ("comment", "root of the first n leaves, n = 0..11")]
    lines += [("root", f"{n} {merkle.root(tree.get, n).hex()}") for n in range(len(leaves) + 1)]
    out["tlog_tree_roots"] = _vector(lines)
    for index, size in [(0, 1), (5, 11), (10, 11), (3, 8)]:
        proof = merkle.inclusion_proof(tree.get, index, size)
        lines = [("expect", "inclusion ok"), ("leaf index", str(index)),
                 ("tree size", str(size)), ("leaf hash", leaves[index].hex()),
                 ("root", merkle.root(tree.get, size).hex())]  # fmt: skip
        lines += [("proof", p.hex()) for p in proof]
        lines.append(("comment", f"inclusion of leaf {index} in the tree of {size} leaves"))
        out[f"tlog_inclusion_{index}_{size}"] = _vector(lines)
    for old, new in [(4, 8), (5, 11), (7, 11), (11, 11)]:
        proof = merkle.consistency_proof(tree.get, old, new)
        lines = [("expect", "consistency ok"), ("old size", str(old)), ("new size", str(new)),
                 ("old root", merkle.root(tree.get, old).hex()),
                 ("new root", merkle.root(tree.get, new).hex())]  # fmt: skip
        lines += [("proof", p.hex()) for p in proof]
        lines.append(("comment", f"the tree of {old} leaves is a prefix of the tree of {new}"))
        out[f"tlog_consistency_{old}_{new}"] = _vector(lines)
    # A history rewritten like the key test of issue 13: release 4 turned into a refusal.
    rewritten = list(leaves)
    rewritten[3] = merkle.leaf_hash(data[3].replace(b'"ok"', b'"refused"'))
    rtree = _Tree(rewritten)
    lines = [("expect", "consistency fails"), ("old size", "7"), ("new size", "11"),
             ("old root", merkle.root(tree.get, 7).hex()),
             ("new root", merkle.root(rtree.get, 11).hex())]  # fmt: skip
    lines += [("proof", p.hex()) for p in merkle.consistency_proof(rtree.get, 7, 11)]
    lines.append(("comment", "release 4 rewritten as a refusal after a checkpoint of 7"))
    out["tlog_consistency_forked"] = _vector(lines)

    cp = Checkpoint(ORIGIN, len(leaves), merkle.root(tree.get, len(leaves)))
    body = cp.body()
    signed = Note(body, (LOG_KEY.sign_note(body),))
    cosigned = signed.with_signatures(cosign(WITNESS_KEY, body, TIMESTAMP))
    keys = [("log key", LOG_KEY.verifier().encode()), ("log private key", LOG_KEY.encode())]
    wkeys = [("witness key", WITNESS_KEY.verifier().encode()),
             ("witness private key", WITNESS_KEY.encode())]  # fmt: skip
    out["tlog_checkpoint"] = _vector(
        [("expect", "checkpoint ok"), *keys, ("comment", "checkpoint of the 11 leaves")],
        signed.encode(),
    )
    out["tlog_checkpoint_cosigned"] = _vector(
        [("expect", "checkpoint ok"), *keys, *wkeys, ("cosignature time", str(TIMESTAMP)),
         ("cosigned message hex", signed_message(body, TIMESTAMP).hex()),
         ("comment", "the same checkpoint with a witness cosignature (cosignature/v1)")],
        cosigned.encode(),
    )  # fmt: skip
    out["tlog_checkpoint_other_key"] = _vector(
        [("expect", "unknown key"), *keys,
         ("comment", "same origin, signed by another key: no signature of the log key")],
        Note(body, (OTHER_LOG_KEY.sign_note(body),)).encode(),
    )  # fmt: skip
    tampered = Checkpoint(ORIGIN, cp.size, merkle.root(tree.get, 10)).body()
    out["tlog_checkpoint_tampered"] = _vector(
        [("expect", "bad signature"), *keys,
         ("comment", "root hash replaced after signing")],
        Note(tampered, signed.signatures).encode(),
    )  # fmt: skip
    return out


def generate(out: Path) -> list[str]:
    """Write every vector into ``out``; remove stale ones there; return the names."""
    out.mkdir(parents=True, exist_ok=True)
    made = vectors()
    for name, content in made.items():
        (out / name).write_bytes(content)
    for stale in out.iterdir():
        if stale.is_file() and stale.name not in NOT_VECTORS and stale.name not in made:
            stale.unlink()
    return sorted(made)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory (default: here)")
    args = parser.parse_args(argv)
    names = generate(args.out)
    print(f"wrote {len(names)} transparency vectors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
