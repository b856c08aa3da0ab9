"""The transparency tree in the database (spec §transparency): nodes, follower, checkpoints.

The tree is kept by a FOLLOWER, not by the release transaction: :func:`extend` runs in a
transaction of its own, locks the ``tlog_state`` row, reads the audit entries after the
tree's size (committed entries always form a prefix: appends are serialised by the
chain-head lock), re-checks their HMAC links, hashes them into the tree and stores the new
complete nodes. A checkpoint is signed from the root that :func:`extend` just computed, so
no checkpoint can cover an entry the tree has not hashed. The key-release path is left
exactly as it was (its rate is what the city's readers feel); the price is that an entry
is covered by a signed checkpoint only after the next follower run, at most
``checkpoint_interval`` later (spec §transparency says why that costs no protection).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keyserver._domain.errors import InternalError, NotFoundError
from keyserver._domain.i18n import N_
from keyserver._domain.transparency import merkle, tiles
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.note import Note, SignerKey, parse_note
from keyserver._store import audit_verify
from keyserver._store.audit import GENESIS_HASH, canonical_json, entry_document
from keyserver._store.models import (
    AuditEntry,
    Base,
    TlogCheckpoint,
    TlogCosignature,
    TlogState,
    TlogTile,
)

STATE_ID = 1
# Entries hashed per follower transaction: bounds the lock time after a long outage.
EXTEND_BATCH = 5000
# Core table, not the ORM class: the ORM's bulk INSERT path costs more per row than
# hashing an entry does (bench/profiles/tlog.md).
_TILES = Base.metadata.tables[TlogTile.__tablename__]


def leaf_data(entry: AuditEntry) -> bytes:
    """Spec §transparency: the leaf is the entry's canonical encoding (§audit), UTF-8."""
    return canonical_json(entry_document(entry)).encode("utf-8")


class NodeReader:
    """Complete nodes of the stored tree (a :data:`merkle.NodeSource`), from its tiles."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._nodes = tiles.TileNodes(self._read_tile)

    def _read_tile(self, level: int, idx: int) -> bytes:
        data = self._session.execute(
            select(_TILES.c.hashes).where(_TILES.c.level == level, _TILES.c.idx == idx)
        ).scalar_one_or_none()
        if data is None:
            raise InternalError(N_("the transparency tree is missing a tile"))
        return bytes(data)

    def tile(self, level: int, idx: int) -> bytes:
        """One stored tile's hashes (InternalError if it is missing)."""
        return self._nodes.tile(level, idx)

    def __call__(self, level: int, idx: int) -> bytes:
        """The hash of complete subtree ``(level, idx)``."""
        try:
            return self._nodes(level, idx)
        except tiles.MissingNodeError:
            raise InternalError(N_("the transparency tree is missing a node")) from None


def tree_size(session: Session) -> int:
    """How many audit entries the tree holds."""
    return session.execute(select(TlogState.size).where(TlogState.id == STATE_ID)).scalar_one()


def extend(session: Session, audit_key: bytes) -> tuple[merkle.Frontier, bool]:
    """Hash the audit entries after the tree's size into the tree (caller's transaction).

    Returns the new frontier and whether the tree has caught up with the log (False
    when :data:`EXTEND_BATCH` entries were hashed and more may wait: call again in a
    new transaction, so that no run holds the lock for long).

    Locks the state row first, so concurrent followers (several instances) take turns.
    Refuses (InternalError, nothing written) an entry whose HMAC link does not verify: the
    tree must never vouch for an entry the chain itself calls damaged.
    """
    size = session.execute(
        select(TlogState.size).where(TlogState.id == STATE_ID).with_for_update()
    ).scalar_one()
    nodes = NodeReader(session)
    frontier = merkle.Frontier.load(nodes, size)
    prev = GENESIS_HASH
    if size:
        prev = session.execute(select(AuditEntry.hash).where(AuditEntry.seq == size)).scalar_one()
    # Core rows, not ORM objects, and one encoding per entry for both the HMAC check and
    # the leaf: the follower's cost per entry is what the 10% budget of key releases has
    # to cover (bench/tlog_overhead.py, bench/profiles/tlog.md).
    count = 0
    created: list[tuple[int, int, bytes]] = []
    for row in audit_verify.rows_between(session, size, size + EXTEND_BATCH):
        count += 1
        seq = int(row[0])
        # spec §transparency: entries enter the tree in seq order, each verified first.
        if seq != frontier.size + 1:
            raise InternalError(N_("audit entry %(seq)s is missing", seq=frontier.size + 1))
        leaf = None
        if hmac.compare_digest(bytes(row[8]), prev):
            leaf = audit_verify.verified_text(audit_key, prev, row)
        if leaf is None:
            raise InternalError(
                N_(
                    "audit entry %(seq)s does not verify; the transparency log stops before "
                    "it (run `keyserver audit verify`)",
                    seq=seq,
                )
            )
        prev = bytes(row[9])
        created += frontier.append(merkle.leaf_hash(leaf))
    if count:
        _store_tiles(session, nodes, size, tiles.tile_hashes(created))
        session.execute(
            update(TlogState).where(TlogState.id == STATE_ID).values(size=frontier.size)
        )
    return frontier, count < EXTEND_BATCH


def _store_tiles(
    session: Session, nodes: NodeReader, old_size: int, new_hashes: dict[int, list[bytes]]
) -> None:
    """Append the new stored hashes to their tiles: new tiles inserted, a partial one grown."""
    inserts: list[dict[str, object]] = []
    for level, idx, held, data in tiles.tile_writes(old_size, new_hashes):
        if not held:
            inserts.append({"level": level, "idx": idx, "hashes": data})
            continue
        stored = nodes.tile(level, idx)
        # The partial tile must hold exactly the nodes the old size implies, else appending
        # would put hashes at the wrong indexes (and every later proof would be wrong).
        if len(stored) != held * merkle.HASH_SIZE:
            raise InternalError(N_("the transparency tree's last tile does not match its size"))
        session.execute(
            update(_TILES)
            .where(_TILES.c.level == level, _TILES.c.idx == idx)
            .values(hashes=stored + data)
        )
    if inserts:
        session.execute(_TILES.insert(), inserts)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint with the cosignatures stored for it."""

    size: int
    root: bytes
    created_at: datetime
    note: Note

    @property
    def text(self) -> str:
        """The note as served: log signature, then every stored cosignature."""
        return self.note.encode().decode("utf-8")


def latest_size(session: Session) -> int | None:
    """Size of the newest checkpoint, or None when none was signed yet."""
    return session.execute(select(func.max(TlogCheckpoint.size))).scalar_one_or_none()


def sign(
    session: Session, key: SignerKey, frontier: merkle.Frontier, now: datetime
) -> StoredCheckpoint | None:
    """Sign and store a checkpoint of ``frontier`` unless one of that size exists."""
    newest = latest_size(session)
    if newest is not None and newest >= frontier.size:
        return None
    body = Checkpoint(key.name, frontier.size, frontier.root()).body()
    note = Note(body, (key.sign_note(body),))
    session.add(
        TlogCheckpoint(
            size=frontier.size, root=frontier.root(), created_at=now, note=note.encode().decode()
        )
    )
    return StoredCheckpoint(frontier.size, frontier.root(), now, note)


def load_checkpoint(session: Session, size: int | None = None) -> StoredCheckpoint:
    """The checkpoint of ``size`` (default: the newest), with its cosignatures."""
    query = select(TlogCheckpoint)
    query = (
        query.where(TlogCheckpoint.size == size)
        if size is not None
        else query.order_by(TlogCheckpoint.size.desc()).limit(1)
    )
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(
            N_("no checkpoint of that size") if size is not None else N_("no checkpoint yet")
        )
    note = parse_note(row.note.encode("utf-8"))
    lines = session.execute(
        select(TlogCosignature.line)
        .where(TlogCosignature.size == row.size)
        .order_by(TlogCosignature.witness, TlogCosignature.key_id)
    ).scalars()
    cosigs = [parse_note(f"{note.text}\n{line}\n".encode()).signatures[0] for line in lines]
    return StoredCheckpoint(row.size, row.root, row.created_at, note.with_signatures(*cosigs))


def newest_cosigned(
    session: Session, min_cosignatures: int, at_least: int = 0
) -> StoredCheckpoint | None:
    """The newest checkpoint of size >= ``at_least`` with enough cosignatures, if any."""
    if min_cosignatures <= 0:
        size = latest_size(session)
        return load_checkpoint(session, size) if size is not None and size >= at_least else None
    counted = (
        select(TlogCosignature.size)
        .where(TlogCosignature.size >= at_least)
        .group_by(TlogCosignature.size)
        .having(func.count() >= min_cosignatures)
        .order_by(TlogCosignature.size.desc())
        .limit(1)
    )
    size = session.execute(counted).scalar_one_or_none()
    return load_checkpoint(session, size) if size is not None else None


def store_cosignature(  # noqa: PLR0917 - the fields of one cosignature
    session: Session,
    size: int,
    witness: str,
    key_id: bytes,
    timestamp: int,
    line: str,
    now: datetime,
) -> bool:
    """Store a verified cosignature once; False if that witness already cosigned ``size``."""
    exists = session.execute(
        select(TlogCosignature.size).where(
            TlogCosignature.size == size,
            TlogCosignature.witness == witness,
            TlogCosignature.key_id == key_id,
        )
    ).scalar_one_or_none()
    if exists is not None:
        return False
    session.add(
        TlogCosignature(
            size=size, witness=witness, key_id=key_id, timestamp=timestamp, line=line,
            received_at=now,
        )
    )  # fmt: skip
    return True


def entry_by_seq(session: Session, seq: int) -> AuditEntry:
    """One audit entry (not-found if there is none)."""
    entry = session.get(AuditEntry, seq)
    if entry is None:
        raise NotFoundError(N_("no audit entry %(seq)s", seq=seq))
    return entry


def audit_head(session: Session) -> int:
    """The newest audit entry's number (0 for an empty log): how far the log reaches."""
    return int(session.execute(select(func.coalesce(func.max(AuditEntry.seq), 0))).scalar_one())


def root_at(session: Session, size: int) -> bytes | None:
    """The database's tree root over its first ``size`` entries, if it can tell.

    From the checkpoint of that size if one is stored, else from the tree if it was
    extended that far; None when neither (a restored database not yet followed again).
    """
    stored = session.get(TlogCheckpoint, size)
    if stored is not None:
        return bytes(stored.root)
    if tree_size(session) >= size:
        return merkle.root(NodeReader(session), size)
    return None
