"""Keeping and checking container-row MACs in the database (spec §row-integrity).

The rule every write path follows: **a row's MAC is recomputed only if the row verified
before the change** (or is new). A tampered or restored row therefore never gets a fresh
MAC by being suspended, destroyed or swept along with its medium: it stays refused.

- ORM writes (register, commit, receipt) are covered by one ``before_flush`` hook
  (:func:`_before_flush`): every new or changed :class:`Container` in a session opened by
  :meth:`keyserver._store.ledger.Ledger.tx` gets its MAC, if its loaded values verified.
- Set-based writes (keyserver/_store/transitions.py) go through :func:`constant_update`.
- The release path computes the MAC of the row it writes itself (keyserver/_release/
  rowcheck.py) from the values it read and verified under the row lock.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    event,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, UOWTransaction, attributes
from sqlalchemy.types import NullType

from keyserver._domain import rowmac
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import RowIntegrityError
from keyserver._domain.i18n import N_
from keyserver._domain.keys import KeyRing
from keyserver._store.audit import entry_hash
from keyserver._store.engine import driver_errors
from keyserver._store.evaluation import IS_BULK_ACTION
from keyserver._store.models import AuditEntry, Base, Container, Principal

# session.info key of the key ring (set by Ledger.tx; every writing session has it).
RING = "rwc.keyring"
# session.info key of the ids a bulk change found failing (read by the service's audit).
FAILED = "rwc.row_mac_failed"

_C = Base.metadata.tables[Container.__tablename__]
_MAC_COLUMNS = tuple(_C.c[name] for name in rowmac.FIELD_NAMES)
# spec §rotation: read after row_mac, it selects the row_key of the row's generation.
_GENERATION = _C.c[rowmac.GENERATION]
_LOG = Base.metadata.tables[AuditEntry.__tablename__]
AUDIT_FIELDS = tuple(column.name for column in _LOG.columns)

# spec §row-integrity freshness: successful entries after a row's last_audit_seq that name
# the container, or name none and change containers in bulk. Both halves ride an index
# ((container, seq) and (action, seq)); on a consistent database the first is empty and
# the second holds the bulk changes since the container last changed.
LATER_STMT = (
    select(_LOG.c.seq, _LOG.c.container, _LOG.c.action, _LOG.c.at, _LOG.c.details)
    .where(
        _LOG.c.seq > bindparam("last"),
        _LOG.c.outcome == "ok",
        (_LOG.c.container == bindparam("cid_text")) | (_LOG.c.container.is_(None) & IS_BULK_ACTION),
    )
    .order_by(_LOG.c.seq)
)
ISSUER_STMT = select(Principal.name).where(Principal.id == bindparam("pid"))
# The container's register entry (spec §row-integrity, policy): its columns as exported.
REGISTER_STMT = select(*(_LOG.c[name] for name in AUDIT_FIELDS)).where(
    _LOG.c.container == bindparam("cid_text"),
    _LOG.c.action == "register",
    _LOG.c.outcome == "ok",
)


def register_policy(audit_key: bytes, row: Sequence[Any] | None) -> dict[str, Any] | None:
    """The details of a register entry whose keyed hash verifies, else None.

    ``row``: the :data:`REGISTER_STMT` columns. The entry's HMAC (spec §audit) is checked
    on its own: without the master key nobody can write an entry that verifies, so a
    policy row added in the database cannot be backed by an edited register entry.
    """
    if row is None:
        return None
    entry = AuditEntry(**dict(zip(AUDIT_FIELDS, row, strict=True)))
    entry.prev_hash, entry.hash = bytes(entry.prev_hash), bytes(entry.hash)
    if not hmac.compare_digest(entry_hash(audit_key, entry.prev_hash, entry), entry.hash):
        return None
    details = json.loads(entry.details)
    return details if isinstance(details, dict) else None


def ring_of(session: Session) -> KeyRing:
    """The key ring of a writing session (a bug if it has none)."""
    ring = session.info.get(RING)
    if not isinstance(ring, KeyRing):
        raise TypeError("a container write outside Ledger.tx: no key ring for its row MAC")
    return ring


def fields_of(c: Container) -> dict[str, Any]:
    """The MACed values of an ORM row."""
    return {name: getattr(c, name) for name in (*rowmac.FIELD_NAMES, rowmac.GENERATION)}


def later_entries(
    run: Callable[[Any, Mapping[str, Any]], Iterable[Sequence[Any]]], cid_text: str, last: int
) -> list[rowmac.LaterEntry]:
    """The entries :func:`keyserver._domain.rowmac.later_change` weighs, through ``run``.

    ``run(statement, params)`` returns rows (an ORM session, a Core connection or the
    release batch's cursor): one query for every caller.
    """
    return [_entry(row) for row in run(LATER_STMT, {"last": last, "cid_text": cid_text})]


def mac_problem(
    ring: KeyRing,
    row: Mapping[str, Any],
    stored: bytes | None,
    parts: Sequence[bytes] = (),
) -> RowIntegrityError | None:
    """The refusal for a row whose MAC does not verify, or None (spec §row-integrity).

    ``parts``: the row's fields already encoded (rowmac.encode_parts of the same row), or
    empty to encode them here.
    """
    key = rowmac.key_of(ring, row)
    ok = rowmac.parts_verify(key, parts, stored) if parts else rowmac.verifies(key, row, stored)
    if ok:
        return None
    return RowIntegrityError(
        N_(
            "the container's record in the database fails its integrity check (edited in "
            "the database, or copied from a backup); nothing was released"
        ),
        container_id=b64e(bytes(row["id"])),
    )


def stale_problem(
    row: Mapping[str, Any], entries: list[rowmac.LaterEntry], issuer: str | None
) -> RowIntegrityError | None:
    """The refusal for a (verified) row older than the audit log, or None."""
    cid_text = b64e(bytes(row["id"]))
    changed = rowmac.later_change(row, cid_text, issuer, entries)
    if changed is None:
        return None
    return RowIntegrityError(
        N_(
            "the container's record is older than audit entry %(seq)s (%(action)s): "
            "it was copied back from a backup; nothing was released (officials: destroy it, "
            "or bring the database up to date from the audit log)",
            seq=changed.seq,
            action=changed.action,
        ),
        container_id=cid_text,
        newer_seq=changed.seq,
    )


def session_problem(session: Session, c: Container) -> RowIntegrityError | None:
    """Both checks for an ORM row (the service's state-changing operations)."""
    row = fields_of(c)
    bad = mac_problem(ring_of(session), row, c.row_mac)
    if bad is not None:
        return bad

    def run(stmt: Any, params: Mapping[str, Any]) -> Iterable[Sequence[Any]]:
        return session.execute(stmt, params).all()

    entries = later_entries(run, b64e(c.id), int(c.last_audit_seq or 0))
    issuer = session.execute(ISSUER_STMT, {"pid": c.issuer_id}).scalar_one_or_none()
    return stale_problem(row, entries, issuer)


_CHUNK = 500


def _stale(session: Session, rows: Sequence[Mapping[Any, Any]]) -> set[bytes]:
    """The rows (MAC verified) the audit log changed after their ``last_audit_seq``."""
    first = min(int(r["last_audit_seq"] or 0) for r in rows)
    bulk = [
        _entry(e)
        for e in session.execute(
            select(_LOG.c.seq, _LOG.c.container, _LOG.c.action, _LOG.c.at, _LOG.c.details)
            .where(
                _LOG.c.seq > first,
                _LOG.c.outcome == "ok",
                _LOG.c.container.is_(None),
                _LOG.c.action.in_(rowmac.BULK_ACTIONS),
            )
            .order_by(_LOG.c.seq)
        ).all()
    ]
    texts = {b64e(bytes(r["id"])): r for r in rows}
    own: dict[str, list[rowmac.LaterEntry]] = {}
    names = sorted(texts)
    for i in range(0, len(names), _CHUNK):
        for e in session.execute(
            select(_LOG.c.seq, _LOG.c.container, _LOG.c.action, _LOG.c.at, _LOG.c.details).where(
                _LOG.c.container.in_(names[i : i + _CHUNK]),
                _LOG.c.seq > first,
                _LOG.c.outcome == "ok",
            )
        ).all():
            own.setdefault(e[1], []).append(_entry(e))
    issuers = dict(
        session.execute(
            select(Principal.id, Principal.name).where(
                Principal.id.in_({r["issuer_id"] for r in rows})
            )
        ).all()
    )
    stale = set()
    for text, r in texts.items():
        last = int(r["last_audit_seq"] or 0)
        entries = [e for e in (*own.get(text, ()), *bulk) if e.seq > last]
        if rowmac.later_change(r, text, issuers.get(r["issuer_id"]), entries) is not None:
            stale.add(bytes(r["id"]))
    return stale


def _entry(row: Sequence[Any]) -> rowmac.LaterEntry:
    seq, container, action, at, details = row
    return rowmac.LaterEntry(seq, container, action, at, json.loads(details))


# Rows encoded and MACed together by constant_update (memory: ~17 small bytes per row).
_BULK_CHUNK = 10_000
# The MACed columns as a bulk change reads them: the time columns without SQLAlchemy's
# result processing, which would run for each of their (mostly NULL) values; the same
# processing is applied to the values that are there (_time_processors).
_TIMES = tuple(i for i, (_, kind) in enumerate(rowmac.FIELDS) if kind == "time")
_BULK_COLUMNS = tuple(
    type_coerce(c, NullType()).label(c.name) if i in _TIMES else c
    for i, c in enumerate(_MAC_COLUMNS)
)


def _time_processors(conn: Connection) -> dict[int, Callable[[Any], Any]]:
    """Index -> the result processing of that time column on this connection's dialect."""
    dialect = conn.dialect
    out: dict[int, Callable[[Any], Any]] = {}
    for i in _TIMES:
        process = _MAC_COLUMNS[i].type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            out[i] = process
    return out


def constant_update(
    session: Session,
    where: ColumnElement[bool],
    values: Mapping[str, Any],
    *,
    fresh: bool = False,
) -> list[bytes]:
    """A set-based change of containers whose MACed values are constants (module rule).

    A suspend, a destroy, a loss report's hold: each row is read once (locked), verified,
    and its new MAC computed from the same encoding with the changed fields replaced
    (encoded once for all rows). Then ONE pass over the rows writes the values and the
    MACs together (:func:`_write_constant`): 100,000 containers of a medium cost one
    read, one UPDATE, one encoding and two HMACs per row (issue 15: a second pass that
    wrote the MACs row by row made a bulk suspend of 100,000 take 2.2 s on SQLite and
    4.5 s on PostgreSQL). The rows are encoded and MACed a chunk at a time, a field at a
    time (:func:`keyserver._domain.rowmac.changed_macs`: the per-row Python was most of
    the rest). With ``fresh`` (a change that grants: a restore, a loss report's hold
    lifted), a row the audit log changed after its ``last_audit_seq`` keeps its MAC too
    (:func:`_stale`: one query per chunk of rows). Returns the changed ids (the rows
    read, under lock).
    """
    ring = ring_of(session)
    changes = {
        i: rowmac.encode_field(name, values[name])
        for i, name in enumerate(rowmac.FIELD_NAMES)
        if name in values
    }
    conn = session.connection()
    # id -> the new MAC, or None for a row that failed its MAC (it keeps its old one).
    macs: dict[bytes, bytes | None] = {}
    verified: list[dict[str, Any]] = []  # with ``fresh``: the rows whose MAC verified
    read = select(*_BULK_COLUMNS, _C.c.row_mac, _GENERATION).where(where).with_for_update(of=_C)
    times = _time_processors(conn)
    result = conn.execute(read)
    # Closed before a driver error is translated (and its connection invalidated).
    with driver_errors(conn, result.cursor), contextlib.closing(result):
        # In chunks: the encoded columns of a chunk are held at once (rowmac.changed_macs).
        # From the driver's cursor, as plain tuples: SQLAlchemy's rows (built, then
        # unpacked by zip) cost 0.11 s of CPU per 100,000 on both backends (issue 15),
        # and no column read here needs its result processing but the time columns
        # (_mac_chunk converts them): the others encode alike either way (SQLite's 0/1
        # for a bool, rowmac's "int").
        while chunk := result.cursor.fetchmany(_BULK_CHUNK):
            _mac_chunk(ring, chunk, times, changes, macs, verified if fresh else None)
    if verified:
        # spec §row-integrity: a row copied back from a backup must not be blessed by a
        # change that grants; it is changed with the others but keeps the MAC it had.
        macs.update(dict.fromkeys(_stale(session, verified)))
    if macs:
        _write_constant(conn, where, values, macs)
        failed = {cid for cid, mac in macs.items() if mac is None}
        session.info.setdefault(FAILED, set()).update(failed)
    return list(macs)


def _mac_chunk(  # noqa: PLR0917 - constant_update's state for one chunk
    ring: KeyRing,
    chunk: Sequence[Sequence[Any]],
    times: Mapping[int, Callable[[Any], Any]],
    changes: Mapping[int, bytes],
    macs: dict[bytes, bytes | None],
    verified: list[dict[str, Any]] | None,
) -> None:
    """Verify and MAC one chunk of :func:`constant_update`'s rows into ``macs``.

    ``verified``: with ``fresh``, the rows whose MAC verified are added to it.
    """
    width = len(_MAC_COLUMNS)
    columns: list[Sequence[Any]] = list(zip(*chunk, strict=True))
    for i, process in times.items():
        if columns[i].count(None) != len(columns[i]):  # mostly all NULL: nothing to do
            columns[i] = [None if v is None else process(v) for v in columns[i]]
    # The row's own generation: a constant change does not move the generation.
    key_of = {g: ring.keys_of(int(g)).row_key for g in set(columns[width + 1])}
    keys = list(map(key_of.__getitem__, columns[width + 1]))
    new = rowmac.changed_macs(columns[:width], keys, columns[width], changes)
    macs.update(zip(map(bytes, columns[0]), new, strict=True))
    if verified is not None:
        # Only the rows that verified are asked about (a failed one is refused anyway).
        verified.extend(
            dict(zip(rowmac.FIELD_NAMES, row, strict=True))
            for row, mac in zip(zip(*columns[:width], strict=True), new, strict=True)
            if mac is not None
        )


def _write_constant_pg(
    conn: Connection, values: Mapping[str, Any], macs: Mapping[bytes, bytes | None]
) -> None:
    """PostgreSQL's half of :func:`_write_constant`: ids and MACs as two binary arrays.

    Sent in psycopg's binary format (``%b``): its text format of a 100,000-element
    ``bytea[]`` cost more CPU than the MACs themselves (profiled). The values go through
    their columns' own bind processing (UTC datetimes, spec §operations).
    """
    dialect = conn.dialect
    q = dialect.identifier_preparer.quote
    params: dict[str, Any] = {"ids": list(macs), "macs": list(macs.values())}
    sets = []
    for i, (name, value) in enumerate(values.items()):
        process = _C.c[name].type.bind_processor(dialect)
        params[f"v{i}"] = value if process is None else process(value)
        sets.append(f"{q(name)} = %(v{i})s")
    # Only column names of the model and placeholders: no value enters the SQL text.
    sql = (
        f"UPDATE {q(_C.name)} SET {', '.join(sets)}, "  # noqa: S608
        f"{q('row_mac')} = COALESCE(v.mac, {q(_C.name)}.{q('row_mac')}) "
        "FROM unnest(%(ids)b::BYTEA[], %(macs)b::BYTEA[]) AS v(id, mac) "
        f"WHERE {q(_C.name)}.{q('id')} = v.id"
    )
    conn.exec_driver_sql(sql, params)


# SQLite: the SQL function through which a bulk change's UPDATE takes each row's new MAC.
_NEW_MAC_FUNCTION = "rwc_new_row_mac"


def _write_constant(
    conn: Connection,
    where: ColumnElement[bool],
    values: Mapping[str, Any],
    macs: Mapping[bytes, bytes | None],
) -> None:
    """Write ``values`` and each row's new MAC in ONE UPDATE (module rule kept).

    A row that failed its MAC (``None``) gets the values but keeps its stored MAC, so it
    stays refused. PostgreSQL: ``UPDATE ... FROM unnest(ids, macs)`` by id (the rows
    read, locked ``FOR UPDATE``: :func:`_write_constant_pg`). SQLite: the same
    ``where`` (the transaction holds the one write lock since the read, so it matches
    the rows read), the MAC looked up per row by a Python function registered on this
    connection for this statement only.
    """
    if conn.dialect.name == "postgresql":
        _write_constant_pg(conn, values, macs)
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None

    # The dict's own get (called from C, no Python frame per row): the new MAC, or NULL
    # for a failed row or one not read above (only rows read are in the WHERE), which
    # then keeps its stored MAC.
    raw.create_function(_NEW_MAC_FUNCTION, 1, macs.get)
    try:
        conn.execute(
            update(Container)
            .where(where)
            .values(
                **values,
                row_mac=func.coalesce(
                    getattr(func, _NEW_MAC_FUNCTION)(Container.id), Container.row_mac
                ),
            )
        )
    finally:
        # A failed UPDATE may have closed the connection (a read-only file: engine.py
        # invalidates it); then there is no function left to remove, and the database
        # error (503, spec §problems) must not turn into another one.
        with contextlib.suppress(sqlite3.Error):
            raw.create_function(_NEW_MAC_FUNCTION, 1, None)


def _store_macs(conn: Connection, macs: list[tuple[bytes, bytes]]) -> None:
    """Write ``(mac, id)`` pairs: one driver-level executemany (100,000 rows in a bulk)."""
    if not macs:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"UPDATE containers SET row_mac = {mark} WHERE id = {mark}", macs)  # noqa: S608


def take_failed(session: Session) -> list[bytes]:
    """The ids bulk changes in this session left unMACed (sorted), and forget them."""
    return sorted(session.info.pop(FAILED, set()))


def mac_all(conn: Connection, ring: KeyRing) -> int:
    """MAC every container row as it is now (migration 0008_row_mac); returns the count."""
    rows = conn.execute(select(*_MAC_COLUMNS)).all()
    # At 0008 every row is generation 1 (the generation column comes with 0010).
    key = ring.keys_of(1).row_key
    _store_macs(conn, [(rowmac.values_mac(key, r), bytes(r[0])) for r in rows])
    return len(rows)


def _original(c: Container) -> dict[str, Any]:
    """The values an ORM row had when loaded (before this flush's changes)."""
    out = {}
    for name in (*rowmac.FIELD_NAMES, rowmac.GENERATION):
        hist = attributes.get_history(c, name)
        before = [*(hist.unchanged or ()), *(hist.deleted or ())]
        out[name] = before[0] if before else getattr(c, name)
    return out


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    """MAC new containers, and changed ones whose loaded values verified (module rule)."""
    del flush_context, instances
    ring = session.info.get(RING)
    if not isinstance(ring, KeyRing):
        return  # reads and other engines: nothing written through Ledger.tx
    for obj in session.new:
        if isinstance(obj, Container):
            new = fields_of(obj)
            obj.row_mac = rowmac.row_mac(rowmac.key_of(ring, new), new)
    for obj in session.dirty:
        if not isinstance(obj, Container) or not session.is_modified(obj):
            continue
        # spec §rotation: verified under the generation it was loaded with, MACed under
        # the one it is written with (a re-sealed row moves to the new key's row_key).
        before = _original(obj)
        if rowmac.verifies(rowmac.key_of(ring, before), before, _original_mac(obj)):
            new = fields_of(obj)
            obj.row_mac = rowmac.row_mac(rowmac.key_of(ring, new), new)


def _original_mac(c: Container) -> bytes | None:
    hist = attributes.get_history(c, "row_mac")
    before = [*(hist.unchanged or ()), *(hist.deleted or ())]
    return before[0] if before else c.row_mac
