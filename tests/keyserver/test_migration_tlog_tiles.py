"""Migration 0012_tlog_tiles moves the transparency tree's hashes into tiles, and back.

The database is migrated to 0011 and given a tree as an older server stored it (one row
per complete node, computed here from random leaf hashes by the RFC 9162 definition, not
by the server's code), then migrated to the head: the tree read from the tiles has the
same root and serves proofs that verify against it. Downgrading gives back exactly the
node rows there were. A tree with a node missing is refused with a message saying why.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from keyserver._domain.settings import Settings
from keyserver._domain.transparency import merkle
from keyserver._store import tlog
from keyserver._store.engine import migrate
from tests.support import migrations
from tests.support.rfc9162 import mth

# Two full tiles of leaves and a partial third; level 8 holds two nodes (a second tile level).
SIZE = 2 * 256 + 77


engine = migrations.engine  # the fixture: an empty database, on SQLite and on PostgreSQL


def _complete_nodes(leaf_hashes: list[bytes]) -> set[tuple[int, int, bytes]]:
    """Every complete subtree (level, index, hash) of the tree, by definition."""
    nodes = set()
    level = 0
    while 1 << level <= len(leaf_hashes):
        width = 1 << level
        for idx in range(len(leaf_hashes) // width):
            nodes.add((level, idx, mth(leaf_hashes[idx * width : (idx + 1) * width])))
        level += 1
    return nodes


def _node_rows(engine: sa.Engine) -> set[tuple[int, int, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, idx, hash FROM tlog_nodes"))
        return {(int(level), int(idx), bytes(h)) for level, idx, h in rows}


def _old_tree(engine: sa.Engine, nodes: set[tuple[int, int, bytes]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO tlog_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
            [{"l": level, "i": idx, "h": h} for level, idx, h in sorted(nodes)],
        )
        conn.execute(sa.text("UPDATE tlog_state SET size = :n WHERE id = 1"), {"n": SIZE})


def test_nodes_become_tiles_and_back(engine: sa.Engine) -> None:
    leaves = [os.urandom(32) for _ in range(SIZE)]
    nodes = _complete_nodes(leaves)
    migrations.to(engine, "0011_key_generations")
    _old_tree(engine, nodes)
    migrate(Settings(database_url=str(engine.url), master_key_b64="A" * 43), engine)

    root = mth(leaves)
    with Session(engine) as session:
        reader = tlog.NodeReader(session)
        assert merkle.root(reader, SIZE) == root
        assert merkle.Frontier.load(reader, SIZE).root() == root
        for index in (0, 255, 256, 511, 512, SIZE - 1):
            proof = merkle.inclusion_proof(reader, index, SIZE)
            merkle.verify_inclusion(leaves[index], index, SIZE, proof, root)
        old = mth(leaves[:300])
        merkle.verify_consistency(300, SIZE, old, root, merkle.consistency_proof(reader, 300, SIZE))

    migrations.to(engine, "0011_key_generations", down=True)
    assert _node_rows(engine) == nodes


def test_a_damaged_tree_is_refused(engine: sa.Engine) -> None:
    leaves = [os.urandom(32) for _ in range(SIZE)]
    nodes = {n for n in _complete_nodes(leaves) if n[:2] != (0, 300)}
    migrations.to(engine, "0011_key_generations")
    _old_tree(engine, nodes)
    with pytest.raises(RuntimeError, match="lacks the node at level 0, index 300"):
        migrations.to(engine, "head")
    # Nothing was moved: the transaction rolled back, the old tree is as it was.
    assert _node_rows(engine) == nodes
