"""PostgreSQL: many rows per statement, one array per column (the release batch's writes).

Why arrays: ``INSERT ... SELECT * FROM unnest(%(col)b::type[], ...)`` keeps the SQL text
the same whatever the row count, so psycopg parses it once (a multi-row VALUES list is
parsed again on every call: ~2.5 ms of Python per statement under the lock, measured),
and one statement carries every row (``executemany`` costs ~25 us of Python per row).

Why ONE statement for all of a batch's writes (:meth:`Unnest.writes`): the challenges,
the container updates, the audit entries and the new chain head go out as
data-modifying CTEs of one ``UPDATE audit_head``, one round trip under the chain-head
lock. psycopg's pipeline mode sent them together too, but cost more than sending them
one by one (4 INSERTs: 0.19 ms of CPU in a pipeline, 0.12 ms in sequence, measured)
and waited once per statement for its results (bench/profiles/keyserver.md). The
parts of a statement run on one snapshot and each container row is updated by one part
only (the batch merges a row's changes, keyserver/_release/hotpath.py), which is what
PostgreSQL requires of data-modifying CTEs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Table

from keyserver._store.audit import HEAD_ID
from keyserver._store.models import AuditHead, Base, Container

_C = Base.metadata.tables[Container.__tablename__]
_HEAD = Base.metadata.tables[AuditHead.__tablename__]

#: One part of a batch's writes: ``(table, columns, rows)`` for an INSERT, or
#: ``(None, changed columns, rows with "row_id")`` for an UPDATE of container rows.
Part = tuple[Table | None, Sequence[str], Sequence[Mapping[str, Any]]]


class Unnest:
    """Array statements for one PostgreSQL dialect (SQL text cached per shape).

    Args:
        dialect: The engine's dialect.
        to_db: The datetime bind conversion of the hot path (compiled.HotPath._to_db).
    """

    def __init__(self, dialect: Dialect, to_db: Callable[[datetime], Any]) -> None:
        self._dialect = dialect
        self._quote = dialect.identifier_preparer.quote
        self._to_db = to_db
        self._sql: dict[Any, str] = {}

    def insert(self, table: Table, columns: Sequence[str], prefix: str = "") -> str:
        """``INSERT INTO table (columns) SELECT * FROM unnest(...)``; arrays ``prefix+column``."""
        key = ("insert", table.name, tuple(columns), prefix)
        sql = self._sql.get(key)
        if sql is None:
            q = self._quote
            arrays = ", ".join(
                f"%({prefix}{c})b::{self._array_type(table.c[c])}[]" for c in columns
            )
            names = ", ".join(q(c) for c in columns)
            # Only names from the models and placeholders: no value enters the SQL text.
            sql = f"INSERT INTO {q(table.name)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608
            self._sql[key] = sql
        return sql

    def update(self, keys: Sequence[str], prefix: str = "") -> str:
        """UPDATE of columns ``keys`` of many container rows, matched on ``row_id``.

        ``UPDATE containers SET k = v.k FROM unnest(...) AS v(row_id, k..) WHERE id =
        v.row_id``. The rows are already locked ``FOR UPDATE`` by the batch.
        """
        key = ("update", tuple(keys), prefix)
        sql = self._sql.get(key)
        if sql is None:
            q = self._quote
            columns = ("row_id", *keys)
            arrays = ", ".join(
                f"%({prefix}{c})b::{self._array_type(_C.c.id if c == 'row_id' else _C.c[c])}[]"
                for c in columns
            )
            sets = ", ".join(f"{q(k)} = v.{q(k)}" for k in keys)
            names = ", ".join(q(c) for c in columns)
            # Only names from the models and placeholders: no value enters the SQL text.
            sql = (
                f"UPDATE {q(_C.name)} SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
                f"WHERE {q(_C.name)}.{q('id')} = v.row_id"
            )
            self._sql[key] = sql
        return sql

    def writes(self, parts: Sequence[Part]) -> str:
        """Every part as a data-modifying CTE of the chain head's UPDATE (one statement).

        Bind ``head_seq``, ``head_hash`` and :meth:`arrays` of each part with the prefix
        ``w{i}_`` (its position in ``parts``).
        """
        key = (
            "writes",
            *((None if t is None else t.name, tuple(cols)) for t, cols, _ in parts),
        )
        sql = self._sql.get(key)
        if sql is None:
            ctes = []
            for i, (table, columns, _rows) in enumerate(parts):
                prefix = f"w{i}_"
                body = (
                    self.update(columns, prefix)
                    if table is None
                    else self.insert(table, columns, prefix)
                )
                ctes.append(f"w{i} AS ({body})")
            q = self._quote
            head = (
                f"UPDATE {q(_HEAD.name)} SET {q('seq')} = %(head_seq)s::BIGINT, "  # noqa: S608
                f"{q('hash')} = %(head_hash)s::BYTEA WHERE {q('id')} = {int(HEAD_ID)}"
            )
            sql = f"WITH {', '.join(ctes)} {head}" if ctes else head
            self._sql[key] = sql
        return sql

    def arrays(
        self, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], prefix: str = ""
    ) -> dict[str, list[Any]]:
        """The bind values of ``rows``: one list per column (datetimes converted)."""
        conv = self._to_db
        return {
            f"{prefix}{c}": [conv(v) if type(v) is datetime else v for v in (r[c] for r in rows)]
            for c in columns
        }

    def _array_type(self, column: Any) -> str:
        """The element type of a column's array (strings as TEXT).

        A value too long for a ``VARCHAR(n)`` column then fails the INSERT like a plain
        INSERT does; a cast to ``VARCHAR(n)[]`` would silently truncate it (and the
        audit entry would no longer match its hash).
        """
        name = str(column.type.compile(dialect=self._dialect))
        return "TEXT" if name.startswith("VARCHAR") else name
