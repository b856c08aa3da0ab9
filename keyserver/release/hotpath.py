"""The key-release transaction as pre-compiled DB-API statements (spec §evaluate).

Why: a key release runs about five statements in its transaction (chain head, token,
container row, challenge, audit entry, container update). Through SQLAlchemy's execution
machinery each costs ~0.1 ms of CPU on top of the ~0.01 ms the driver needs: together
more than the VOPRF evaluation. This module compiles the SAME Core statements
(keyserver/store/repository.py, keyserver/store/audit.py) once per dialect to SQL text and runs them
on the transaction's own DB-API cursor: same SQL, same transaction, same locks (``FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` is taken by the engine); only the
per-call overhead is gone. Datetimes pass through the column type's own bind and result
processors (:class:`~keyserver.store.models.UTCDateTime`), so what is written here reads
back through the ORM exactly as if the ORM had written it (tests check both ways).

Nothing here decides anything: policy stays in keyserver/domain/lifecycle.py and the service.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from keyserver.domain import rowmac
from keyserver.domain.auth import TokenRow
from keyserver.domain.encoding import b64e
from keyserver.domain.lifecycle import ContainerView, State
from keyserver.store.audit import HEAD_ID, LOCK_HEAD_STMT, Head
from keyserver.store.models import (
    AuditEntry,
    AuditHead,
    Base,
    Challenge,
    Container,
    ContainerReader,
    ContainerReaderGroup,
    UTCDateTime,
)
from keyserver.store.repository import (
    BULK_NEWEST,
    EPOCH,
    EVALUATION_STMT,
    TOKEN_STMT,
    WINDOW_COUNTS_STMT,
    EvaluationRow,
    integrity_members,
)
from keyserver.store.rowmacs import (
    AUDIT_FIELDS,
    ISSUER_STMT,
    LATER_STMT,
    REGISTER_STMT,
    later_entries,
    register_policy,
)

_TABLES = Base.metadata.tables
_C = _TABLES[Container.__tablename__]
_CHALLENGES = _TABLES[Challenge.__tablename__]
_HEAD_TABLE = _TABLES[AuditHead.__tablename__]
_LOG_TABLE = _TABLES[AuditEntry.__tablename__]
_READERS = _TABLES[ContainerReader.__tablename__]
_READER_GROUPS = _TABLES[ContainerReaderGroup.__tablename__]

# Batch prefetch (Batch.prefetch): every container row of the batch locked in ONE
# statement, and the policy entries naming the batch's actors in one more each.
_ROW_COLUMNS = (
    "state",
    "issuer_id",
    "pending_expires_at",
    "not_after",
    "destroyed_at",
    "public_reason",
    "seed_sealed",
    "unconfirmed",
    "attempt_budget",
    "header_digest",
    "suspend_cause",
    "password_required",
    "medium",
    # spec §row-integrity (keyserver/release/rowcheck.py): the other MACed columns.
    "receipt_key_sealed",
    "destroy_after",
    "budget_reset_at",
    "last_audit_seq",
    "row_mac",
)
_ROW_TIMES = ("pending_expires_at", "not_after", "destroyed_at", "destroy_after", "budget_reset_at")
_ROWS_STMT = (
    select(_C.c.id, *(_C.c[name] for name in _ROW_COLUMNS), BULK_NEWEST)
    .where(_C.c.id.in_(bindparam("cids", expanding=True)))
    .with_for_update(of=_C)
)
# The newest entry naming each container of the batch (repository.OWN_NEWEST, grouped).
_OWN_NEWEST_STMT = (
    select(_LOG_TABLE.c.container, func.max(_LOG_TABLE.c.seq))
    .where(_LOG_TABLE.c.container.in_(bindparam("texts", expanding=True)))
    .group_by(_LOG_TABLE.c.container)
)
_READERS_STMT = select(_READERS.c.container_id, _READERS.c.name).where(
    _READERS.c.container_id.in_(bindparam("cids", expanding=True)),
    _READERS.c.name.in_(bindparam("names", expanding=True)),
)
_GROUPS_STMT = select(_READER_GROUPS.c.container_id, _READER_GROUPS.c.group_name).where(
    _READER_GROUPS.c.container_id.in_(bindparam("cids", expanding=True)),
    _READER_GROUPS.c.group_name.in_(bindparam("groups", expanding=True)),
)

# Verified register entries kept per process (see Batch.registration).
_REGISTRATIONS_KEPT = 100_000

# Converted datetimes kept between calls (see HotPath._to_db).
_DT_CACHE_SIZE = 16

# Positional DB-API parameter styles; the others (named, pyformat) take a mapping.
_POSITIONAL = frozenset({"qmark", "format", "numeric"})
_AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "container",
    "outcome",
    "remote",
    "details",
    "prev_hash",
    "hash",
)


class _Statement:
    """One Core statement compiled for one dialect, with its parameter order."""

    def __init__(
        self,
        stmt: ClauseElement,
        dialect: Dialect,
        to_db: Callable[[Any], Any],
        *,
        column_keys: Sequence[str] | None = None,
        expanding: bool = False,
    ) -> None:
        compiled: SQLCompiler = stmt.compile(  # type: ignore[assignment]
            dialect=dialect,
            column_keys=list(column_keys) if column_keys is not None else None,
            # An expanding IN is rendered with as many parameters as the shape had.
            compile_kwargs={"render_postcompile": expanding},
        )
        self.sql = str(compiled)
        self._order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.paramstyle in _POSITIONAL else None
        )
        self._to_db = to_db
        # Values fixed in the statement itself (literal(), col == constant); an
        # expanding statement's values are all bound per call.
        self._fixed = (
            {} if expanding else {k: v for k, v in compiled.params.items() if v is not None}
        )

    def args(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The DB-API parameters for ``values`` (datetimes converted for the column)."""
        conv = self._to_db
        merged = {**self._fixed, **values} if self._fixed else values
        # Inline type test: this runs for every value of every row of the batch.
        if self._order is None:
            return {k: conv(v) if type(v) is datetime else v for k, v in merged.items()}
        return [conv(v) if type(v) is datetime else v for v in map(merged.__getitem__, self._order)]


class HotPath:
    """The release transaction's statements for one engine dialect.

    Args:
        dialect: The engine's dialect (``engine.dialect``).
    """

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # The driver's exception base (sqlite3.Error, psycopg.Error): see translate().
        self.dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        impl = UTCDateTime().dialect_impl(dialect)
        bind = impl.bind_processor(dialect)
        result = impl.result_processor(dialect, None)
        self._dt_bind: Callable[[Any], Any] = bind if bind is not None else _same
        self._dt_cache: dict[datetime, Any] = {}
        self._dt_result: Callable[[Any], Any] = result if result is not None else _same
        self._lock_head = self._compile(LOCK_HEAD_STMT)
        self._store_head = self._compile(
            update(_HEAD_TABLE)
            .where(_HEAD_TABLE.c.id == HEAD_ID)
            .values(seq=bindparam("seq"), hash=bindparam("hash"))
        )
        self._insert_entry = self._compile(insert(_LOG_TABLE), column_keys=_AUDIT_COLUMNS)
        self._token = self._compile(TOKEN_STMT)
        self._challenge = self._compile(
            insert(_CHALLENGES),
            column_keys=(
                "challenge_hash",
                "container_id",
                "principal_id",
                "issued_at",
                "expires_at",
                "medium",
            ),
        )
        self._later = self._compile(LATER_STMT)
        self._issuer = self._compile(ISSUER_STMT)
        self._register = self._compile(REGISTER_STMT)
        # Register entries never change: their verified details, per container, for this
        # process (bounded: cleared when full; a miss costs one indexed read).
        self.registrations: dict[bytes, dict[str, Any] | None] = {}
        # The reader-group probe binds one parameter per group of the actor: one
        # compiled form per group count, built on first use.
        self._evaluation: dict[int, _Statement] = {}
        self._updates: dict[tuple[str, ...], _Statement] = {}
        self._shapes: dict[tuple[Any, ...], _Statement] = {}

    def _to_db(self, value: datetime) -> Any:
        # The rows of one batch share a handful of instants (its "now", the challenge
        # expiry): convert each once. Bounded, since every batch brings new ones.
        cache = self._dt_cache
        out = cache.get(value)
        if out is None:
            if len(cache) >= _DT_CACHE_SIZE:
                cache.clear()
            out = cache[value] = self._dt_bind(value)
        return out

    def _compile(
        self,
        stmt: ClauseElement,
        *,
        column_keys: Sequence[str] | None = None,
        expanding: bool = False,
    ) -> _Statement:
        return _Statement(
            stmt, self._dialect, self._to_db, column_keys=column_keys, expanding=expanding
        )

    def translate(self, exc: Exception, *, invalidated: bool) -> StatementError:
        """The SQLAlchemy exception for a driver error (OperationalError, ...).

        The service's error handling (503 for an unreachable database, spec §problems)
        is written against SQLAlchemy's classes; statements run here raise the driver's.
        """
        return DBAPIError.instance(
            None,
            None,
            exc,
            self.dbapi_error,
            connection_invalidated=invalidated,
            dialect=self._dialect,
        )

    def batch(self, cur: Any) -> Batch:
        """The statements of ONE batch transaction on the DB-API cursor ``cur``."""
        return Batch(self, cur)

    def _evaluation_statement(self, group_count: int) -> _Statement:
        stmt = self._evaluation.get(group_count)
        if stmt is None:
            # Placeholders only fix the shape; every call binds all three.
            shape = EVALUATION_STMT.params(
                cid=b"", actor="", groups=[""] * group_count, pid=0, since=EPOCH, cid_text=""
            )
            stmt = self._compile(shape, expanding=True)
            self._evaluation[group_count] = stmt
        return stmt

    def _shape(self, key: tuple[Any, ...], build: Callable[[], ClauseElement]) -> _Statement:
        """A statement compiled once per shape (its expanding IN lists' lengths)."""
        stmt = self._shapes.get(key)
        if stmt is None:
            stmt = self._compile(build(), expanding=True)
            self._shapes[key] = stmt
        return stmt

    def _rows_statement(self, count: int) -> _Statement:
        return self._shape(("rows", count), lambda: _ROWS_STMT.params(cids=[b""] * count))

    def _own_newest_statement(self, count: int) -> _Statement:
        return self._shape(
            ("own_newest", count), lambda: _OWN_NEWEST_STMT.params(texts=[""] * count)
        )

    def _readers_statement(self, count: int, names: int) -> _Statement:
        return self._shape(
            ("readers", count, names),
            lambda: _READERS_STMT.params(cids=[b""] * count, names=[""] * names),
        )

    def _groups_statement(self, count: int, groups: int) -> _Statement:
        return self._shape(
            ("groups", count, groups),
            lambda: _GROUPS_STMT.params(cids=[b""] * count, groups=[""] * groups),
        )

    def _window_statement(self, pids: int, media: int) -> _Statement:
        return self._shape(
            ("window", pids, media),
            lambda: WINDOW_COUNTS_STMT.params(pids=[0] * pids, media=[""] * media, since=EPOCH),
        )

    def _update_statement(self, keys: tuple[str, ...]) -> _Statement:
        stmt = self._updates.get(keys)
        if stmt is None:
            stmt = self._compile(
                update(_C)
                .where(_C.c.id == bindparam("row_id"))
                .values({k: bindparam(k) for k in keys})
            )
            self._updates[keys] = stmt
        return stmt


class Batch:
    """The statements of one batch transaction, with its writes deferred.

    Reads run at once. Writes (challenges, container updates) are queued and sent
    together with the audit entries by :meth:`store_head`, as one ``executemany`` per
    statement shape: on PostgreSQL that is one round trip per shape instead of one per
    release. A container read again in the same batch (two requests for one container)
    first gets its queued update written, so every job sees the jobs before it, exactly
    as if each had run alone. A token is looked up once per batch (one transaction,
    one snapshot of it). Queued updates of one container are merged column by column
    in job order, so the row ends with the values of its last job (spec §audit: batched
    writes keep job order; ``unconfirmed`` and ``last_audit_seq`` never go backwards).

    The attempt windows (spec §receipt) are counted the same way: the committed count
    of a principal or medium as a statement saw it, minus what this batch had written
    by then, plus every attempt this batch has queued (:meth:`window`).
    """

    def __init__(self, hot: HotPath, cur: Any) -> None:
        self._hot = hot
        self._cur = cur
        self._tokens: dict[bytes, TokenRow | None] = {}
        self._challenges: list[Sequence[Any] | dict[str, Any]] = []
        self._updates: dict[bytes, dict[str, Any]] = {}
        self._dirty: set[bytes] = set()
        # Window counts: committed base per principal / medium, and this batch's attempts
        # (all of them, and those already written by a flush).
        self._base_p: dict[int, int] = {}
        self._base_m: dict[str, int] = {}
        self._added_p: Counter[int] = Counter()
        self._added_m: Counter[str] = Counter()
        self._flushed_p: Counter[int] = Counter()
        self._flushed_m: Counter[str] = Counter()
        self.since: datetime = EPOCH
        # Prefetched rows (column -> value, kept current by update_container), the
        # containers found missing, and the policy pairs found for the probed actors.
        self._rows: dict[bytes, dict[str, Any]] = {}
        self._missing: set[bytes] = set()
        self._names: frozenset[str] = frozenset()
        self._groups: frozenset[str] = frozenset()
        self._reader_pairs: set[tuple[bytes, str]] = set()
        self._group_pairs: set[tuple[bytes, str]] = set()

    def prefetch(self, requests: Sequence[tuple[bytes, str, frozenset[str], int]]) -> None:
        """Lock the containers of ``(container id, actor, groups)`` requests at once.

        Three statements for the whole batch instead of one per request (a round trip
        each on PostgreSQL): the rows, locked ``FOR UPDATE`` in one statement (after the
        chain head, the lock order of every writer), and the reader and reader-group
        entries that name the batch's actors. :meth:`evaluation_row` then answers from
        these, with :meth:`update_container`'s changes applied as they are queued, so
        a later request for the same container sees the earlier one's effect.
        """
        cids = sorted({cid for cid, _, _, _ in requests})
        if len(cids) < 2:
            return  # one container: the single-statement path costs the same
        names = sorted({name for _, name, _, _ in requests})
        groups = sorted({g for _, _, gs, _ in requests for g in gs})
        pids = sorted({pid for _, _, _, pid in requests})
        hot, cur, dt = self._hot, self._cur, self._hot._dt_result
        stmt = hot._rows_statement(len(cids))
        cur.execute(stmt.sql, stmt.args(_numbered({"cids": cids})))
        for row in cur.fetchall():
            values = dict(zip(_ROW_COLUMNS, row[1:-1], strict=True))
            for name in _ROW_TIMES:
                values[name] = dt(values[name])
            values["id"] = bytes(row[0])
            values["bulk_newest"] = row[-1]
            self._rows[bytes(row[0])] = values
        self._missing = set(cids) - self._rows.keys()
        texts = {b64e(cid): cid for cid in self._rows}
        if texts:
            stmt = hot._own_newest_statement(len(texts))
            cur.execute(stmt.sql, stmt.args(_numbered({"texts": sorted(texts)})))
            for text, newest in cur.fetchall():
                self._rows[texts[text]]["own_newest"] = newest
        stmt = hot._readers_statement(len(cids), len(names))
        cur.execute(stmt.sql, stmt.args(_numbered({"cids": cids, "names": names})))
        self._reader_pairs = {(bytes(c), n) for c, n in cur.fetchall()}
        if groups:
            stmt = hot._groups_statement(len(cids), len(groups))
            cur.execute(stmt.sql, stmt.args(_numbered({"cids": cids, "groups": groups})))
            self._group_pairs = {(bytes(c), g) for c, g in cur.fetchall()}
        self._names, self._groups = frozenset(names), frozenset(groups)
        # The window counts of every principal and medium of the batch: one statement.
        media = sorted({v["medium"] for v in self._rows.values() if v["medium"] is not None})
        self._base_p = dict.fromkeys(pids, 0)
        self._base_m = dict.fromkeys(media, 0)
        stmt = hot._window_statement(len(pids), len(media))
        values = _numbered({"pids": pids, "media": media})
        cur.execute(stmt.sql, stmt.args({**values, "since": self.since}))
        for kind, pid, medium, n in cur.fetchall():
            if kind == "p":
                self._base_p[pid] = int(n)
            else:
                self._base_m[medium] = int(n)

    def _prefetched(
        self, cid: bytes, actor_name: str, actor_groups: frozenset[str], principal_id: int
    ) -> EvaluationRow | bool | None:
        """The row from :meth:`prefetch`; False when it was not prefetched for this actor."""
        if actor_name not in self._names or not actor_groups <= self._groups:
            return False
        if principal_id not in self._base_p:
            return False
        if cid in self._missing:
            return None
        values = self._rows.get(cid)
        if values is None:
            return False
        view = ContainerView(
            state=State(values["state"]),
            issuer_id=values["issuer_id"],
            pending_expires_at=values["pending_expires_at"],
            not_after=values["not_after"],
            destroyed_at=values["destroyed_at"],
            public_reason=values["public_reason"],
            readers=(
                frozenset({actor_name}) if (cid, actor_name) in self._reader_pairs else frozenset()
            ),
            reader_groups=(
                actor_groups
                if any((cid, g) in self._group_pairs for g in actor_groups)
                else frozenset()
            ),
            suspend_cause=values["suspend_cause"],
        )
        seed = values["seed_sealed"]
        digest = values["header_digest"]
        return EvaluationRow(
            view,
            None if seed is None else bytes(seed),
            values["unconfirmed"],
            values["attempt_budget"],
            None if digest is None else bytes(digest),
            password_required=bool(values["password_required"]),
            medium=values["medium"],
            **integrity_members(values),
        )

    def lock_head(self) -> Head:
        """Lock the audit chain head (the batch's first lock; spec §audit)."""
        stmt = self._hot._lock_head
        self._cur.execute(stmt.sql, stmt.args({}))
        seq, digest = self._cur.fetchone()
        return Head(seq=seq, hash=bytes(digest))

    def token(self, digest: bytes) -> TokenRow | None:
        """Token, principal, roles and groups by the token's SHA-256 (one statement)."""
        if digest in self._tokens:
            return self._tokens[digest]
        stmt, dt = self._hot._token, self._hot._dt_result
        self._cur.execute(stmt.sql, stmt.args({"digest": digest}))
        rows = self._cur.fetchall()
        found: TokenRow | None = None
        if rows:
            first = rows[0]
            found = TokenRow(
                token_hash=bytes(first[0]),
                revoked_at=dt(first[1]),
                expires_at=dt(first[2]),
                principal_id=first[3],
                name=first[4],
                organisation=first[5],
                roles=frozenset(r[7] for r in rows if r[6] == "r" and r[7] is not None),
                groups=frozenset(r[7] for r in rows if r[6] == "g"),
            )
        self._tokens[digest] = found
        return found

    def evaluation_row(
        self, cid: bytes, actor_name: str, actor_groups: frozenset[str], principal_id: int = 0
    ) -> EvaluationRow | None:
        """Lock one container row and probe the policy for the actor (one statement).

        Same statement and result as :func:`keyserver.store.repository.evaluation_row`
        (answered from :meth:`prefetch` when it covered this container and actor); the
        window counts it carries are the committed ones, :meth:`window` adds the batch's.
        """
        cached = self._prefetched(cid, actor_name, actor_groups, principal_id)
        if cached is not False:
            return cached  # type: ignore[return-value]
        if cid in self._dirty:
            self._flush()
        groups = sorted(actor_groups)
        stmt = self._hot._evaluation_statement(len(groups))
        values: dict[str, Any] = {
            "cid": cid,
            "actor": actor_name,
            "pid": principal_id,
            "since": self.since,
            "cid_text": b64e(cid),
        }
        values.update({f"groups_{i}": g for i, g in enumerate(groups, start=1)})
        self._cur.execute(stmt.sql, stmt.args(values))
        row = self._cur.fetchone()
        if row is None:
            return None
        dt = self._hot._dt_result
        view = ContainerView(
            state=State(row[0]),
            issuer_id=row[1],
            pending_expires_at=dt(row[2]),
            not_after=dt(row[3]),
            destroyed_at=dt(row[4]),
            public_reason=row[5],
            readers=frozenset({actor_name}) if row[9] else frozenset(),
            reader_groups=actor_groups if row[10] else frozenset(),
            suspend_cause=row[12],
        )
        seed = None if row[6] is None else bytes(row[6])
        digest = None if row[11] is None else bytes(row[11])
        medium, by_medium, by_principal = row[14], int(row[15]), int(row[16])
        # Committed counts as this statement saw them, without what this batch wrote.
        self._base_p[principal_id] = by_principal - self._flushed_p[principal_id]
        if medium is not None:
            self._base_m[medium] = by_medium - self._flushed_m[medium]
        return EvaluationRow(
            view,
            seed,
            row[7],
            row[8],
            digest,
            password_required=bool(row[13]),
            medium=medium,
            principal_unconfirmed=by_principal,
            medium_unconfirmed=by_medium,
            **integrity_members(self._integrity_columns(cid, row)),
        )

    def _integrity_columns(self, cid: bytes, row: Sequence[Any]) -> dict[str, Any]:
        """The row-integrity columns of an EVALUATION_STMT row, by name."""
        dt = self._hot._dt_result
        # Positions 17..: repository.EXTRA_MAC_COLUMNS, row_mac, own_newest, bulk_newest.
        _, receipt, destroy_after, reset, last, mac, own, bulk = row[17:25]
        return {
            "id": cid,
            "state": row[0],
            "issuer_id": row[1],
            "medium": row[14],
            "seed_sealed": row[6],
            "receipt_key_sealed": receipt,
            "header_digest": row[11],
            "password_required": row[13],
            "attempt_budget": row[8],
            "unconfirmed": row[7],
            "pending_expires_at": dt(row[2]),
            "not_after": dt(row[3]),
            "destroyed_at": dt(row[4]),
            "destroy_after": dt(destroy_after),
            "suspend_cause": row[12],
            "budget_reset_at": dt(reset),
            "last_audit_seq": last,
            "row_mac": mac,
            "own_newest": own,
            "bulk_newest": bulk,
        }

    def registration(self, cid: bytes, audit_key: bytes) -> dict[str, Any] | None:
        """The details of the container's register entry, if its keyed hash verifies."""
        hot = self._hot
        if cid in hot.registrations:
            return hot.registrations[cid]
        self._cur.execute(hot._register.sql, hot._register.args({"cid_text": b64e(cid)}))
        row = self._cur.fetchone()
        if row is not None:
            row = list(row)
            row[AUDIT_FIELDS.index("at")] = hot._dt_result(row[AUDIT_FIELDS.index("at")])
        details = register_policy(audit_key, row)
        if len(hot.registrations) >= _REGISTRATIONS_KEPT:
            hot.registrations.clear()
        hot.registrations[cid] = details
        return details

    def later(
        self, cid: bytes, last: int, issuer_id: int
    ) -> tuple[list[rowmac.LaterEntry], str | None]:
        """Entries after a row's ``last_audit_seq`` that may concern it; its issuer's name.

        spec §row-integrity: asked only when the evaluation statement saw a newer entry.
        """
        hot, cur, dt = self._hot, self._cur, self._hot._dt_result

        def run(_: Any, params: Mapping[str, Any]) -> list[Sequence[Any]]:
            cur.execute(hot._later.sql, hot._later.args(params))
            return [(s, c, a, dt(at), d) for s, c, a, at, d in cur.fetchall()]

        entries = later_entries(run, b64e(cid), last)
        cur.execute(hot._issuer.sql, hot._issuer.args({"pid": issuer_id}))
        found = cur.fetchone()
        return entries, None if found is None else found[0]

    def window(self, principal_id: int, medium: str | None) -> tuple[int, int]:
        """Unconfirmed attempts in the window (spec §receipt): (by principal, on medium).

        Valid after :meth:`evaluation_row` for this principal and the row's medium.
        """
        by_principal = self._base_p.get(principal_id, 0) + self._added_p[principal_id]
        if medium is None:
            return by_principal, 0
        return by_principal, self._base_m.get(medium, 0) + self._added_m[medium]

    def insert_challenge(
        self,
        digest: bytes,
        cid: bytes,
        principal_id: int,
        issued_at: datetime,
        expires_at: datetime,
        *,
        medium: str | None = None,
    ) -> None:
        """Queue a receipt challenge (its hash only); it counts in the windows at once."""
        self._challenges.append(
            self._hot._challenge.args(
                {
                    "challenge_hash": digest,
                    "container_id": cid,
                    "principal_id": principal_id,
                    "issued_at": issued_at,
                    "expires_at": expires_at,
                    "medium": medium,
                }
            )
        )
        self._added_p[principal_id] += 1
        if medium is not None:
            self._added_m[medium] += 1

    def update_container(self, cid: bytes, values: Mapping[str, Any]) -> None:
        """Queue new values for columns of one (already locked) container row."""
        # Merged in job order: a later job's value of a column replaces an earlier one,
        # whatever columns each job changed (one UPDATE per row, never out of order).
        self._updates.setdefault(cid, {}).update(values)
        self._dirty.add(cid)
        cached = self._rows.get(cid)
        if cached is not None:
            cached.update((k, v) for k, v in values.items() if k in cached)
            if "last_audit_seq" in values:
                # Written by this batch: nothing in the log is newer than the row now.
                cached["own_newest"] = cached["bulk_newest"] = None

    def _flush(self) -> None:
        cur = self._cur
        if self._challenges:
            cur.executemany(self._hot._challenge.sql, self._challenges)
            self._challenges = []
        shapes: dict[tuple[str, ...], list[Sequence[Any] | dict[str, Any]]] = {}
        for cid, values in self._updates.items():
            keys = tuple(sorted(values))
            stmt = self._hot._update_statement(keys)
            shapes.setdefault(keys, []).append(stmt.args({"row_id": cid, **values}))
        for keys, rows in shapes.items():
            cur.executemany(self._hot._update_statement(keys).sql, rows)
        self._updates = {}
        self._dirty.clear()
        self._flushed_p = self._added_p.copy()
        self._flushed_m = self._added_m.copy()

    def store_head(self, head: Head) -> None:
        """Write the queued rows and audit entries, and advance the head (before COMMIT).

        On a driver with pipeline mode (psycopg) these statements, which return nothing
        the batch needs, go out together: one round trip for all the batch's writes.
        """
        hot = self._hot
        pipeline = getattr(self._cur.connection, "pipeline", None)
        with pipeline() if pipeline is not None else contextlib.nullcontext():
            self._flush()
            if head.pending:
                self._cur.executemany(
                    hot._insert_entry.sql, [hot._insert_entry.args(e) for e in head.pending]
                )
                head.pending = []
            self._cur.execute(
                hot._store_head.sql, hot._store_head.args({"seq": head.seq, "hash": head.hash})
            )


def _same(value: Any) -> Any:
    return value


def _numbered(lists: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Bind values for expanding IN lists, as compiled: ``name_1``, ``name_2``, ..."""
    return {f"{name}_{i}": v for name, vs in lists.items() for i, v in enumerate(vs, start=1)}
