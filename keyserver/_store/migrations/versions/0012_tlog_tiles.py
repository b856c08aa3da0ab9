"""The transparency tree stored as tiles instead of one row per complete node.

``tlog_nodes`` (level, idx, hash: about two rows per audit entry) becomes ``tlog_tiles``
(keyserver/_domain/transparency/tiles.py: the hashes at levels 0, 8, 16, ... in rows of
256, every other node computed from one of them). Why: inserting two rows per entry was
most of the follower's CPU per entry, which key releases pay for (issue 13's 10% budget;
bench/profiles/tlog.md). The hashes are moved, not recomputed from the audit log: the
tree must stay what the signed checkpoints vouch for, even if an entry was changed
since it was hashed. Downgrade recomputes every complete node from the level-0 hashes.

Revision ID: 0012_tlog_tiles
Revises: 0011_key_generations
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from keyserver._domain.transparency import merkle, tiles

revision = "0012_tlog_tiles"
down_revision = "0011_key_generations"
branch_labels = None
depends_on = None

_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NODES = sa.table(
    "tlog_nodes", sa.column("level"), sa.column("idx"), sa.column("hash", sa.LargeBinary())
)
_TILES = sa.table(
    "tlog_tiles", sa.column("level"), sa.column("idx"), sa.column("hashes", sa.LargeBinary())
)
_BATCH = 1000  # rows per INSERT: bounded memory on a large log


def _size(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT size FROM tlog_state WHERE id = 1")).scalar_one())


def _flush(conn: sa.Connection, table: sa.TableClause, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(sa.insert(table), rows)
        rows.clear()


def _level_hashes(conn: sa.Connection, level: int, count: int) -> Iterator[bytes]:
    """The stored hashes of level ``level``, indexes 0 .. count - 1, or RuntimeError."""
    expected = 0
    rows = conn.execute(
        sa.select(_NODES.c.idx, _NODES.c.hash)
        .where(_NODES.c.level == level, _NODES.c.idx < count)
        .order_by(_NODES.c.idx)
    )
    for idx, h in rows:
        if idx != expected:
            break
        yield bytes(h)
        expected += 1
    if expected != count:
        raise RuntimeError(
            f"tlog_nodes lacks the node at level {level}, index {expected}: the transparency "
            "tree is damaged; restore a backup before migrating"
        )


def upgrade() -> None:
    op.create_table(
        "tlog_tiles",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", _INDEX, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    conn = op.get_bind()
    size = _size(conn)
    tile_level = 0
    while size >> (tile_level * tiles.HEIGHT):
        count = size >> (tile_level * tiles.HEIGHT)
        rows: list[dict[str, object]] = []
        tile: list[bytes] = []
        for n, h in enumerate(_level_hashes(conn, tile_level * tiles.HEIGHT, count)):
            tile.append(h)
            if len(tile) == tiles.WIDTH or n == count - 1:
                rows.append(
                    {"level": tile_level, "idx": n // tiles.WIDTH, "hashes": b"".join(tile)}
                )
                tile = []
                if len(rows) >= _BATCH:
                    _flush(conn, _TILES, rows)
        _flush(conn, _TILES, rows)
        tile_level += 1
    op.drop_table("tlog_nodes")


def downgrade() -> None:
    op.create_table(
        "tlog_nodes",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", _INDEX, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    conn = op.get_bind()
    size = _size(conn)
    frontier = merkle.Frontier()
    rows: list[dict[str, object]] = []
    leaf_tiles = conn.execute(
        sa.select(_TILES.c.hashes).where(_TILES.c.level == 0).order_by(_TILES.c.idx)
    )
    for (data,) in leaf_tiles:
        for i in range(0, len(data), merkle.HASH_SIZE):
            if frontier.size == size:
                break
            for level, idx, h in frontier.append(bytes(data[i : i + merkle.HASH_SIZE])):
                rows.append({"level": level, "idx": idx, "hash": h})
            if len(rows) >= _BATCH:
                _flush(conn, _NODES, rows)
    _flush(conn, _NODES, rows)
    if frontier.size != size:
        raise RuntimeError("tlog_tiles holds fewer leaves than the tree's size")
    op.drop_table("tlog_tiles")
