"""The commands run on the key-server host: ``init``, ``migrate``, ``sweep``, ``serve``.

They need the data directory itself (the database and the master key), so they are local
only (keyserver/_cli/commands.py refuses them over ``--server``); ``serve`` also hands the
app factory to uvicorn (``keyserver._cli.host:app_factory``, the one factory that reads
KEYSERVER_* in each worker process).
"""

from __future__ import annotations

import logging.config
import os
import signal
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn

from keyserver._cli import masterkey, serve_one, settings_file
from keyserver._cli import workers as workers_module
from keyserver._cli.config import COMMAND_KEYS, load_settings
from keyserver._cli.context import Context
from keyserver._cli.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from keyserver._cli.files import create_secret
from keyserver._cli.local import default_actor_name, guard, open_service, sqlite_path
from keyserver._cli.output import json_log_config
from keyserver._cli.tlog import create_log_key
from keyserver._domain.durations import format_duration
from keyserver._domain.i18n import N_
from keyserver._domain.logkey import default_origin
from keyserver._domain.settings import CONFIG_FILE_NAME, MASTER_KEY_BYTES, Settings
from keyserver._service import KeyService
from keyserver._service.transparency import PublishedGap
from keyserver._store import init_database, migrate
from keyserver._store.writelock import LOCK_SUFFIX
from pycontainer.client.server_url import is_loopback_host


def write_master_key(path: Path, key: bytes) -> None:
    """Create the master key file (spec §keys-at-rest): :func:`files.create_secret`."""
    create_secret(path, key)


def _bootstrap_admin(ctx: Context, settings: Settings) -> dict[str, Any]:
    """Create the first principal (role admin) as the local actor; return its token."""
    service = guard(lambda: KeyService(settings))
    try:
        actor = guard(lambda: service.local_actor(ctx.opt("as_") or default_actor_name()))
        if guard(lambda: service.list_principals(actor))["principals"]:
            raise CliError(
                N_("the database already has principals"),
                hint=N_("use `keyserver principal add` on an initialised server"),
                exit_code=EXIT_CONFIG,
            )
        return guard(lambda: service.add_principal(actor, ctx.args.admin, ["admin"]))
    finally:
        service.close()


def cmd_init(ctx: Context) -> int:
    """``keyserver init``: database, master key (0600), admin principal; prints its token."""
    given = ctx.setting_overrides()
    settings = load_settings(ctx.resolved, given)
    if settings.data_dir is not None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = settings.master_key_file if settings.master_key_b64 is None else None
    sqlite = sqlite_path(settings)
    if (key_file is not None and key_file.exists()) or (sqlite is not None and sqlite.exists()):
        raise CliError(
            N_("%(path)s is already initialised", path=settings.data_dir or key_file),
            hint=N_("use `keyserver migrate` to upgrade an existing database"),
            exit_code=EXIT_CONFIG,
        )
    created: list[Path] = []
    # Every setting given here holds for every later command (issue 12); without a data
    # directory, what cannot be kept is refused before anything is made.
    # The flags' own text is kept ("72h" stays "72h").
    flag_text = {name: getattr(ctx.args, "set_" + name) for name in given}
    undo_settings = settings_file.keep(settings.data_dir, flag_text)
    try:
        if key_file is not None:
            write_master_key(key_file, settings.rng(MASTER_KEY_BYTES))
            created.append(key_file)
        log_file = settings.log_key_file
        if log_file is not None and not log_file.exists():
            # spec §transparency: the log key is its own file, never derived from the master.
            origin = ctx.opt("log_origin") or default_origin(settings)
            create_log_key(log_file, origin)
            created.append(log_file)
        if sqlite is not None:
            created += [
                sqlite,
                Path(f"{sqlite}-wal"),
                Path(f"{sqlite}-shm"),
                sqlite.with_name(sqlite.name + LOCK_SUFFIX),  # keyserver/_store/writelock.py
            ]
        guard(lambda: masterkey.prepare_hsm(ctx, settings))
        guard(lambda: init_database(settings))
        guard(lambda: masterkey.first_generation(settings))
        result = _bootstrap_admin(ctx, settings)
    except BaseException:
        # Nothing half-made stays behind: a rerun of init must work.
        for path in created:
            path.unlink(missing_ok=True)
        undo_settings()
        raise
    if ctx.out.as_json:
        ctx.out.json({**result, "data_dir": str(settings.data_dir) if settings.data_dir else None})
    else:
        where = settings.data_dir or settings.database_url.split("@")[-1]
        ctx.out.text(
            N_(
                "initialised %(where)s; admin principal %(name)s",
                where=where,
                name=repr(result["name"]),
            )
        )
        if given and settings.data_dir is not None:
            ctx.out.text(
                N_(
                    "settings kept in %(path)s: %(names)s",
                    path=settings.data_dir / CONFIG_FILE_NAME,
                    names=", ".join(given),
                )
            )
        ctx.out.secret("admin token", str(result["token"]))
    return EXIT_OK


def cmd_migrate(ctx: Context) -> int:
    """``keyserver migrate``: bring the schema to the newest revision."""
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    sqlite = sqlite_path(settings)
    if sqlite is not None and not sqlite.is_file():
        raise CliError(
            N_("no key-server database at %(sqlite)s", sqlite=sqlite),
            hint=N_("run `keyserver init` to create one"),
            exit_code=EXIT_CONFIG,
        )
    guard(lambda: migrate(settings))
    if ctx.out.as_json:
        ctx.out.json({"migrated": True})
    else:
        ctx.out.text(N_("schema is current"))
    return EXIT_OK


def cmd_sweep(ctx: Context) -> int:
    """``keyserver sweep``: destroy what is due now, audited under the acting name."""
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    service = open_service(settings)
    try:
        name = ctx.opt("as_") or default_actor_name()
        guard(lambda: service.local_actor(name))  # validates the name
        counts = guard(lambda: service.sweep(actor_name=name))
    finally:
        service.close()
    ctx.out.record(counts, title=N_("sweep"))
    return EXIT_OK


def _env_for_workers(ctx: Context, settings_overrides: dict[str, Any]) -> None:
    """Export the resolved settings as ``KEYSERVER_*`` so worker processes rebuild them."""
    os.environ.update(ctx.resolved.settings_env)
    if ctx.resolved.data_dir is not None:
        os.environ["KEYSERVER_DATA_DIR"] = str(ctx.resolved.data_dir)
    for name, value in settings_overrides.items():
        # Durations in the one grammar the workers parse back (keyserver._domain.durations).
        text = format_duration(value) if isinstance(value, timedelta) else str(value)
        os.environ["KEYSERVER_" + name.upper()] = text


def _worker_settings() -> Settings:
    """The settings a worker (or the host committer) rebuilds from ``KEYSERVER_*``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("KEYSERVER_") and k[10:].lower() in COMMAND_KEYS)
    }
    return Settings.load(env=env)


def app_factory() -> Any:
    """Build the ASGI app from ``KEYSERVER_*`` (used by uvicorn worker processes).

    A worker of ``serve --workers N`` (N > 1, Linux) hands its releases to the host's
    committer (keyserver/_release/hostcommit.py), whose socket the supervisor names in
    ``workers.COMMITTER_ENV``.
    """
    from keyserver._http.app import create_app  # noqa: PLC0415 - see cmd_serve
    from keyserver._release.hostcommit import CommitterClient, timeout_for  # noqa: PLC0415

    settings = _worker_settings()
    app = create_app(settings)
    path = os.environ.get(workers_module.COMMITTER_ENV)
    if path:
        app.state.service.releases.use_committer(CommitterClient(path, timeout_for(settings)))
    return app


def committer_main(listener: Any) -> None:
    """The host committer process of ``serve --workers N`` (keyserver/_cli/workers.py)."""
    from keyserver._domain.metrics import Metrics  # noqa: PLC0415
    from keyserver._release.hostcommit import CommitterServer  # noqa: PLC0415

    if os.environ.get(JSON_LOG_ENV):
        # A spawned committer does not inherit the supervisor's logging (a forked one does).
        logging.config.dictConfig(json_log_config())

    service = KeyService(_worker_settings(), metrics=Metrics())
    server = CommitterServer(listener, service.releases.commit_for_workers)
    service.releases.set_gather(server.gather)
    server.serve_forever()


def _published_gap_error(gap: PublishedGap) -> CliError:
    """The refusal to serve a database older than what was published (spec §backup)."""
    if gap.kind == "behind":
        message = N_(
            "the database is older than what this key server already published: its audit "
            "log ends at entry %(head)s, the published checkpoint has %(size)s entries "
            "(%(path)s); it was copied back without `keyserver restore-backup`, and "
            "containers destroyed since could be released again",
            head=gap.audit_head,
            size=gap.published_size,
            path=str(gap.path),
        )
    elif gap.kind == "other":
        message = N_(
            "the database's audit log is not the one this key server published up to "
            "entry %(size)s (%(path)s): another database, or a changed one",
            size=gap.published_size,
            path=str(gap.path),
        )
    else:
        message = N_(
            "%(path)s does not verify under this server's log key: it cannot tell how far "
            "the published log reached",
            path=str(gap.path),
        )
    return CliError(
        message,
        hint=N_(
            "restore the newest backup with `keyserver restore-backup FILE`, then replay an "
            "audit export taken after it (`keyserver restore-backup --replay EXPORT`); "
            "only if the entries after it are lost for good, remove %(path)s (witnesses "
            "will then see the log fork)",
            path=str(gap.path),
        ),
        exit_code=EXIT_CONFIG,
    )


#: The most ``serve --workers``. Each worker holds one connection to the host release
#: committer, two for a moment while it reconnects, and the committer serves at most
#: keyserver._release.hostcommit.MAX_CONNECTIONS (64) at once, so a 33rd worker could be
#: turned away there at run time; refused here, at once, instead. Not a limit in practice:
#: throughput stops growing at the CPU count (bench/README.md, the chain head).
MAX_WORKERS = 32

#: Set by ``serve --json`` for its worker processes: log lines as JSON (json_log_config).
JSON_LOG_ENV = "RWC_KEYSERVER_JSON_LOG"


def _absorb_signal(_signum: int, _frame: object) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing left to do."""


def _no_password() -> bytes:
    return b""  # never OpenSSL's prompt on the terminal: an encrypted key is refused


def _check_tls(cert: str, key: str) -> None:
    """Load the certificate and key as uvicorn will, before anything starts.

    A file that is not PEM, or a key that is not the certificate's, was ssl's bare "[SSL]
    PEM lib (_ssl.c:3905)" with one worker and a dead worker with several.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except ssl.SSLError as exc:
        # A sentence for each case OpenSSL tells apart, never its own text: without a
        # reason code it was "(PEM lib (_ssl.c:3905))", with one "(KEY_VALUES_MISMATCH)".
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise CliError(
                N_(
                    "the private key %(key)s is not the key of the certificate %(cert)s",
                    cert=cert,
                    key=key,
                ),
                hint=N_(
                    "give with --tls-key the key the certificate was issued for, or with "
                    "--tls-cert that key's certificate"
                ),
                exit_code=EXIT_CONFIG,
            ) from exc
        raise CliError(
            N_(
                "cannot use %(cert)s with %(key)s for TLS: they are not a PEM certificate "
                "and its unencrypted private key",
                cert=cert,
                key=key,
            ),
            hint=N_(
                "give the server's certificate (with its chain) and its private key, "
                "unencrypted, as PEM files"
            ),
            exit_code=EXIT_CONFIG,
        ) from exc
    except OSError as exc:  # not readable by this user
        raise CliError(
            N_("cannot read %(file)s: %(strerror)s", file=exc.filename, strerror=exc.strerror),
            exit_code=EXIT_CONFIG,
        ) from exc


def _listen_error(exc: workers_module.ListenError) -> CliError:
    """One refusal of an address for one worker or several (spec §cli: exit 1)."""
    hint = None
    if isinstance(exc, workers_module.PortInUseError):
        hint = N_("another program (or keyserver) listens there: stop it or choose another --port")
    return CliError(exc.message, hint=hint, exit_code=EXIT_FAILURE)


def _url(tls: bool, host: str, port: int) -> str:
    return f"{'https' if tls else 'http'}://{workers_module.display_address(host, port)}"


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
        raise CliError(N_("port and workers must be integers"), exit_code=EXIT_USAGE) from exc
    if not 0 <= port <= 65535 or not 1 <= workers <= MAX_WORKERS:
        raise CliError(
            N_("port must be 0..65535 and workers 1..%(most)s", most=MAX_WORKERS),
            exit_code=EXIT_USAGE,
        )
    cert, key = command.get("tls_cert"), command.get("tls_key")
    # A flag only (not a setting of TOML or KEYSERVER_*): read from the arguments, which
    # the resolved command keys (config.COMMAND_KEYS) never held, so it did nothing.
    access_log = bool(getattr(ctx.args, "access_log", False))
    if bool(cert) != bool(key):
        raise CliError(N_("--tls-cert and --tls-key go together"), exit_code=EXIT_USAGE)
    for path in (cert, key):
        if path and not Path(str(path)).is_file():
            raise CliError(N_("TLS file %(path)s does not exist", path=path), exit_code=EXIT_CONFIG)
    try:
        # The resolver takes a host name as IDNA: bytes that are not text in this locale
        # (a name typed in another encoding) were an "unexpected UnicodeError" at the bind.
        host.encode("idna")
    except UnicodeError:
        raise CliError(
            N_("--host must be an IP address or a host name"), exit_code=EXIT_USAGE
        ) from None
    if cert and key:
        _check_tls(str(cert), str(key))
    # One policy (spec [F-URL], §conventions): warn exactly where rwc and `keyserver
    # --server` refuse http://, that is for any host but 127.0.0.0/8, ::1 and localhost
    # (0.0.0.0 and :: listen on every interface; ::ffff:127.0.0.1 is not loopback there).
    if not cert and not is_loopback_host(host):
        ctx.out.warn(
            N_(
                "serving plain HTTP on a non-loopback address; clients refuse http:// except "
                "to loopback - put a TLS proxy in front or pass --tls-cert/--tls-key"
            )
        )
    # Fail now, with a message, rather than in the first request.
    service = open_service(settings)
    try:
        gap = guard(service.transparency.published_gap)
    finally:
        service.close()
    if gap is not None:
        raise _published_gap_error(gap)
    tls: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)} if cert else {}
    logs: dict[str, Any] = {}
    if ctx.out.as_json:
        # spec §cli: with --json every line is a JSON object, uvicorn's and the logger's
        # too (this process's now; each worker's through uvicorn's log_config).
        logs["log_config"] = json_log_config()
        logging.config.dictConfig(logs["log_config"])
        os.environ[JSON_LOG_ENV] = "1"
    # uvicorn stops gracefully on SIGTERM, restores the previous handler and re-raises the
    # signal; with this handler in place the re-raised SIGTERM is absorbed and `serve`
    # exits 0 after a clean stop (a supervisor asked for it, nothing failed).
    signal.signal(signal.SIGTERM, _absorb_signal)
    # Imported here: FastAPI costs a second of start-up that other commands need not pay.
    # Also before starting workers: forked workers (keyserver/_cli/workers.py) inherit it.
    from keyserver._http.app import create_app  # noqa: PLC0415

    # The periodic sweep runs inside the app (create_app's lifespan, every sweep_interval);
    # with several workers each runs it, which is safe: the sweep locks what it changes.
    options: dict[str, Any] = {
        "log_level": "info",
        "access_log": access_log,
        "proxy_headers": False,
        **tls,
        **logs,
    }
    if workers == 1:
        # Bound here, as the supervisor binds: a taken port is one refusal (exit 1, the
        # same message) whatever the number of workers (keyserver/_cli/serve_one.py).
        try:
            bound, sock = serve_one.bind(host, port, options)
        except workers_module.ListenError as exc:
            raise _listen_error(exc) from exc
        serve_one.run(create_app(settings), sock, _url(bool(cert), host, bound), options)
    else:
        _env_for_workers(ctx, overrides)
        if not workers_module.supported():
            uvicorn.run(
                "keyserver._cli.host:app_factory",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                **options,
            )
            return EXIT_OK
        # Our own supervisor: it accepts and hands connections to the workers in turn
        # (keyserver/_cli/workers.py, serve_handoff.py).
        try:
            code = workers_module.serve_workers(
                "keyserver._cli.host:app_factory",
                host,
                port,
                workers,
                options,
                committer="keyserver._cli.host:committer_main" if settings.host_committer else None,
                # uvicorn does not say where it listens on sockets it is given: with
                # --port 0 this line is the only place the chosen port is shown.
                on_ready=lambda bound: ctx.out.note(
                    N_(
                        "%(workers)s workers on %(url)s",
                        workers=workers,
                        url=_url(bool(cert), host, bound),
                    ),
                    url=_url(bool(cert), host, bound),
                    workers=workers,
                ),
                on_spawn=lambda threads: ctx.out.warn(
                    N_(
                        "other threads run in the server process (%(threads)s), so "
                        "its workers start the slow way (each imports everything again, about "
                        "a second of CPU more); please report this",
                        threads=", ".join(threads),
                    )
                ),
            )
        except workers_module.ListenError as exc:
            raise _listen_error(exc) from exc
        if code != 0:
            raise CliError(N_("a worker process died; the server stopped"), exit_code=EXIT_FAILURE)
    return EXIT_OK
