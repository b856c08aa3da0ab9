"""Transparency-log sizes past 2^31 (PostgreSQL INTEGER was 32-bit: migration 0007_tlog_bigint).

Hashing two billion entries is not a test: the audit chain and the tree are moved to just
below 2^31 with plain SQL (the newest entry renumbered to 2^31 - 2, the chain head and the
tree's size set there), as test_seq_bigint does for the chain alone; the tree's last tile
of each tile level holds random hashes, as many as that size implies. Then entries are
appended and the follower must hash them across 2^31, store leaf hashes of index >= 2^31
(in a tile it grows), sign checkpoints of size > 2^31 and serve proofs that
verify, and a cosignature of such a checkpoint must be stored.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from keyserver._cli.tlog import create_log_key
from keyserver._domain.settings import Settings
from keyserver._domain.transparency import merkle, tiles
from keyserver._domain.transparency.note import parse_note
from keyserver._service import KeyService
from keyserver._store import tlog
from keyserver._store.engine import make_engine

NEAR = 2**31 - 2


@pytest.fixture
def tlog_service(settings: Settings, tmp_path: Path) -> Iterator[KeyService]:
    path = tmp_path / "log.key"
    create_log_key(path, "city.example/rwc")
    svc = KeyService(settings.replace(log_key_file=path, checkpoint_interval=timedelta(0)))
    yield svc
    svc.close()


def _jump(settings: Settings) -> None:
    """Chain and tree at size NEAR: the newest entry renumbered, the last tiles stored."""
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            newest = conn.execute(text("SELECT MAX(seq) FROM audit_log")).scalar_one()
            conn.execute(
                text("UPDATE audit_log SET seq = :n WHERE seq = :s"), {"n": NEAR, "s": newest}
            )
            conn.execute(text("UPDATE audit_head SET seq = :n WHERE id = 1"), {"n": NEAR})
            conn.execute(text("UPDATE tlog_state SET size = :n WHERE id = 1"), {"n": NEAR})
            # The right edge (and every node a proof of the newest leaves needs) lies in
            # the last tile of each tile level.
            level = 0
            while count := NEAR >> (level * tiles.HEIGHT):
                index, held = divmod(count, tiles.WIDTH)
                if held:
                    conn.execute(
                        text("INSERT INTO tlog_tiles (level, idx, hashes) VALUES (:l, :i, :h)"),
                        {"l": level, "i": index, "h": os.urandom(32 * held)},
                    )
                level += 1
    finally:
        engine.dispose()


def test_tree_crosses_2_31(tlog_service: KeyService) -> None:
    svc = tlog_service
    admin = svc.local_actor("ops")
    svc.add_principal(admin, "first", ["reader"])
    _jump(svc.settings)
    for i in range(3):  # entries NEAR+1 .. NEAR+3: leaf indexes up to 2^31
        svc.add_principal(admin, f"reader-{i}", ["reader"])
    first = svc.checkpoint()
    assert first["size"] == NEAR + 3 > 2**31
    svc.add_principal(admin, "reader-3", ["reader"])
    second = svc.checkpoint()
    assert second["size"] == NEAR + 4

    # The newest leaf (index 2^31 + 1) is proven in the newest checkpoint.
    doc = svc.inclusion_proof(admin, NEAR + 4)
    assert doc["leaf_index"] == NEAR + 3 and doc["tree_size"] == NEAR + 4
    merkle.verify_inclusion(
        bytes.fromhex(doc["leaf_hash"]),
        doc["leaf_index"],
        doc["tree_size"],
        [bytes.fromhex(p) for p in doc["proof"]],
        bytes.fromhex(second["root_hash"]),
    )
    assert merkle.leaf_hash(doc["entry"].encode()) == bytes.fromhex(doc["leaf_hash"])
    # The two checkpoints past 2^31 are consistent, and each is served by its size.
    proof = svc.consistency_proof(NEAR + 3, NEAR + 4)
    merkle.verify_consistency(
        NEAR + 3,
        NEAR + 4,
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(p) for p in proof["proof"]],
    )
    assert svc.checkpoint_at(NEAR + 3) == first["checkpoint"]
    note = parse_note(svc.latest_checkpoint().encode())
    assert note.text.splitlines()[1] == str(NEAR + 4)

    # A cosignature of a checkpoint past 2^31 is stored and read back with it.
    line = "— prefecture.example/witness " + base64.b64encode(bytes(76)).decode()
    with svc.ledger.tx() as session:
        assert tlog.store_cosignature(
            session, NEAR + 4, "prefecture.example/witness", b"\0" * 4, 2**40, line, svc.now()
        )
    with svc.ledger.reads() as session:
        stored = tlog.newest_cosigned(session, 1)
    assert stored is not None and stored.size == NEAR + 4
