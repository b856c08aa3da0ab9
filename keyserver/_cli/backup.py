"""``keyserver backup FILE`` and ``keyserver restore-backup [FILE] [--replay EXPORT]``.

spec §backup. Local only (they need the database itself, not an API):

- ``backup``: SQLite through its online backup API (a consistent copy while the server
  serves and writes); PostgreSQL through ``pg_dump --format=custom`` (one snapshot). The
  file is created 0600 (it holds sealed seeds) and appears only once complete.
- ``restore-backup FILE``: puts the backup in place of the database (the server stopped),
  migrates it, and marks it: no writing transaction runs and ``/readyz`` fails until the
  destroys and suspensions recorded after the backup are re-applied.
- ``restore-backup --replay EXPORT``: re-applies them from an audit export
  (``keyserver audit export``) taken after the backup; serving resumes. With
  ``--checkpoint FILE`` (a signed checkpoint the operators kept), only if the database then
  reaches it: otherwise the export is too old and something is missing.
- ``restore-backup`` alone: says whether a replay is pending.

(``restore`` is the official's command that lifts a suspension: hence ``restore-backup``.)
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keyserver._cli.config import load_settings
from keyserver._cli.context import Context
from keyserver._cli.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, CliError
from keyserver._cli.files import written
from keyserver._domain.i18n import N_, Message
from keyserver._domain.settings import Settings
from pycontainer.cli.strictargs import file_name

# The parser imports this module for its add_parser functions on every `keyserver` start;
# SQLAlchemy and the store (about a CPU second of imports) are imported by the commands
# that use them, as keyserver/_cli/commands.py does for local mode.

HELP_BACKUP = N_(
    "write a consistent backup of the database (0600; SQLite online, or pg_dump)"
).msgid
HELP_RESTORE = N_(
    "put a backup in place (server stopped) and hold it until `--replay AUDIT_EXPORT` "
    "re-applies the destroys recorded after it"
).msgid


def add_parsers(add: Callable[[str, str], Any], settings_flags: Callable[..., None]) -> None:
    """Register ``backup`` and ``restore-backup`` (``add(name, help)`` from main.py)."""
    p = add("backup", HELP_BACKUP)
    p.add_argument(
        "file",
        type=file_name,
        metavar="FILE",
        help=N_("the backup file to create (never overwritten)").msgid,
    )
    settings_flags(p, listed=True)
    p = add("restore-backup", HELP_RESTORE)
    p.add_argument(
        "file",
        nargs="?",
        type=file_name,
        metavar="FILE",
        help=N_("a file written by `keyserver backup`").msgid,
    )
    p.add_argument(
        "--replay",
        type=file_name,
        metavar="AUDIT_EXPORT",
        help=N_("an audit export (`keyserver audit export -o FILE`) taken after the backup").msgid,
    )
    p.add_argument(
        "--checkpoint",
        type=file_name,
        metavar="FILE",
        help=N_(
            "the newest signed checkpoint you kept (a witness's copy): the replay must reach it"
        ).msgid,
    )
    p.add_argument(
        "--force",
        action="store_true",
        help=N_(
            "replace the existing database (SQLite file, or the key-server tables on "
            "PostgreSQL); the server must be stopped"
        ).msgid,
    )
    settings_flags(p, listed=True)


def _local_settings(ctx: Context) -> Settings:
    ctx.require_local()
    return load_settings(ctx.resolved, ctx.setting_overrides())


def _libpq_url(settings: Settings) -> str:
    """The database URL as pg_dump and pg_restore take it (no SQLAlchemy driver suffix)."""
    url = settings.database_url
    scheme, _, rest = url.partition("://")
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise CliError(
            N_("%(name)s is not installed", name=name),
            hint=N_(
                "install the PostgreSQL client tools of your server's version (Debian: "
                "apt-get install postgresql-client)"
            ),
            exit_code=EXIT_CONFIG,
        )
    return found


def _run(argv: list[str]) -> None:
    # Never show the command line: the URL may hold a password. Only the tool's own words.
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise CliError(
            N_("%(name)s failed: %(first)s", name=Path(argv[0]).name, first=first),
            hint=N_("check the database URL and that the database server runs"),
            exit_code=EXIT_CONFIG,
        )


def _sqlite_copy(source: Path, dest: Path) -> None:
    """Copy a SQLite database through its online backup API (spec §backup).

    A consistent snapshot, copied page by page while other connections keep writing.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _flush(settings: Settings) -> None:
    """Make what the copy read durable before the backup is kept (spec §consistency).

    Release batches commit before their flush (keyserver/_store/durability.py), so the
    copy may hold entries that a crash of the database would still lose; a backup
    holding entries the live log then never had could not be reconciled with a later
    export. The flush after the copy covers every commit the copy saw.
    """
    from keyserver._store.durability import Durability  # noqa: PLC0415 - see the imports
    from keyserver._store.engine import make_engine  # noqa: PLC0415

    engine = make_engine(settings)
    try:
        Durability(engine, settings).flush()
    finally:
        engine.dispose()


def cmd_backup(ctx: Context) -> int:
    """``keyserver backup FILE``."""
    settings = _local_settings(ctx)
    dest = Path(ctx.args.file)
    from keyserver._cli.local import sqlite_path  # noqa: PLC0415 - local mode only

    source = sqlite_path(settings)
    with written(dest, named=True) as staged:
        tmp = staged.path
        assert tmp is not None  # named=True
        if source is not None:
            if not source.exists():
                raise CliError(
                    N_("no database at %(source)s", source=source), exit_code=EXIT_CONFIG
                )
            _sqlite_copy(source, tmp)
        else:
            # pg_dump reads in one snapshot: consistent while the server serves.
            _run([_tool("pg_dump"), "--format=custom", f"--file={tmp}", _libpq_url(settings)])
        _flush(settings)
    size = dest.stat().st_size
    ctx.out.record({"backup": str(dest), "bytes": size}, title=N_("backup"))
    ctx.out.note(
        N_(
            "keep it encrypted and for a limited time (spec §erasure); restore it only with "
            "`keyserver restore-backup`, then `--replay` an audit export taken after it"
        )
    )
    return EXIT_OK


def _put_in_place(settings: Settings, backup: Path, *, force: bool) -> None:
    if not backup.is_file():
        raise CliError(N_("no backup file at %(backup)s", backup=backup), exit_code=EXIT_USAGE)
    from keyserver._cli.local import sqlite_path  # noqa: PLC0415 - local mode only

    target = sqlite_path(settings)
    if target is None:
        _empty_postgresql(settings, force=force)
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(settings)}",
                str(backup),
            ]
        )
        return
    if target.exists() and not force:
        raise CliError(
            N_("a database exists at %(target)s", target=target),
            hint=N_("stop the server, then add --force to replace it"),
            exit_code=EXIT_USAGE,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with written(target, replace=True, named=True) as staged:
        assert staged.path is not None  # named=True
        _sqlite_copy(backup, staged.path)
        # The old database's write-ahead log must go with it: SQLite would otherwise
        # apply its (newer) pages to the restored file.
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)


def _empty_postgresql(settings: Settings, *, force: bool) -> None:
    """Make room for the backup: the key server's tables go (only with ``--force``)."""
    from sqlalchemy import inspect, text  # noqa: PLC0415 - see the imports

    from keyserver._store.engine import make_engine  # noqa: PLC0415
    from keyserver._store.models import Base  # noqa: PLC0415

    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            tables = set(inspect(conn).get_table_names())
            if not tables:
                return
            if not force:
                raise CliError(
                    N_("the database is not empty"),
                    hint=N_(
                        "stop the server, then add --force to replace its key-server tables (or "
                        "restore into a new, empty database)"
                    ),
                    exit_code=EXIT_USAGE,
                )
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def _read(path: Path, what: Message) -> str:
    if not path.is_file():
        raise CliError(N_("no %(what)s at %(path)s", what=what, path=path), exit_code=EXIT_USAGE)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(
            N_("%(path)s cannot be the %(what)s: it is not UTF-8 text", path=path, what=what),
            hint=N_("give the file `keyserver audit export` or `keyserver checkpoint` wrote"),
            exit_code=EXIT_USAGE,
        ) from None


def cmd_restore_backup(ctx: Context) -> int:
    """``keyserver restore-backup [FILE] [--replay AUDIT_EXPORT] [--force]``."""
    from keyserver._cli.local import guard, open_service  # noqa: PLC0415 - local mode only
    from keyserver._store import migrate  # noqa: PLC0415 - see the imports

    settings = _local_settings(ctx)
    backup, export = ctx.args.file, ctx.args.replay
    if backup is not None:
        _put_in_place(settings, Path(backup), force=bool(ctx.args.force))
        guard(lambda: migrate(settings))  # a backup may predate the newest schema
    service = open_service(settings)
    try:
        restores = service.restores
        if backup is not None:
            held = guard(lambda: restores.mark_restored(str(backup)))
            ctx.out.record(held, title=N_("restored"))
            ctx.out.note(
                N_(
                    "the server refuses to serve this database until the destroys recorded "
                    "after the backup are re-applied: run `keyserver restore-backup --replay "
                    "AUDIT_EXPORT` with an export taken after the backup"
                )
            )
        kept = None
        if ctx.args.checkpoint is not None:
            data = _read(Path(ctx.args.checkpoint), N_("checkpoint")).encode("utf-8")
            kept = guard(lambda: restores.checkpoint(data))
        if export is not None or kept is not None:
            lines = [] if export is None else _read(Path(export), N_("audit export")).splitlines()
            source = str(export or ctx.args.checkpoint)
            done = guard(lambda: restores.replay(lines, source=source, checkpoint=kept))
            ctx.out.record(done, title=N_("replayed"))
            ctx.out.note(N_("the database serves again"))
        if backup is None and export is None and kept is None:
            state = guard(restores.pending)
            ctx.out.record(state or {"restore_pending": False}, title=N_("restore"))
    finally:
        service.close()
    return EXIT_OK
