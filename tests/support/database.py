"""Put a migrated key-server database back to the state ``init_database`` left it in.

Tests that share one database (and one server) per module reset it before each test, instead
of creating a database per test. What "fresh" means is read from the database itself right
after the migrations ran: every table's rows at that moment (e.g. the audit chain's genesis
head) are kept and written back; every other row is removed. A table a later migration adds
is covered without a change here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, delete, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# The migration tool's own bookkeeping stays as it is.
_KEEP = {"alembic_version"}


class Pristine:
    """The rows of a freshly migrated database, and a way back to them."""

    def __init__(self, url: str) -> None:
        # NullPool: no connection stays open between tests (PostgreSQL tests may drop the
        # database or refuse connections to it).
        self._engine: Engine = create_engine(url, poolclass=NullPool)
        self._metadata = MetaData()
        self._metadata.reflect(self._engine)
        self._tables = [t for t in self._metadata.sorted_tables if t.name not in _KEEP]
        with self._engine.connect() as conn:
            self._rows: dict[str, list[dict[str, Any]]] = {
                t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in self._tables
            }
            self._sequences = self._owned_sequences(conn)

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

    def reset(self) -> None:
        """Remove every row added since; write the initial rows back (one transaction)."""
        with self._engine.begin() as conn:
            # DELETE, children first, not TRUNCATE: a test leaves a few rows, and PostgreSQL's
            # TRUNCATE makes new files for all tables (~0.6 s per test on a loaded machine).
            for table in reversed(self._tables):
                conn.execute(delete(table))
            # Ids start again where a fresh database starts them (TRUNCATE's RESTART IDENTITY).
            for sequence in self._sequences:
                conn.execute(
                    text(
                        "SELECT setval(:seq, seqstart, false) FROM pg_sequence"
                        " WHERE seqrelid = CAST(:seq AS regclass)"
                    ),
                    {"seq": sequence},
                )
            if (
                self._engine.dialect.name == "sqlite"
                and conn.execute(
                    text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
                ).first()
            ):
                conn.execute(text("DELETE FROM sqlite_sequence"))
            for table in self._tables:
                if self._rows[table.name]:
                    conn.execute(insert(table), self._rows[table.name])

    def close(self) -> None:
        """Release the engine."""
        self._engine.dispose()
