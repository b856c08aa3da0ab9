"""The release transaction's statements, compiled once per dialect (spec §evaluate).

Why: a key release runs about five statements in its transaction (chain head, token,
container row, challenge, audit entry, container update). Through SQLAlchemy's execution
machinery each costs ~0.1 ms of CPU on top of the ~0.01 ms the driver needs: together
more than the VOPRF evaluation. This module compiles the SAME Core statements
(keyserver/store/repository.py, keyserver/store/audit.py) once per dialect to SQL text,
run by keyserver/release/hotpath.py on the transaction's own DB-API cursor: same SQL,
same transaction, same locks (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN
IMMEDIATE`` is taken by the engine); only the per-call overhead is gone. Datetimes pass
through the column type's own bind and result processors
(:class:`~keyserver.store.models.UTCDateTime`), so what is written there reads back
through the ORM exactly as if the ORM had written it (tests check both ways).

Nothing here decides anything: policy stays in keyserver/domain/lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from keyserver.store.audit import HEAD_ID, LOCK_HEAD_STMT
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
)
from keyserver.store.rowmacs import ISSUER_STMT, LATER_STMT, REGISTER_STMT

_TABLES = Base.metadata.tables
_C = _TABLES[Container.__tablename__]
_CHALLENGES = _TABLES[Challenge.__tablename__]
_HEAD_TABLE = _TABLES[AuditHead.__tablename__]
_LOG_TABLE = _TABLES[AuditEntry.__tablename__]
_READERS = _TABLES[ContainerReader.__tablename__]
_READER_GROUPS = _TABLES[ContainerReaderGroup.__tablename__]

# Batch prefetch (Batch.prefetch): every container row of the batch locked in ONE
# statement, and the policy entries naming the batch's actors in one more each.
ROW_COLUMNS = (
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
ROW_TIMES = ("pending_expires_at", "not_after", "destroyed_at", "destroy_after", "budget_reset_at")
_ROWS_STMT = (
    select(_C.c.id, *(_C.c[name] for name in ROW_COLUMNS), BULK_NEWEST)
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

# Audit actions that change whether a token authenticates, or as whom. Tokens are read
# before the chain-head lock (Batch.preread); under the lock, an entry of one of these
# newer than that read sends every token of the batch to be read again (Batch.lock_head).
# An operation that revokes, re-scopes or re-roles a token or principal MUST be listed.
TOKEN_CHANGES = ("token.revoke",)
# The head, locked, with its entry's time (store/audit.py) and whether a token changed
# since seq ``seen``: one statement, no extra round trip under the lock.
_LOCK_HEAD_SEEN_STMT = (
    select(
        *LOCK_HEAD_STMT.selected_columns,
        exists()
        .where(
            or_(*(_LOG_TABLE.c.action == action for action in TOKEN_CHANGES)),
            _LOG_TABLE.c.seq > bindparam("seen"),
        )
        .label("token_changed"),
    )
    .where(_HEAD_TABLE.c.id == HEAD_ID)
    .with_for_update(of=_HEAD_TABLE)
)
_HEAD_SEQ_STMT = select(_HEAD_TABLE.c.seq).where(_HEAD_TABLE.c.id == HEAD_ID)
CHALLENGE_COLUMNS = (
    "challenge_hash",
    "container_id",
    "principal_id",
    "issued_at",
    "expires_at",
    "medium",
)

# Converted datetimes kept between calls (see HotPath._to_db).
_DT_CACHE_SIZE = 16

# Positional DB-API parameter styles; the others (named, pyformat) take a mapping.
_POSITIONAL = frozenset({"qmark", "format", "numeric"})
AUDIT_COLUMNS = (
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
        self.table = getattr(stmt, "table", None)  # an INSERT's (HotPath.insert_many)
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
        # One INSERT for many rows where the driver runs executemany row by row (psycopg).
        self.multirow = dialect.name == "postgresql"
        self._lock_head = self._compile(_LOCK_HEAD_SEEN_STMT)
        self._head_seq = self._compile(_HEAD_SEQ_STMT)
        self._store_head = self._compile(
            update(_HEAD_TABLE)
            .where(_HEAD_TABLE.c.id == HEAD_ID)
            .values(seq=bindparam("seq"), hash=bindparam("hash"))
        )
        self._insert_entry = self._compile(insert(_LOG_TABLE), column_keys=AUDIT_COLUMNS)
        self._token = self._compile(TOKEN_STMT)
        self._challenge = self._compile(insert(_CHALLENGES), column_keys=CHALLENGE_COLUMNS)
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
        self._unnest: dict[Any, str] = {}

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

    def _window_statement(self, pids: int, cids: int) -> _Statement:
        return self._shape(
            ("window", pids, cids),
            lambda: WINDOW_COUNTS_STMT.params(pids=[0] * pids, cids=[b""] * cids, since=EPOCH),
        )

    def insert_many(self, one: _Statement, columns: Sequence[str]) -> str:
        """``one``'s INSERT as ONE statement for any number of rows (PostgreSQL).

        ``INSERT ... SELECT * FROM unnest(%(col)s::type[], ...)``, one array per column:
        the SQL text stays the same whatever the row count, so psycopg parses it once
        (a multi-row VALUES list is parsed again on every call: ~2.5 ms of Python per
        statement under the lock, measured) and sends one statement for all rows
        (``executemany`` costs ~25 us of Python per row).
        """
        table = one.table
        assert table is not None
        sql = self._unnest.get(table.name)
        if sql is None:
            quote = self._dialect.identifier_preparer.quote
            arrays = ", ".join(f"%({c})b::{self._array_type(table.c[c])}[]" for c in columns)
            names = ", ".join(quote(c) for c in columns)
            # Only names from the models and placeholders: no value enters the SQL text.
            sql = f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
            self._unnest[table.name] = sql
        return sql

    def update_many(self, keys: tuple[str, ...]) -> str:
        """UPDATE of columns ``keys`` of many container rows in ONE statement (PostgreSQL).

        ``UPDATE containers SET k = v.k FROM unnest(...) AS v(row_id, k..) WHERE id =
        v.row_id``: one row of arrays per column, like :meth:`insert_many`. The rows
        are already locked ``FOR UPDATE`` by the batch.
        """
        sql = self._unnest.get(("update", *keys))
        if sql is None:
            quote = self._dialect.identifier_preparer.quote
            columns = ("row_id", *keys)
            arrays = ", ".join(
                f"%({c})b::{self._array_type(_C.c.id if c == 'row_id' else _C.c[c])}[]"
                for c in columns
            )
            sets = ", ".join(f"{quote(k)} = v.{quote(k)}" for k in keys)
            names = ", ".join(quote(c) for c in columns)
            # Only names from the models and placeholders: no value enters the SQL text.
            sql = (
                f"UPDATE {quote(_C.name)} SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
                f"WHERE {quote(_C.name)}.{quote('id')} = v.row_id"
            )
            self._unnest[("update", *keys)] = sql
        return sql

    def _array_type(self, column: Any) -> str:
        """The element type of a column's array (strings as TEXT).

        A value too long for a ``VARCHAR(n)`` column then fails the INSERT like a plain
        INSERT does; a cast to ``VARCHAR(n)[]`` would silently truncate it (and the
        audit entry would no longer match its hash).
        """
        name = str(column.type.compile(dialect=self._dialect))
        return "TEXT" if name.startswith("VARCHAR") else name

    def column_values(self, rows: Sequence[Mapping[str, Any]], column: str) -> list[Any]:
        """One column of ``rows`` as a list (the arrays of :meth:`insert_many`)."""
        conv = self._to_db
        return [conv(v) if type(v) is datetime else v for v in (r[column] for r in rows)]

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


def _same(value: Any) -> Any:
    return value


def _numbered(lists: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Bind values for expanding IN lists, as compiled: ``name_1``, ``name_2``, ..."""
    return {f"{name}_{i}": v for name, vs in lists.items() for i, v in enumerate(vs, start=1)}
