"""Engine factory (SQLite and PostgreSQL) and migration entry points.

SQLite: WAL journal, foreign keys, ``secure_delete`` (destroyed key ciphertexts are
overwritten with zeros in the file, not merely unlinked from the b-tree), a busy timeout,
and every transaction opened with ``BEGIN IMMEDIATE`` so writers serialise at BEGIN
instead of failing at their first write (this is SQLite's equivalent of the row locks
used on PostgreSQL). PostgreSQL: ``postgresql+psycopg://`` with pre-ping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from keyserver.domain.settings import Settings

READ_ONLY_OPTION = "rwc_read_only"
# One SELECT, no transaction needed: SQLite runs it in its own implicit read snapshot.
SINGLE_READ_OPTION = "rwc_single_read"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings.database_url`` with backend-specific setup."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.busy_timeout_ms / 1000},
            pool_size=settings.pool_size,
            # No pre-ping: a connection to a local file cannot go stale, and the ping
            # would cost a statement per checkout (twice per key release).
        )
        busy = int(settings.busy_timeout_ms)
        synchronous = settings.sqlite_synchronous  # validated against a fixed set

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Security: overwrite deleted content (destroyed key ciphertexts) in the file.
            cur.execute("PRAGMA secure_delete=ON")
            # Durability of the audit log over speed (FULL unless configured otherwise).
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute(f"PRAGMA busy_timeout={busy}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get(SINGLE_READ_OPTION):
                return  # autocommit mode; the closing ROLLBACK is then a no-op
            if options.get(READ_ONLY_OPTION):
                # Read-only sessions: a WAL snapshot, no write lock.
                conn.exec_driver_sql("BEGIN DEFERRED")
            else:
                # Serialise writers at BEGIN (no lock upgrades, no SQLITE_BUSY mid-way).
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url, pool_size=settings.pool_size, max_overflow=settings.pool_size, pool_pre_ping=True
    )


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def migrate(settings: Settings, engine: Engine | None = None) -> None:
    """Bring the database schema to the newest revision (one chain for both backends)."""
    own = engine is None
    eng = make_engine(settings) if engine is None else engine
    try:
        with eng.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if own:
            eng.dispose()


def init_database(settings: Settings, engine: Engine | None = None) -> None:
    """Create the database schema (and SQLite file) if needed; idempotent."""
    if settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    migrate(settings, engine)
