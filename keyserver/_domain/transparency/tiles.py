"""The tree's hashes stored as tiles (spec §transparency, "The tree on the server").

A tile ``(level L, index N)`` holds the hashes of the complete nodes at tree level
``L * HEIGHT`` with node indexes ``[N * WIDTH, N * WIDTH + k)``, concatenated, ``k <=
WIDTH``; only the last tile of each tile level is partial. Any complete subtree is then
computed from ONE tile: a node ``r < HEIGHT`` levels above ``L * HEIGHT`` is the RFC 9162
node hash over ``2**r`` consecutive hashes of that tile. This is the layout of C2SP
``tlog-tiles`` (height 8), kept in the database.

Why tiles and not one row per complete node: a row per node meant two inserted rows per
audit entry, which was most of the follower's CPU per entry (bench/profiles/tlog.md);
tiles store each leaf hash once, in a row shared with 255 others, and a proof or a root
still reads O(log n) rows (one tile per 8 levels), hashing at most 127 nodes per read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from keyserver._domain.transparency import merkle

HEIGHT = 8
WIDTH = 1 << HEIGHT

TileSource = Callable[[int, int], bytes]
"""``(tile level, tile index) -> the tile's hashes, concatenated`` (full or partial)."""


class MissingNodeError(LookupError):
    """The stored tiles do not hold the node asked for (the tree is shorter or damaged)."""


class TileNodes:
    """A :data:`merkle.NodeSource` over stored tiles; tiles and nodes are memoised."""

    def __init__(self, tiles: TileSource) -> None:
        self._source = tiles
        self._tiles: dict[tuple[int, int], bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}

    def tile(self, tile_level: int, index: int) -> bytes:
        """The stored hashes of one tile (read once)."""
        key = (tile_level, index)
        found = self._tiles.get(key)
        if found is None:
            found = self._tiles[key] = self._source(tile_level, index)
        return found

    def __call__(self, level: int, idx: int) -> bytes:
        """The hash of complete subtree ``(level, idx)``: leaves ``[idx << level, ...)``."""
        key = (level, idx)
        found = self._nodes.get(key)
        if found is None:
            tile_level, rise = divmod(level, HEIGHT)
            first = idx << rise  # index of its first node at level tile_level * HEIGHT
            data = self.tile(tile_level, first >> HEIGHT)
            start = (first & (WIDTH - 1)) * merkle.HASH_SIZE
            end = start + (merkle.HASH_SIZE << rise)
            if len(data) < end or len(data) % merkle.HASH_SIZE:
                raise MissingNodeError(f"no stored node at level {level}, index {idx}")
            hashes = [data[i : i + merkle.HASH_SIZE] for i in range(start, end, merkle.HASH_SIZE)]
            while len(hashes) > 1:  # RFC 9162 §2.1.1 over a complete (power-of-two) range
                hashes = [
                    merkle.node_hash(a, b) for a, b in zip(hashes[::2], hashes[1::2], strict=True)
                ]
            found = self._nodes[key] = hashes[0]
        return found


def tile_hashes(created: Sequence[tuple[int, int, bytes]]) -> dict[int, list[bytes]]:
    """The hashes a tile stores among new complete nodes, per tile level, in index order.

    ``created``: what :meth:`merkle.Frontier.append` returned, in order; only nodes at
    levels that are multiples of :data:`HEIGHT` are stored, the others are recomputed.
    """
    stored: dict[int, list[bytes]] = {}
    for level, _idx, h in created:
        if level % HEIGHT == 0:
            stored.setdefault(level // HEIGHT, []).append(h)
    return stored


def tile_writes(
    old_size: int, new_hashes: Mapping[int, Sequence[bytes]]
) -> Iterator[tuple[int, int, int, bytes]]:
    """``(tile level, tile index, hashes it holds already, bytes to append)`` per tile.

    The tree grew from ``old_size`` leaves; ``new_hashes`` (:func:`tile_hashes`) are the
    new complete nodes of each tile level, whose first index is the count of such nodes
    in the old tree (``old_size >> level``: complete nodes only ever come in order).
    """
    for tile_level, hashes in new_hashes.items():
        node = old_size >> (tile_level * HEIGHT)
        done = 0
        while done < len(hashes):
            index, held = divmod(node, WIDTH)
            take = min(WIDTH - held, len(hashes) - done)
            yield tile_level, index, held, b"".join(hashes[done : done + take])
            done += take
            node += take
