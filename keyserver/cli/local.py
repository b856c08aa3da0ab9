"""Local mode of the ``keyserver`` command: the service layer on a data directory.

spec/protocol.md §cli: whoever can read the data directory holds the database and the
master key, so role checks would protect nothing; the service layer skips them for a
local actor (:class:`keyserver.domain.lifecycle.Actor` ``local=True``) but audits every action
under the acting name: ``--as NAME``, by default ``operator@<hostname>``. Local actors
cannot evaluate (no key is ever released without a token-authenticated principal).

Also the local-only commands ``init``, ``migrate``, ``serve`` and ``sweep``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from sqlalchemy.exc import DBAPIError, ProgrammingError, SQLAlchemyError

from keyserver.cli import workers as workers_module
from keyserver.cli.backend import LOG_KEY_PATHS, Action, Json, Scope
from keyserver.cli.config import COMMAND_KEYS, load_settings
from keyserver.cli.context import Context
from keyserver.cli.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
    problem_error,
)
from keyserver.domain.durations import format_duration
from keyserver.domain.errors import KeyServerError
from keyserver.domain.i18n import N_
from keyserver.domain.keys import SealedDataError
from keyserver.domain.lifecycle import Actor
from keyserver.domain.logkey import create_log_key, default_origin
from keyserver.domain.settings import MASTER_KEY_BYTES, ConfigError, Settings
from keyserver.domain.validation import parse_time
from keyserver.service import KeyService
from keyserver.store import init_database, migrate
from keyserver.store.writelock import LOCK_SUFFIX

T = TypeVar("T")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_actor_name() -> str:
    """``operator@<hostname>``: the audited name of local actions without ``--as``."""
    host = _NAME_UNSAFE.sub("-", socket.gethostname()) or "localhost"
    return f"operator@{host}"[:64]


def _sqlite_path(settings: Settings) -> Path | None:
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None


def _guard(fn: Callable[[], T]) -> T:
    """Run a service call, turning its failures into CliError (spec §problems)."""
    try:
        return fn()
    except KeyServerError as exc:
        contact = exc.extensions.get("contact")
        suggestions = exc.extensions.get("suggestions")
        raise problem_error(
            exc.slug,
            exc.detail,
            [str(n) for n in suggestions] if isinstance(suggestions, list) else [],
            hint=f"contact: {contact}" if isinstance(contact, str) and contact else None,
        ) from exc
    except ConfigError as exc:
        raise CliError(
            N_("configuration: %(error)s", error=str(exc)), exit_code=EXIT_CONFIG
        ) from exc
    except SealedDataError as exc:
        raise CliError(
            N_("stored key material does not open with this master key"),
            hint=N_("is KEYSERVER_MASTER_KEY_FILE the master key of this database?"),
            exit_code=EXIT_CONFIG,
        ) from exc
    except ProgrammingError as exc:
        # PostgreSQL answers, but the tables are missing or old (UndefinedTable, ...).
        raise CliError(
            N_(
                "the database has no current key-server schema (%(error)s)",
                error=type(exc.orig).__name__,
            ),
            hint=N_("run `keyserver init` for a new database or `keyserver migrate` to upgrade"),
            exit_code=EXIT_CONFIG,
        ) from exc
    except DBAPIError as exc:
        # Class name only: driver messages can contain connection strings.
        raise CliError(
            N_("the database is unavailable (%(error)s)", error=type(exc.orig).__name__),
            hint=N_("check --data-dir / --database-url and that the database server runs"),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc
    except SQLAlchemyError as exc:
        raise CliError(
            N_("database error (%(error)s)", error=type(exc).__name__),
            hint=N_("is the schema current? run `keyserver migrate`"),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc


def check_master_key_file(settings: Settings) -> None:
    """Refuse a master key file that others may read (spec §keys-at-rest).

    Raises:
        CliError: The file is missing, not a regular file, or group/world accessible.
    """
    path = settings.master_key_file
    if settings.master_key_b64 is not None or path is None:
        return
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise CliError(
            f"master key file {path} does not exist",
            hint="run `keyserver init --data-dir DIR` first, or set KEYSERVER_MASTER_KEY_FILE",
            exit_code=EXIT_CONFIG,
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise CliError(f"master key {path} is not a regular file", exit_code=EXIT_CONFIG)
    if st.st_mode & 0o077:
        raise CliError(
            f"master key file {path} is accessible to group or others",
            hint=f"chmod 600 {path}",
            exit_code=EXIT_CONFIG,
        )


def open_service(settings: Settings, *, check_key: bool = True) -> KeyService:
    """Open the service on an existing, initialised database.

    Args:
        settings: The server settings.
        check_key: Refuse a master key that did not write this database's audit chain
            (it would append entries the right key cannot verify). ``audit`` commands pass
            False: they only read, and ``audit verify`` must be able to report a bad chain.

    Raises:
        CliError: Not initialised, unsafe or wrong master key, or the database is
            unavailable.
    """
    sqlite = _sqlite_path(settings)
    if sqlite is not None and not sqlite.is_file():
        # Opening would silently create an empty database file.
        raise CliError(
            N_("no key-server database at %(path)s", path=str(sqlite)),
            hint=N_("run `keyserver init --data-dir DIR` first"),
            exit_code=EXIT_CONFIG,
        )
    check_master_key_file(settings)
    service = _guard(lambda: KeyService(settings))
    if check_key:
        try:
            _guard(service.check_master_key)
        except CliError as exc:
            service.close()
            hint = exc.shown_hint or N_("is this the master key of this database?")
            raise CliError(exc.shown_message, hint=hint, exit_code=exc.exit_code) from exc
    return service


class LocalBackend:
    """The management operations through :class:`KeyService` as a local actor."""

    def __init__(self, service: KeyService, actor: Actor) -> None:
        self._service = service
        self._actor = actor

    @classmethod
    def open(
        cls, settings: Settings, *, acting: str | None, check_key: bool = True
    ) -> LocalBackend:
        """Open the data directory; act as ``acting`` (default ``operator@<hostname>``)."""
        service = open_service(settings, check_key=check_key)
        try:
            actor = _guard(lambda: service.local_actor(acting or default_actor_name()))
        except CliError:
            service.close()
            raise
        return cls(service, actor)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._service.close()

    def whoami(self) -> Json:
        """The local actor (all roles; see the module docstring)."""
        doc = _guard(lambda: self._service.whoami(self._actor))
        return {**doc, "local": True}

    def principal_add(
        self, name: str, roles: list[str], groups: list[str], organisation: str | None
    ) -> Json:
        """Create a principal and its first token."""
        return _guard(
            lambda: self._service.add_principal(
                self._actor, name, roles, organisation=organisation, groups=groups
            )
        )

    def principal_list(self) -> list[Json]:
        """List principals."""
        return list(_guard(lambda: self._service.list_principals(self._actor))["principals"])

    def token_create(self, name: str, expires_at: str | None) -> Json:
        """Issue another token."""

        def call() -> Json:
            when = parse_time(expires_at, "expires_at") if expires_at else None
            return self._service.issue_token(self._actor, name, when)

        return _guard(call)

    def token_list(self) -> list[Json]:
        """List tokens."""
        return list(_guard(lambda: self._service.list_tokens(self._actor))["tokens"])

    def token_revoke(self, token_id: str) -> Json:
        """Revoke a token."""
        return _guard(lambda: self._service.revoke_token(self._actor, token_id))

    def act(
        self,
        action: Action,
        scope: Scope,
        target: str,
        reason: str,
        public_reason: str | None,
        *,
        cause: str | None = None,
    ) -> Json:
        """Suspend, restore or destroy."""
        return _guard(
            lambda: self._service.change_state(
                self._actor, action, scope, target, reason, public_reason, cause=cause
            )
        )

    def media_list(self, after: str | None, limit: int) -> Json:
        """List media."""
        return _guard(lambda: self._service.media_list(self._actor, after=after, limit=limit))

    def medium_info(self, medium: str) -> Json:
        """One medium."""
        return _guard(lambda: self._service.medium_info(self._actor, medium))

    def report_loss(
        self,
        medium: str,
        reason: str,
        public_reason: str | None,
        *,
        now: bool,
        waiting_period_seconds: int | None,
        lost_at: str | None = None,
        replace_earlier: bool = False,
    ) -> Json:
        """Report a medium lost."""
        wait = None if waiting_period_seconds is None else timedelta(seconds=waiting_period_seconds)

        def call() -> Json:
            lost = parse_time(lost_at, "lost_at") if lost_at else None
            return self._service.report_loss(
                self._actor,
                medium,
                reason,
                public_reason,
                now,
                wait,
                lost_at=lost,
                replace_earlier=replace_earlier,
            )

        return _guard(call)

    def status(self, container_id: str) -> Json:
        """A container's status."""
        return _guard(lambda: self._service.status(self._actor, container_id))

    def search(self, filters: dict[str, str], limit: int, after: str | None) -> Json:
        """Search containers."""
        return _guard(
            lambda: self._service.search(
                self._actor,
                label=filters.get("label"),
                medium=filters.get("medium"),
                issuer=filters.get("issuer"),
                state=filters.get("state"),
                limit=limit,
                after=after,
            )
        )

    def medium_report(self, medium: str, *, since: str | None = None) -> Json:
        """The medium report."""

        def call() -> Json:
            at = parse_time(since, "since") if since else None
            return self._service.medium_report(self._actor, medium, at)

        return _guard(call)

    def signed_report(self, kind: str, medium: str) -> Json:
        """A signed report, made and signed here with the log key."""
        return _guard(lambda: self._service.signed_report(self._actor, kind, medium))

    def audit_list(self, filters: dict[str, str], after_seq: int | None, limit: int) -> Json:
        """Audit entries."""
        return _guard(
            lambda: self._service.audit_list(
                self._actor,
                container=filters.get("container"),
                action=filters.get("action"),
                actor_name=filters.get("actor"),
                after_seq=after_seq or 0,
                limit=limit,
            )
        )

    def audit_export(self) -> Iterator[str]:
        """The chain as JSON Lines."""
        lines = _guard(lambda: self._service.audit_export(self._actor))
        while True:
            line = _guard(lambda: next(lines, None))
            if line is None:
                return
            yield line.rstrip("\n")

    def audit_verify(
        self,
        expected_head: tuple[int, bytes] | None,
        *,
        start: tuple[int, bytes] | None = None,
        limit: int | None = None,
    ) -> Json:
        """Verify the chain (from ``start``; and a recorded head)."""
        return _guard(
            lambda: self._service.audit_verify(self._actor, expected_head, start=start, limit=limit)
        )

    def approvals_list(self, state: str | None, after: int | None, limit: int) -> Json:
        """Requests by number."""
        return _guard(
            lambda: self._service.list_approvals(self._actor, state=state, after=after, limit=limit)
        )

    def approval_show(self, approval_id: int) -> Json:
        """One request."""
        return _guard(lambda: self._service.get_approval(self._actor, approval_id))

    def approval_approve(self, approval_id: int) -> Json:
        """Approve as the local operator (a different name from any requester)."""
        return _guard(lambda: self._service.approve(self._actor, approval_id))

    def approval_reject(self, approval_id: int, reason: str) -> Json:
        """Reject."""
        return _guard(lambda: self._service.reject(self._actor, approval_id, reason))

    def log_info(self) -> Json:
        """The log's origin, public key and witnesses (not-found without a log key)."""
        return _guard(self._service.log_info)

    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint note, None before the first one."""
        try:
            return _guard(self._service.latest_checkpoint)
        except CliError as exc:
            if exc.exit_code == EXIT_NOT_FOUND:
                return None
            raise

    def published_at(self) -> list[str]:
        """The paths on the server's URL (a data directory does not know that URL)."""
        return list(LOG_KEY_PATHS)


# -- local-only commands ---------------------------------------------------------------------


def _write_master_key(path: Path, key: bytes) -> None:
    """Create the master key file with mode 0600, never overwriting (spec §keys-at-rest)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)


def _bootstrap_admin(ctx: Context, settings: Settings) -> dict[str, Any]:
    """Create the first principal (role admin) as the local actor; return its token."""
    service = _guard(lambda: KeyService(settings))
    try:
        actor = _guard(lambda: service.local_actor(ctx.opt("as_") or default_actor_name()))
        if _guard(lambda: service.list_principals(actor))["principals"]:
            raise CliError(
                "the database already has principals",
                hint="use `keyserver principal add` on an initialised server",
                exit_code=EXIT_CONFIG,
            )
        return _guard(lambda: service.add_principal(actor, ctx.args.admin, ["admin"]))
    finally:
        service.close()


def cmd_init(ctx: Context) -> int:
    """``keyserver init``: database, master key (0600), admin principal; prints its token."""
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    if settings.data_dir is not None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = settings.master_key_file if settings.master_key_b64 is None else None
    sqlite = _sqlite_path(settings)
    if (key_file is not None and key_file.exists()) or (sqlite is not None and sqlite.exists()):
        raise CliError(
            f"{settings.data_dir or key_file} is already initialised",
            hint="use `keyserver migrate` to upgrade an existing database",
            exit_code=EXIT_CONFIG,
        )
    created: list[Path] = []
    try:
        if key_file is not None:
            _write_master_key(key_file, settings.rng(MASTER_KEY_BYTES))
            created.append(key_file)
        log_file = settings.log_key_file
        if log_file is not None and not log_file.exists():
            # spec §transparency: the log key is its own file, never derived from the master.
            origin = ctx.opt("log_origin") or default_origin(settings)
            _guard(lambda: create_log_key(log_file, origin))
            created.append(log_file)
        if sqlite is not None:
            created += [
                sqlite,
                Path(f"{sqlite}-wal"),
                Path(f"{sqlite}-shm"),
                sqlite.with_name(sqlite.name + LOCK_SUFFIX),  # keyserver/store/writelock.py
            ]
        _guard(lambda: init_database(settings))
        result = _bootstrap_admin(ctx, settings)
    except BaseException:
        # Nothing half-made stays behind: a rerun of init must work.
        for path in created:
            path.unlink(missing_ok=True)
        raise
    if ctx.out.as_json:
        ctx.out.json({**result, "data_dir": str(settings.data_dir) if settings.data_dir else None})
    else:
        where = settings.data_dir or settings.database_url.split("@")[-1]
        ctx.out.text(f"initialised {where}; admin principal {result['name']!r}")
        ctx.out.secret("admin token", str(result["token"]))
    return EXIT_OK


def cmd_migrate(ctx: Context) -> int:
    """``keyserver migrate``: bring the schema to the newest revision."""
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    sqlite = _sqlite_path(settings)
    if sqlite is not None and not sqlite.is_file():
        raise CliError(
            f"no key-server database at {sqlite}",
            hint="run `keyserver init` to create one",
            exit_code=EXIT_CONFIG,
        )
    _guard(lambda: migrate(settings))
    if ctx.out.as_json:
        ctx.out.json({"migrated": True})
    else:
        ctx.out.text("schema is current")
    return EXIT_OK


def cmd_sweep(ctx: Context) -> int:
    """``keyserver sweep``: destroy what is due now, audited under the acting name."""
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    service = open_service(settings)
    try:
        name = ctx.opt("as_") or default_actor_name()
        _guard(lambda: service.local_actor(name))  # validates the name
        counts = _guard(lambda: service.sweep(actor_name=name))
    finally:
        service.close()
    ctx.out.record(counts, title="sweep")
    return EXIT_OK


def _env_for_workers(ctx: Context, settings_overrides: dict[str, Any]) -> None:
    """Export the resolved settings as ``KEYSERVER_*`` so worker processes rebuild them."""
    os.environ.update(ctx.resolved.settings_env)
    if ctx.resolved.data_dir is not None:
        os.environ["KEYSERVER_DATA_DIR"] = str(ctx.resolved.data_dir)
    for name, value in settings_overrides.items():
        # Durations in the one grammar the workers parse back (keyserver.domain.durations).
        text = format_duration(value) if isinstance(value, timedelta) else str(value)
        os.environ["KEYSERVER_" + name.upper()] = text


def app_factory() -> Any:
    """Build the ASGI app from ``KEYSERVER_*`` (used by uvicorn worker processes)."""
    from keyserver.http.app import create_app  # noqa: PLC0415 - see cmd_serve

    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("KEYSERVER_") and k[10:].lower() in COMMAND_KEYS)
    }
    return create_app(Settings.load(env=env))


def _absorb_signal(_signum: int, _frame: object) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing left to do."""


def cmd_serve(ctx: Context) -> int:
    """``keyserver serve``: uvicorn on HOST:PORT (TLS optional) plus the periodic sweep."""
    overrides = ctx.setting_overrides()
    settings = load_settings(ctx.resolved, overrides)
    command = ctx.resolved.command
    host = str(command.get("host") or "127.0.0.1")
    try:
        port = int(command["port"]) if command.get("port") is not None else 8443
        workers = int(command["workers"]) if command.get("workers") is not None else 1
    except ValueError as exc:
        raise CliError("port and workers must be integers", exit_code=EXIT_USAGE) from exc
    if not 0 <= port <= 65535 or workers < 1:
        raise CliError("port must be 0..65535 and workers >= 1", exit_code=EXIT_USAGE)
    cert, key = command.get("tls_cert"), command.get("tls_key")
    if bool(cert) != bool(key):
        raise CliError("--tls-cert and --tls-key go together", exit_code=EXIT_USAGE)
    for path in (cert, key):
        if path and not Path(str(path)).is_file():
            raise CliError(f"TLS file {path} does not exist", exit_code=EXIT_CONFIG)
    if not cert and host not in ("127.0.0.1", "::1", "localhost"):
        ctx.out.note(
            "warning: serving plain HTTP on a non-loopback address; clients refuse http:// "
            "except to loopback - put a TLS proxy in front or pass --tls-cert/--tls-key"
        )
    # Fail now, with a message, rather than in the first request.
    open_service(settings).close()
    tls: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)} if cert else {}
    # uvicorn stops gracefully on SIGTERM, restores the previous handler and re-raises the
    # signal; with this handler in place the re-raised SIGTERM is absorbed and `serve`
    # exits 0 after a clean stop (a supervisor asked for it, nothing failed).
    signal.signal(signal.SIGTERM, _absorb_signal)
    # Imported here: FastAPI costs a second of start-up that other commands need not pay.
    from keyserver.http.app import create_app  # noqa: PLC0415

    # The periodic sweep runs inside the app (create_app's lifespan, every sweep_interval);
    # with several workers each runs it, which is safe: the sweep locks what it changes.
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            access_log=bool(command.get("access_log")),
            proxy_headers=False,
            **tls,
        )
    else:
        _env_for_workers(ctx, overrides)
        options: dict[str, Any] = {
            "log_level": "info",
            "access_log": bool(command.get("access_log")),
            "proxy_headers": False,
            **tls,
        }
        if not workers_module.supported():
            uvicorn.run(
                "keyserver.cli.local:app_factory",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                **options,
            )
            return EXIT_OK
        # Our own supervisor: one SO_REUSEPORT socket per worker (keyserver/cli/workers.py).
        try:
            code = workers_module.serve_workers(
                "keyserver.cli.local:app_factory",
                host,
                port,
                workers,
                options,
                # uvicorn does not say where it listens on sockets it is given: with
                # --port 0 this line is the only place the chosen port is shown.
                on_ready=lambda bound: ctx.out.note(
                    f"{workers} workers on {'https' if cert else 'http'}://"
                    + workers_module.display_address(host, bound)
                ),
            )
        except workers_module.ListenError as exc:
            raise CliError(str(exc), exit_code=EXIT_FAILURE) from exc
        if code != 0:
            raise CliError("a worker process died; the server stopped", exit_code=EXIT_FAILURE)
    return EXIT_OK
