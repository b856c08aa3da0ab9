"""Engine factory (SQLite and PostgreSQL) and migration entry points.

SQLite: WAL journal, foreign keys, ``secure_delete`` (destroyed key ciphertexts are
overwritten with zeros in the file, not merely unlinked from the b-tree), a busy timeout,
and every transaction opened with ``BEGIN IMMEDIATE`` so writers serialise at BEGIN
instead of failing at their first write (this is SQLite's equivalent of the row locks
used on PostgreSQL). PostgreSQL: ``postgresql+psycopg://``.

Fail fast (issue 14; settings ``db_*_timeout``): PostgreSQL sessions carry
``statement_timeout``, ``lock_timeout`` and ``idle_in_transaction_session_timeout``,
connections a connect timeout, TCP keepalive and ``tcp_user_timeout``, and a client-side
deadline (keyserver/_store/deadline.py) that cuts a connection whose server went silent
(a frozen network path, which no server-side timeout can see). A connection taken from
the pool is pinged under that deadline. SQLite: the busy timeout, and a connection that
hit "readonly database" or an I/O error is treated as lost, so the pool reopens it when
the file is writable again (recovery without restart); side files (-wal, -shm) left
read-only by a read-only period get the database file's mode back before connecting.
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from keyserver._domain.settings import Settings
from keyserver._store.deadline import Watchdog
from keyserver._store.writelock import engine_write_lock, sqlite_file

# alembic is imported by migrate(), not here: `keyserver serve` and each of its workers
# never migrate, and its import is ~0.2 CPU-s of every server start.
if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("keyserver")

READ_ONLY_OPTION = "rwc_read_only"
# Work that may legitimately run long (migrations rewriting a large table): no deadline.
NO_DEADLINE_OPTION = "rwc_no_deadline"
# One SELECT, no transaction needed: SQLite runs it in its own implicit read snapshot.
SINGLE_READ_OPTION = "rwc_single_read"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Prepared statements sqlite3 keeps per connection (its default: 128). The key-release
# path's texts vary with its batch (keyserver/_release/compiled.py: the locked rows,
# the tokens, the facts, the challenges' and the audit entries' INSERTs, each per
# count), up to 64 jobs: five texts per size, 320. Past the cache, a statement is
# prepared again under the chain head: batches of 1 to 32 on 128 prepared ~1 more
# statement per batch, +0.3 M instructions (~0.6%) per batch (bench/profiles/keyserver.md,
# seventeenth session). A prepared statement holds its compiled program, a few kB.
SQLITE_CACHED_STATEMENTS = 512


def make_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings.database_url`` with backend-specific setup."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.busy_timeout_ms / 1000,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
            pool_size=settings.pool_size,
            # No pre-ping: a connection to a local file cannot go stale, and the ping
            # would cost a statement per checkout (twice per key release).
        )
        busy = int(settings.busy_timeout_ms)
        synchronous = settings.sqlite_synchronous  # validated against a fixed set
        db_file = sqlite_file(engine.url.database, str(engine.url.query.get("uri", "")) == "true")
        if db_file is not None and (opened := make_private(db_file)):
            log.warning("%s were readable by group or others: made private (0600)", opened)
        base_is_disconnect = engine.dialect.is_disconnect

        # Set by an error after which connections are reopened; the next connect first
        # frees the cursors of failed statements (see _sqlite_do_connect).
        reopening = threading.Event()

        def _is_disconnect(e: Any, connection: Any, cursor: Any) -> bool:
            # Also consulted by the release batch for its raw-cursor errors (batch.py).
            if _sqlite_reopen(e):
                reopening.set()
                return True
            return bool(base_is_disconnect(e, connection, cursor))

        engine.dialect.is_disconnect = _is_disconnect  # type: ignore[method-assign]
        # Writers queue on the writer lock no longer than SQLite's own busy timeout.
        engine_write_lock(engine).timeout = busy / 1000

        @event.listens_for(engine, "do_connect")
        def _sqlite_do_connect(*_args: Any) -> None:
            if db_file is not None and repair_side_files(db_file):
                log.warning("SQLite side files of %s made writable again", db_file.name)
            if reopening.is_set():
                reopening.clear()
                # A failed statement's cursor lives on in a reference cycle (exception ->
                # traceback -> frame -> cursor) until the cyclic GC runs, and SQLite keeps
                # its connection open meanwhile (closed, but a zombie until the statement
                # is finalized). One opened while the file was read-only holds the
                # process's -shm mapping read-only, so every new connection stayed
                # read-only after the file was writable again, for good on an idle server
                # (issue 14, tests/faults/test_database_faults.py). Free them first.
                gc.collect()

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
    return _postgres_engine(settings)


def _ms(value: Any) -> int:
    return int(value.total_seconds() * 1000)


def _postgres_engine(settings: Settings) -> Engine:
    statement_ms = _ms(settings.db_statement_timeout)
    options = (
        f"-c statement_timeout={statement_ms}"
        f" -c lock_timeout={_ms(settings.db_lock_timeout)}"
        f" -c idle_in_transaction_session_timeout={_ms(settings.db_idle_in_transaction_timeout)}"
    )
    engine = create_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        # Waiting for a free pooled connection is bounded like a statement.
        pool_timeout=settings.db_statement_timeout.total_seconds(),
        # No pool_pre_ping: the checkout hook below pings under the deadline instead.
        connect_args={
            "connect_timeout": max(1, int(settings.db_connect_timeout.total_seconds())),
            "options": options,
            # A peer that vanished is noticed by the kernel within about 25 s even when
            # idle, and unacknowledged data fails the connection after statement_timeout.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": statement_ms,
        },
    )
    watchdog = Watchdog(settings.db_statement_timeout.total_seconds())
    engine.info_watchdog = watchdog  # type: ignore[attr-defined]

    def _arm(record: ConnectionPoolEntry) -> None:
        dbapi = record.dbapi_connection
        if dbapi is not None:
            watchdog.arm(id(record), int(dbapi.pgconn.socket))

    @event.listens_for(engine, "connect")
    def _pg_connect(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["rwc_fresh"] = True

    @event.listens_for(engine, "checkout")
    def _pg_checkout(
        dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        _arm(record)
        if record.info.pop("rwc_fresh", False):
            return  # just connected (under connect_timeout): no ping needed
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            watchdog.disarm(id(record))
            raise DisconnectionError("stale database connection") from exc

    @event.listens_for(engine, "engine_disposed")
    def _pg_disposed(_engine: Engine) -> None:
        # The thread would otherwise outlive the engine (one per engine ever made).
        watchdog.stop()

    @event.listens_for(engine, "checkin")
    def _pg_checkin(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        watchdog.disarm(id(record))

    def _renew(conn: Connection) -> None:
        record = conn.connection._connection_record
        if conn.get_execution_options().get(NO_DEADLINE_OPTION):
            watchdog.disarm(id(record))
        else:
            _arm(record)

    @event.listens_for(engine, "begin")
    def _pg_begin(conn: Connection) -> None:
        _renew(conn)

    @event.listens_for(engine, "before_cursor_execute")
    def _pg_statement(conn: Connection, *_args: Any) -> None:
        _renew(conn)

    return engine


# SQLite errors after which a pooled connection must be reopened, not reused: a connection
# opened while the file was read-only stays read-only after the file is writable again.
_SQLITE_REOPEN = ("readonly database", "disk i/o error", "unable to open database file")


@contextmanager
def driver_errors(conn: Connection, cursor: Any) -> Iterator[None]:
    """Raise a driver error met on ``conn``'s DB-API ``cursor`` as SQLAlchemy raises it.

    For code that reads the driver's cursor itself (a bulk change's rows, store/rowmacs.py):
    the one database-error handler answers (503, spec §problems) and a connection that
    died under it is invalidated, as for a statement SQLAlchemy ran.
    """
    dialect = conn.dialect
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        gone = bool(dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor))
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, base, connection_invalidated=gone, dialect=dialect
        ) from exc


def _sqlite_reopen(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(
        m in str(exc).lower() for m in _SQLITE_REOPEN
    )


def repair_side_files(db_path: Path) -> list[str]:
    """Give -wal and -shm the database file's write bits back (after a read-only period).

    SQLite creates its side files with the database file's mode. A server started while
    the file was read-only (0444) leaves a 0444 -shm behind, and later writers can then
    never write, not even after a restart (issue 14). Only the owner's files are touched.

    Returns:
        The names whose mode was changed.
    """
    try:
        want = stat.S_IMODE(db_path.stat().st_mode)
    except OSError:
        return []
    if not want & stat.S_IWUSR:
        return []  # the database itself is read-only: nothing to repair yet
    changed = []
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        try:
            st = side.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                continue
            if stat.S_IMODE(st.st_mode) & stat.S_IWUSR:
                continue
            side.chmod(want)
        except OSError:
            continue
        changed.append(side.name)
    return changed


def make_private(db_path: Path) -> list[str]:
    """Take group and other permissions off the database and its side files.

    Security: the file holds the wrapped container keys and the audit log's secrets. It is
    created 0600 (``_create_private``), but a database made by an earlier version (before
    c8357c1), or copied by hand, may be 0644: every local user could copy it. The owner's
    bits are kept (a read-only database stays read-only); only the owner's files are touched.

    Returns:
        The names whose mode was changed.
    """
    changed = []
    for suffix in ("", "-wal", "-shm"):
        path = db_path.with_name(db_path.name + suffix)
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                continue
            mode = stat.S_IMODE(st.st_mode)
            if not mode & 0o077:
                continue
            path.chmod(mode & 0o700)
        except OSError:
            continue
        changed.append(path.name)
    return changed


def _alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - see the imports

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def migrate(settings: Settings, engine: Engine | None = None) -> None:
    """Bring the database schema to the newest revision (one chain for both backends)."""
    from alembic import command  # noqa: PLC0415 - see the imports

    own = engine is None
    eng = make_engine(settings) if engine is None else engine
    try:
        # A migration may rewrite a large table (0002_seq_bigint rewrites audit_log): no
        # client deadline and no statement timeout, only the lock timeout (a migration
        # must not queue behind a stuck session for ever).
        with eng.execution_options(**{NO_DEADLINE_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            # 0008_row_mac MACs existing rows under the deployment's master key.
            cfg.attributes["settings"] = settings
            command.upgrade(cfg, "head")
    finally:
        if own:
            eng.dispose()


def init_database(settings: Settings, engine: Engine | None = None) -> None:
    """Create the database schema (and SQLite file) if needed; idempotent."""
    if settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
    migrate(settings, engine)


def _create_private(path: Path) -> None:
    """Create an empty SQLite file with mode 0600 unless it exists.

    The database holds the wrapped container keys and the audit log's secrets: mode 0600 like
    every secret file (DEVELOPERS.md). SQLite would create it 0644 under the usual umask,
    and it gives its -wal and -shm files the mode of the database file, so making this
    one private makes all three private. An empty file is a valid empty database.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
