"""Put a migrated key-server database back to the state ``init_database`` left it in.

Tests that share one database (and one server) per test process reset it before each test,
instead of creating a database per test. What "fresh" means is read from the database itself
right after the migrations ran: every table's rows at that moment (e.g. the audit chain's genesis
head) are kept and written back; every other row is removed. A table a later migration adds
is covered without a change here. A later state can be kept the same way (``snapshot``),
e.g. the database with a test world's principals in it, which a reset then writes back in
place of the set-up that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql as psycopg_sql
from sqlalchemy import MetaData, Table, create_engine, delete, event, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# The migration tool's own bookkeeping stays as it is.
_KEEP = {"alembic_version"}


def _sqlite_no_sync(dbapi_conn: Any, _record: Any) -> None:
    """No fsync per reset: the database is in WAL mode (the key server set it), where
    NORMAL syncs only at checkpoints; tests need no durability against a power cut (the
    key server's test settings say NORMAL too). FULL cost ~40 ms of wall per reset here."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@dataclass(frozen=True)
class Snapshot:
    """Every table's rows and every owned sequence's position at one moment."""

    rows: dict[str, list[dict[str, Any]]]
    # PostgreSQL: (sequence, last_value, is_called), what setval() puts back.
    sequences: list[tuple[str, int, bool]]
    # SQLite: the AUTOINCREMENT counters (table name -> highest id handed out).
    sqlite_sequence: list[dict[str, Any]]


class Pristine:
    """The rows of a freshly migrated database, and a way back to them (or to a snapshot)."""

    def __init__(self, url: str, schema: Pristine | None = None) -> None:
        """Read the database at ``url`` as it is now (its ``migrated`` state).

        ``schema``: the Pristine of another database with the same schema (a copy of the
        same template), whose tables are taken as they are: reading them from the
        database's catalogue costs 0.05-0.15 CPU-s each time.
        """
        # One connection kept open from reset to reset: a new one per reset was a new
        # PostgreSQL backend with cold catalogue caches (most of a reset's 0.27 s wall on a
        # loaded machine, against 12 ms of CPU here). Pinged before use: a test may end the
        # database's connections (tests/keyserver/test_unavailable.py).
        self._engine: Engine = create_engine(
            url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_pre_ping=True
        )
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_no_sync)
        if schema is not None:
            self._tables: list[Table] = schema._tables
            self._sequence_names: list[str] = schema._sequence_names
        else:
            metadata = MetaData()
            metadata.reflect(self._engine)
            self._tables = [t for t in metadata.sorted_tables if t.name not in _KEEP]
            with self._engine.connect() as conn:
                self._sequence_names = self._owned_sequences(conn)
        self.migrated = self.snapshot()

    def snapshot(self) -> Snapshot:
        """The database's rows and sequence positions now (a state ``reset`` can go back to)."""
        with self._engine.connect() as conn:
            rows = {
                t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in self._tables
            }
            # The names come from the catalogue as regclass text, quoted where they need it.
            sequences = [
                (name, int(last), bool(called))
                for name in self._sequence_names
                for last, called in conn.execute(text(f"SELECT last_value, is_called FROM {name}"))
            ]
            counters: list[dict[str, Any]] = []
            if self._has_sqlite_sequence(conn):
                counters = [
                    dict(r._mapping) for r in conn.execute(text("SELECT * FROM sqlite_sequence"))
                ]
        return Snapshot(rows, sequences, counters)

    def _owned_sequences(self, conn: Connection) -> list[str]:
        """PostgreSQL: the sequences the tables' columns own (serial or identity ids)."""
        if self._engine.dialect.name != "postgresql":
            return []
        rows = conn.execute(
            text(
                "SELECT DISTINCT s.oid::regclass::text FROM pg_class s"
                " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND t.relname = ANY(:names)"
            ),
            {"names": [t.name for t in self._tables]},
        )
        return sorted(str(r[0]) for r in rows)

    def _has_sqlite_sequence(self, conn: Connection) -> bool:
        return self._engine.dialect.name == "sqlite" and bool(
            conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first()
        )

    def reset(self, to: Snapshot | None = None) -> None:
        """Remove every row; write back the rows of ``to`` (default: the freshly migrated
        database) and put the ids where they were then (one transaction)."""
        state = self.migrated if to is None else to
        with self._engine.begin() as conn:
            # DELETE, children first, not TRUNCATE: a test leaves a few rows, and PostgreSQL's
            # TRUNCATE makes new files for all tables (~0.6 s per test on a loaded machine).
            # Ids go on from where they were (for the migrated state: where a fresh database
            # starts them, as TRUNCATE's RESTART IDENTITY did).
            if self._engine.dialect.name == "postgresql":
                self._reset_postgres(conn, state)
                return
            for table in reversed(self._tables):
                conn.execute(delete(table))
            if self._has_sqlite_sequence(conn):
                conn.execute(text("DELETE FROM sqlite_sequence"))
                if state.sqlite_sequence:
                    conn.execute(
                        text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
                        state.sqlite_sequence,
                    )
            for table in self._tables:
                if state.rows[table.name]:
                    conn.execute(insert(table), state.rows[table.name])

    def _reset_postgres(self, conn: Connection, state: Snapshot) -> None:
        """``reset``'s statements in one pipeline: sent together, one wait for the server.

        One round trip per table, sequence and insert was most of a reset's wall time on a
        loaded machine (each waits for the server process to be scheduled): 0.25-0.5 s per
        test against 12-16 ms of CPU. The rows go back as the reflected tables read them
        (driver values: naive timestamps, bytes), which psycopg writes as they came.
        """
        sql = psycopg_sql
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.pipeline(), driver.cursor() as cur:
            for table in reversed(self._tables):
                cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
            for name, last, called in state.sequences:
                cur.execute("SELECT setval(CAST(%s AS regclass), %s, %s)", (name, last, called))
            for table in self._tables:
                rows = state.rows[table.name]
                if not rows:
                    continue
                columns = list(rows[0])
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table.name),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                )
                cur.executemany(statement, [tuple(row[c] for c in columns) for row in rows])

    def close(self) -> None:
        """Release the engine."""
        self._engine.dispose()
