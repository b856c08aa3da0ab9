"""The release transaction's statements, compiled once per dialect (spec §evaluate).

Why: a key release runs about five statements in its transaction (chain head, token,
container row, challenge, audit entry, container update). Through SQLAlchemy's execution
machinery each costs ~0.1 ms of CPU on top of the ~0.01 ms the driver needs: together
more than the VOPRF evaluation. This module compiles the SAME Core statements
(keyserver/_store/evaluation.py, repository.py, audit.py) once per dialect to SQL text,
run by keyserver/_release/hotpath.py on the transaction's own DB-API cursor: same SQL,
same transaction, same locks (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN
IMMEDIATE`` is taken by the engine); only the per-call overhead is gone. Datetimes pass
through the column type's own bind and result processors
(:class:`~keyserver._store.models.UTCDateTime`), so what is written there reads back
through the ORM exactly as if the ORM had written it (tests check both ways).

Nothing here decides anything: policy stays in keyserver/_domain/lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Dialect,
    LargeBinary,
    String,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.sql import ClauseElement, CompoundSelect, Select
from sqlalchemy.sql.compiler import SQLCompiler

from keyserver._release.facts import Shape, facts_statement, member
from keyserver._release.unnest import Unnest
from keyserver._store.audit import HEAD_ID, LOCK_HEAD_STMT
from keyserver._store.evaluation import BULK_NEWEST, EPOCH, EVALUATION_STMT
from keyserver._store.models import (
    AuditEntry,
    AuditHead,
    Base,
    Challenge,
    Container,
    Token,
    UTCDateTime,
)
from keyserver._store.repository import TOKEN_STMT, token_statement
from keyserver._store.rowmacs import AUDIT_FIELDS, ISSUER_STMT, LATER_STMT, REGISTER_STMT

_TABLES = Base.metadata.tables
_C = _TABLES[Container.__tablename__]
_CHALLENGES = _TABLES[Challenge.__tablename__]
_HEAD_TABLE = _TABLES[AuditHead.__tablename__]
_LOG_TABLE = _TABLES[AuditEntry.__tablename__]

# Batch prefetch (Batch.prefetch): every container row of the batch locked in ONE
# statement, then everything else the batch reads in one more (keyserver/_release/facts.py).
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
    "key_generation",  # spec §rotation: the generation of the sealed seed and the row MAC
    # spec §row-integrity (keyserver/_release/rowcheck.py): the other MACed columns.
    "receipt_key_sealed",
    "destroy_after",
    "budget_reset_at",
    "last_audit_seq",
    "row_mac",
)
ROW_TIMES = ("pending_expires_at", "not_after", "destroyed_at", "destroy_after", "budget_reset_at")


def _rows_stmt(count: int, arrays: bool) -> Select[Any]:
    return (
        select(_C.c.id, *(_C.c[name] for name in ROW_COLUMNS), BULK_NEWEST)
        .where(member(_C.c.id, "cids", count, arrays=arrays))
        .with_for_update(of=_C)
    )


def _registers_stmt(count: int, arrays: bool) -> Select[Any]:
    """The register entries of several containers (REGISTER_STMT for a batch).

    Read before the lock (keyserver/_release/rowcheck.py preread). Constants rendered in
    the SQL.
    """
    return select(*(_LOG_TABLE.c[name] for name in AUDIT_FIELDS)).where(
        member(_LOG_TABLE.c.container, "texts", count, arrays=arrays),
        _LOG_TABLE.c.action == literal_column("'register'"),
        _LOG_TABLE.c.outcome == literal_column("'ok'"),
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
# PostgreSQL, early lock release (keyserver/_store/durability.py): the same statement also
# makes the batch's COMMIT not wait for the WAL flush (local to its transaction), so the
# head is released at COMMIT and the batch waits for the flush after it, unlocked.
_LOCK_HEAD_ASYNC_STMT = _LOCK_HEAD_SEEN_STMT.add_columns(
    func.set_config("synchronous_commit", "off", true()).label("async_commit")
)
# The tokens of a batch and the head's seq in ONE statement (Batch.read_tokens): one
# snapshot, so a revocation is either in both or in neither. The head is the ``h`` row
# (its seq in the principal-id column).
_T = Base.metadata.tables[Token.__tablename__]


def _tokens_seen_stmt(count: int, arrays: bool) -> CompoundSelect[Any]:
    return union_all(
        *token_statement(
            member(_T.c.token_hash, "digests", count, arrays=arrays),
            kind=lambda k: literal_column(f"'{k}'"),
        ).selects,
        select(
            cast(null(), LargeBinary),
            cast(null(), UTCDateTime),
            cast(null(), UTCDateTime),
            _HEAD_TABLE.c.seq,
            cast(null(), String),
            cast(null(), String),
            literal_column("'h'"),
            cast(null(), String),
        ).where(_HEAD_TABLE.c.id == literal_column(str(int(HEAD_ID)))),
    )


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

# SQLITE_MAX_VARIABLE_NUMBER before SQLite 3.32 (32766 since): a multi-row INSERT binds
# at most this many parameters, whichever SQLite the interpreter was built with.
_SQLITE_MAX_PARAMS = 999

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
        self.table = getattr(stmt, "table", None)  # an INSERT's (unnest.Unnest.insert)
        self._order: tuple[str, ...] | None = (
            tuple(compiled.positiontup or ()) if dialect.paramstyle in _POSITIONAL else None
        )
        self._to_db = to_db
        # Values fixed in the statement itself (literal(), col == constant); an
        # expanding statement's values are all bound per call.
        self._fixed = (
            {} if expanding else {k: v for k, v in compiled.params.items() if v is not None}
        )

    @property
    def positions(self) -> tuple[str, ...]:
        """The parameters' names in their order (positional parameter styles only)."""
        if self._order is None:
            raise TypeError("a named parameter style has no positions")
        return self._order

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
        async_commit: PostgreSQL: the head-locking statement turns the batch's
            ``synchronous_commit`` off (``Durability.early``: the batch then waits for
            the flush itself, after COMMIT).
    """

    def __init__(self, dialect: Dialect, *, async_commit: bool = False) -> None:
        self._dialect = dialect
        # The driver's exception base (sqlite3.Error, psycopg.Error): a cursor's close
        # after its connection was invalidated (batch.py).
        self.dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        impl = UTCDateTime().dialect_impl(dialect)
        bind = impl.bind_processor(dialect)
        result = impl.result_processor(dialect, None)
        self._dt_bind: Callable[[Any], Any] = bind if bind is not None else _same
        self._dt_cache: dict[datetime, Any] = {}
        self._dt_result: Callable[[Any], Any] = result if result is not None else _same
        # PostgreSQL: many rows per statement as arrays, and a batch's writes as ONE
        # statement (psycopg's executemany sends a statement per row; unnest.py).
        self.unnest = Unnest(dialect, self._to_db) if dialect.name == "postgresql" else None
        # PostgreSQL: the batch's reads bind each list as one array, so their texts do not
        # change with the batch's size and are prepared and planned once (facts.member).
        self.arrays = dialect.name == "postgresql"
        self._lock_head = self._compile(
            _LOCK_HEAD_ASYNC_STMT
            if async_commit and dialect.name == "postgresql"
            else _LOCK_HEAD_SEEN_STMT
        )
        self._store_head = self._compile(
            update(_HEAD_TABLE)
            .where(_HEAD_TABLE.c.id == HEAD_ID)
            .values(seq=bindparam("seq"), hash=bindparam("hash"))
        )
        self._insert_entry = self._compile(insert(_LOG_TABLE), column_keys=AUDIT_COLUMNS)
        self._token = self._compile(TOKEN_STMT)
        self._challenge = self._compile(insert(_CHALLENGES), column_keys=CHALLENGE_COLUMNS)
        # The INSERT of each table a batch writes rows to, by table name (SQLite's path).
        self.inserts = {
            _CHALLENGES.name: self._challenge,
            _LOG_TABLE.name: self._insert_entry,
        }
        # SQLite: a batch's rows of one table in one INSERT, by (table, row count).
        self._multi: dict[tuple[str, int], str] = {}
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

    def insert_rows(self, table: str, count: int) -> tuple[str, int]:
        """SQLite: ``table``'s INSERT for up to ``count`` rows in ONE statement.

        Returns the SQL and how many rows it takes (fewer than ``count`` when the rows'
        parameters would pass SQLite's oldest limit per statement; the caller sends the
        rest in more statements). Why not ``executemany``: sqlite3 releases the GIL
        around every row's step, and each release costs the committer ~30 us when the
        event loop wants the GIL meanwhile (bench/profiles/keyserver.md, sixteenth
        session); one statement releases it once. Same rows, same order, same
        transaction: the multi-row VALUES is SQLite's own (3.7.11 and later).
        """
        single = self.inserts[table]
        width = len(single.positions)
        count = max(1, min(count, _SQLITE_MAX_PARAMS // width))
        sql = self._multi.get((table, count))
        if sql is None:
            # The compiled single-row INSERT ends with its one VALUES tuple (checked).
            head, sep, row = single.sql.rpartition(" VALUES ")
            if not sep or row != "(" + ", ".join(["?"] * width) + ")":
                raise RuntimeError(f"unexpected INSERT for {table}: {single.sql}")
            sql = self._multi[(table, count)] = head + sep + ", ".join([row] * count)
        return sql, count

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
        """A statement compiled once per shape.

        A shape (facts.member): on SQLite its lists' lengths, on PostgreSQL which lists
        it has, each bound as one array.
        """
        stmt = self._shapes.get(key)
        if stmt is None:
            stmt = self._compile(build(), expanding=not self.arrays)
            self._shapes[key] = stmt
        return stmt

    def lists(self, lists: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """The bind values of a shaped statement's lists (see :meth:`_shape`)."""
        if self.arrays:
            return {name: list(values) for name, values in lists.items()}
        return _numbered(lists)

    def _rows_statement(self, count: int) -> _Statement:
        # PostgreSQL: one text whatever the count (the list is one array parameter).
        n, arrays = (1 if self.arrays else count), self.arrays
        return self._shape(("rows", n), lambda: _rows_stmt(n, arrays))

    def _tokens_statement(self, count: int) -> _Statement:
        n, arrays = (1 if self.arrays else count), self.arrays
        return self._shape(("tokens", n), lambda: _tokens_seen_stmt(n, arrays))

    def _registers_statement(self, count: int) -> _Statement:
        n, arrays = (1 if self.arrays else count), self.arrays
        return self._shape(("registers", n), lambda: _registers_stmt(n, arrays))

    def _facts_statement(self, shape: Shape) -> _Statement:
        if self.arrays:
            # PostgreSQL: which parts there are, not how many values each (facts.member).
            pids, media, texts, (rcids, names), (gcids, groups) = shape
            shape = (
                min(pids, 1),
                min(media, 1),
                min(texts, 1),
                (min(rcids, 1), min(names, 1)),
                (min(gcids, 1), min(groups, 1)),
            )
        arrays = self.arrays
        return self._shape(("facts", shape), lambda: facts_statement(shape, arrays=arrays))

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
