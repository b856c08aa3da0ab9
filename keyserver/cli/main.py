"""The ``keyserver`` command: set up, run and manage an rwc key server.

Two modes (spec/protocol.md §cli):

- **local** (``--data-dir DIR`` / ``KEYSERVER_DATA_DIR``, or ``--database-url``): the command
  opens the database and the master key itself and calls the service layer as a *local
  operator* named ``--as NAME``, by default ``operator@<hostname>``. The operator needs no
  principal row and no token, and role checks are skipped (whoever can read the data
  directory holds the database and the master key, so has every power anyway), but every
  action is audited under that name with ``remote = "local"``, and a local operator can
  never evaluate a container.
- **remote** (``--server URL``, token in ``KEYSERVER_TOKEN``): the HTTP protocol.

Both write the same audit entries, naming the acting principal. ``init``, ``migrate``,
``serve`` and ``sweep`` are local only. Configuration: flags > ``KEYSERVER_*`` > TOML file
(``--config`` / ``KEYSERVER_CONFIG``, and ``DATA_DIR/keyserver.toml``).

Output: tables for people, ``--json`` for scripts; errors as ``keyserver: error: ...`` and
``keyserver: hint: ...`` on stderr, a traceback only with ``--verbose``. Exit codes: see
:mod:`keyserver.cli.errors` and ``keyserver --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib.metadata
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from keyserver.cli import approvals as cli_approvals
from keyserver.cli import audit as cli_audit
from keyserver.cli import backup as cli_backup
from keyserver.cli import incident, server_status
from keyserver.cli import verify_report as cli_verify_report
from keyserver.cli import witness as cli_witness
from keyserver.cli.backend import Backend
from keyserver.cli.config import (
    SETTING_FLAGS,
    Resolved,
    load_settings,
    parse_duration,
    resolve,
)
from keyserver.cli.context import Context
from keyserver.cli.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    exit_codes_epilog,
)
from keyserver.cli.output import PROG, Output
from keyserver.domain.lifecycle import RESTORE_CAUSES
from keyserver.domain.settings import ConfigError, display_zone
from pycontainer.cli.texts import language

SETTINGS_NOTE = (
    "In local mode the server settings (--loss-waiting-period 72h, ...) apply as well; "
    "`keyserver serve --help` lists them."
)
EPILOG = """\
modes:
  local   --data-dir DIR (or KEYSERVER_DATA_DIR, or --database-url): acts on the database
          directly as --as NAME (default: the built-in operator@<hostname> principal)
  remote  --server URL (or KEYSERVER_SERVER) with the token in KEYSERVER_TOKEN

configuration: flags > KEYSERVER_* environment > TOML file (--config / KEYSERVER_CONFIG,
and DATA_DIR/keyserver.toml)

"""

LOCAL_ONLY_COMMANDS = (
    "init",
    "migrate",
    "serve",
    "sweep",
    "log-key",
    "checkpoint",
    "backup",
    "restore-backup",
)
ROLES = ("admin", "writer", "reader", "official", "auditor")
STATES = ("pending", "active", "suspended", "destroyed")
STATUS_COLUMNS = ("container_id", "label", "medium", "issuer", "state", "created_at", "not_after")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns stderr and the exit code.

    No abbreviations: ``--now`` must never be reached by typing ``--n``, and a later option
    of the same prefix would change what an old script means. An unknown option names the
    nearest real one and the subcommand's help (as `rwc` does).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    _seen: list[str] = []  # noqa: RUF012 - per instance, set by parse_known_args

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._seen = list(args or [])
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:
        # A mistyped option also leaves a required one missing (`--reson` for `--reason`):
        # name the typo, which is what the user has to fix.
        typos = _unknown_options(self, self._seen)
        if typos and message.startswith("the following arguments are required"):
            message, hint = _unknown_message(self, typos)
            raise CliError(message, hint=hint, exit_code=EXIT_USAGE)
        raise CliError(message, hint=f"see `{self.prog} --help`", exit_code=EXIT_USAGE)

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            message, hint = _unknown_message(_chosen_parser(self, parsed), extras)
            raise CliError(message, hint=hint, exit_code=EXIT_USAGE)
        return parsed


def _chosen_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Any:
    """The (sub)command parser that ``ns`` went through (or ``parser`` itself)."""
    for action in parser._actions:  # argparse has no public walker
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(ns, action.dest or "", None) or "")
            if chosen is not None:
                return _chosen_parser(chosen, ns)
    return parser


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The ``--options`` in ``argv`` that ``parser`` does not know."""
    known = parser._option_string_actions  # argparse has no public accessor
    names = [a.split("=", 1)[0] for a in argv if a.startswith("--") and a != "--"]
    return [n for n in names if n not in known]


def _unknown_message(parser: argparse.ArgumentParser, extras: list[str]) -> tuple[str, str]:
    """(message, hint) for arguments ``parser`` does not know: the nearest option, its help."""
    see = f"see `{parser.prog} --help`"
    unknown = [x for x in extras if x.startswith("-") and x != "-"]
    if not unknown:
        return f"unexpected argument(s): {' '.join(extras)}", see
    name = unknown[0].split("=", 1)[0]
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    near = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"unknown option {name}", (f"did you mean {near[0]}? {see}" if near else see)


def version() -> str:
    """The installed version (the `keyserver` and `rwc` commands come from one distribution)."""
    try:
        return importlib.metadata.version("rwc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _common(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts, before or after the command name."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group("common options")
    g.add_argument("--json", action="store_true", default=s, help="machine-readable output")
    g.add_argument("--verbose", action="store_true", default=s, help="show tracebacks")
    g.add_argument("--config", metavar="FILE", default=s, help="TOML file (KEYSERVER_CONFIG)")
    g.add_argument("--data-dir", metavar="DIR", default=s, help="local mode data directory")
    g.add_argument("--server", metavar="URL", default=s, help="remote mode server URL")
    g.add_argument(
        "--ca-bundle",
        metavar="FILE",
        default=s,
        help="PEM file of CA certificates to trust for --server (KEYSERVER_CA_BUNDLE)",
    )
    g.add_argument("--as", dest="as_", metavar="NAME", default=s, help="local acting principal")
    g.add_argument("--yes", "-y", action="store_true", default=s, help="do not ask to confirm")


def _settings_flags(parser: argparse.ArgumentParser, *, listed: bool = False) -> None:
    """One flag per server setting (README: every setting has a flag of the same name).

    Listed in the help of the commands that run the server or set it up (init, migrate,
    serve, sweep). The management commands accept them too (in local mode they act on the
    data directory with the server's settings) but do not list them: an official reading
    `keyserver suspend --help` needs the fifteen options that concern suspending.
    """
    title = "server settings (flags > KEYSERVER_* > TOML; durations like 72h, 30m, 7d)"
    g = parser.add_argument_group(title) if listed else parser
    for name, help_text in SETTING_FLAGS:
        g.add_argument(
            "--" + name.replace("_", "-"),
            dest="set_" + name,
            metavar="VALUE",
            help=help_text if listed else argparse.SUPPRESS,
        )


def _target(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("container", nargs="?", help="container id (base64url, 22 characters)")
    target.add_argument("--medium", help="every container on this medium")
    target.add_argument("--issuer", help="every container issued by this principal")
    parser.add_argument("--reason", required=True, help="internal reason (audit, officials)")
    parser.add_argument("--public-reason", help="reason shown to refused readers")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``keyserver`` command."""
    parser = _Parser(
        prog=PROG,
        description="Set up, run and manage an rwc key server (spec/protocol.md).",
        epilog=EPILOG + "\n" + exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        epilog = None if name in LOCAL_ONLY_COMMANDS else SETTINGS_NOTE
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        _common(p)
        return p

    p = add("init", "create the database, the master key (0600) and an admin principal")
    p.add_argument("--admin", default="admin", metavar="NAME", help="admin principal name")
    p.add_argument(
        "--log-origin",
        metavar="NAME",
        help="name of the transparency log (default: SERVER_ID/audit), e.g. city.example/rwc",
    )
    _settings_flags(p, listed=True)
    p = add("migrate", "bring the database schema to the newest version")
    _settings_flags(p, listed=True)
    p = add("serve", "run the HTTP server (and the periodic sweep)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8443)")
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every HTTP request (off by default: the audit log records every key "
        "release and refusal, and a line per request costs throughput)",
    )
    _settings_flags(p, listed=True)

    principal = add("principal", "manage principals").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=_Parser
    )
    principal.required = True
    p = principal.add_parser(
        "add", help="create a principal and print its token once", epilog=SETTINGS_NOTE
    )
    _common(p)
    p.add_argument("name", help="principal name (e.g. clerk@city.example)")
    p.add_argument(
        "--role", action="append", required=True, choices=ROLES, help="a role (repeatable)"
    )
    p.add_argument(
        "--group", action="append", default=[], help="a reader group it belongs to (repeatable)"
    )
    p.add_argument("--organisation", help="organisation shown to officials")
    _settings_flags(p)
    p = principal.add_parser("list", help="list principals", epilog=SETTINGS_NOTE)
    _common(p)
    _settings_flags(p)

    token = add("token", "manage tokens").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=_Parser
    )
    token.required = True
    p = token.add_parser("list", help="list tokens (never their values)", epilog=SETTINGS_NOTE)
    _common(p)
    _settings_flags(p)
    p = token.add_parser("create", help="issue another token for a principal", epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("name", help="the principal the token is for")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--expires-at", metavar="RFC3339", help="expiry instant (with offset)")
    when.add_argument("--expires-in", metavar="DURATION", help="expiry from now, e.g. 90d")
    _settings_flags(p)
    p = token.add_parser("revoke", help="revoke a token", epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("token_id", help="token id as shown by `token list` (never the token)")
    _settings_flags(p)

    for action in ("suspend", "restore", "destroy"):
        p = add(action, f"{action} a container, every container of a medium or of an issuer")
        _target(p)
        if action == "restore":
            p.add_argument(
                "--cause",
                choices=sorted(RESTORE_CAUSES),
                help="which suspensions to lift (default: loss-report for --medium/--issuer, "
                "any for one container); the others stay and are listed",
            )
        _settings_flags(p)

    media = add("media", "list media (the unit of loss reports) and their containers")
    media_sub = media.add_subparsers(dest="sub", metavar="ACTION", parser_class=_Parser)
    media_sub.required = True
    p = media_sub.add_parser("list", help="media with their container counts per state")
    _common(p)
    p.add_argument("--limit", type=int, default=100, help="page size, 1..1000 (default 100)")
    p.add_argument("--after", metavar="MEDIUM", help="continue after this medium")
    _settings_flags(p)
    p = media_sub.add_parser("show", help="one medium with its container counts")
    _common(p)
    p.add_argument("medium", help="the medium's identifier (a near miss gets suggestions)")
    _settings_flags(p)

    p = add("report-loss", "report a medium lost: suspend now, destroy after a waiting period")
    p.add_argument("--medium", required=True, help="the lost medium's identifier")
    p.add_argument(
        "--lost-at",
        metavar="TIME",
        help="when the medium was lost, with its offset (e.g. 2022-06-21T18:30+09:00; "
        "default: now); the medium report's window starts here",
    )
    p.add_argument("--now", action="store_true", help="destroy at once (asks to confirm)")
    p.add_argument("--reason", required=True, help="internal reason (audit, officials)")
    p.add_argument("--public-reason", help="reason shown to refused readers")
    p.add_argument("--waiting-period", metavar="DURATION", help="e.g. 72h (default: server's)")
    p.add_argument(
        "--replace-earlier",
        action="store_true",
        help="the medium was reported before: use this report's time of loss and deadline "
        "(default: the earliest of both are kept)",
    )
    _settings_flags(p)

    p = add("status", "show a container's status, or without one the transparency log's key")
    p.add_argument(
        "container", nargs="?", help="container id (base64url, 22 characters); none: the log"
    )
    _settings_flags(p)
    p = add("search", "search containers")
    p.add_argument("--label", help="containers with this label")
    p.add_argument("--medium", help="containers on this medium")
    p.add_argument("--issuer", help="containers issued by this principal")
    p.add_argument("--state", choices=STATES, help="containers in this state")
    p.add_argument("--limit", type=int, default=100, help="page size, 1..1000 (default 100)")
    p.add_argument("--after", metavar="CONTAINER", help="continue after this container id")
    _settings_flags(p)
    p = add("report", "was a medium opened after its loss? (opened / possibly / not opened)")
    p.add_argument("--medium", required=True, help="the medium's identifier")
    p.add_argument("--since", metavar="TIME", help="window start (default: the time of loss)")
    p.add_argument(
        "--signed",
        choices=("medium-report", "destruction-certificate"),
        help="write a signed, offline-verifiable document instead (see verify-report)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="with --signed: write to FILE")
    _settings_flags(p)
    p = add("whoami", "show the acting principal")
    _settings_flags(p)

    audit = add("audit", "read, export and verify the audit log").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=_Parser
    )
    audit.required = True
    p = audit.add_parser("list", help="list audit entries", epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("--container", help="entries about this container id")
    p.add_argument("--action", help="entries of this action (e.g. evaluate, destroy)")
    p.add_argument("--actor", help="entries by this principal")
    p.add_argument("--after-seq", type=int, metavar="SEQ", help="continue after this entry")
    p.add_argument("--limit", type=int, default=100, help="page size, 1..1000 (default 100)")
    _settings_flags(p)
    p = audit.add_parser("export", help="write the whole chain as JSON Lines", epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write to a new FILE (default, or -: stdout)"
    )
    _settings_flags(p)
    p = audit.add_parser(
        "verify", help="verify the keyed hash chain (exit 1 if broken)", epilog=SETTINGS_NOTE
    )
    _common(p)
    cli_audit.add_verify_options(p)
    _settings_flags(p)

    p = add("sweep", "destroy expired pending, past not_after and past waiting period now")
    _settings_flags(p, listed=True)

    p = add("log-key", "show the transparency log's public key (--create: make one)")
    p.add_argument("--create", action="store_true", help="create the log key if there is none")
    p.add_argument(
        "--origin", metavar="NAME", help="log name for --create (default SERVER_ID/audit)"
    )
    _settings_flags(p, listed=True)
    p = add("checkpoint", "sign a transparency-log checkpoint over the audit log now")
    _settings_flags(p, listed=True)
    cli_witness.add_parser(add)
    cli_approvals.add_parser(add, _common, _settings_flags)
    cli_backup.add_parsers(add, _settings_flags)
    cli_verify_report.add_parser(add)
    return parser


_ID_LIKE = re.compile(r"-[A-Za-z0-9_-]{21}")


def _option_strings(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every option string of the parser tree -> whether it takes a value."""
    found: dict[str, bool] = {}
    for action in parser._actions:  # argparse has no public walker
        for option in action.option_strings:
            found[option] = action.nargs != 0
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(_option_strings(sub))
    return found


def protect_ids(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Let container ids that start with ``-`` through argparse.

    A base64url container id starts with ``-`` one time in 64; argparse would take it for
    an option. Such a token (22 id characters, not an option of ours) becomes
    ``--option=ID`` after an option that takes a value, else a positional after ``--``.
    """
    if "--" in argv:
        return argv
    options = _option_strings(parser)
    out: list[str] = []
    tail: list[str] = []
    for token in argv:
        if not _ID_LIKE.fullmatch(token) or token in options:
            out.append(token)
        elif out and options.get(out[-1]) and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            tail.append(token)
    return [*out, "--", *tail] if tail else out


# -- backends -------------------------------------------------------------------------------


def open_backend(ctx: Context) -> Backend:
    """Open the local or remote backend for this invocation."""
    if ctx.remote:
        # Remote mode does not load the database layer (fast start, fewer deps).
        from keyserver.cli.remote import RemoteBackend, check_server_url  # noqa: PLC0415

        url = check_server_url(str(ctx.resolved.command["server"]))
        if not ctx.resolved.token:
            raise CliError(
                "no token for remote mode",
                hint="export KEYSERVER_TOKEN=rwc_... (tokens are never passed as flags)",
                exit_code=EXIT_CONFIG,
            )
        ca = ctx.resolved.command.get("ca_bundle")
        return RemoteBackend(url, ctx.resolved.token, ca_bundle=str(ca) if ca else None)
    from keyserver.cli.local import LocalBackend  # noqa: PLC0415 - see above

    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    # Audit commands only read; `audit verify` must report a chain that a wrong key
    # cannot verify instead of refusing to start.
    return LocalBackend.open(
        settings,
        acting=ctx.resolved.command.get("as"),
        check_key=ctx.args.command != "audit",
    )


# -- handlers --------------------------------------------------------------------------------


def _with_backend(ctx: Context, fn: Callable[[Backend], int]) -> int:
    backend = open_backend(ctx)
    try:
        return fn(backend)
    finally:
        backend.close()


def cmd_principal(ctx: Context) -> int:
    """``principal add|list``."""
    a = ctx.args

    def run(b: Backend) -> int:
        if a.sub == "add":
            result = b.principal_add(a.name, sorted(set(a.role)), a.group, a.organisation)
            if cli_approvals.print_requested(ctx, result):
                return EXIT_OK
            if ctx.out.as_json:
                ctx.out.json(result)
            else:
                ctx.out.text(f"principal {result['name']} created (token id {result['token_id']})")
                ctx.out.secret("token", str(result["token"]))
            return EXIT_OK
        columns = ("name", "roles", "groups", "organisation", "created_at")
        ctx.out.rows(b.principal_list(), columns, title="principals")
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_token(ctx: Context) -> int:
    """``token list|create|revoke``."""
    a = ctx.args

    def run(b: Backend) -> int:
        if a.sub == "list":
            columns = ("token_id", "name", "created_at", "expires_at", "revoked_at")
            ctx.out.rows(b.token_list(), columns, title="tokens")
        elif a.sub == "create":
            expires_at = a.expires_at
            if a.expires_in:
                expires_at = (
                    datetime.now(UTC) + parse_duration(a.expires_in, flag="--expires-in")
                ).isoformat()
            result = b.token_create(a.name, expires_at)
            if cli_approvals.print_requested(ctx, result):
                return EXIT_OK
            if ctx.out.as_json:
                ctx.out.json(result)
            else:
                ctx.out.text(f"token {result['token_id']} issued for {result['name']}")
                ctx.out.secret("token", str(result["token"]))
        else:
            ctx.out.record(b.token_revoke(a.token_id), title="revoked")
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_search(ctx: Context) -> int:
    """``search [--label] [--medium] [--issuer] [--state]``."""
    a = ctx.args
    if not 1 <= a.limit <= 1000:
        raise CliError("--limit must be between 1 and 1000", exit_code=EXIT_USAGE)
    filters = {
        k: v
        for k, v in (
            ("label", a.label),
            ("medium", a.medium),
            ("issuer", a.issuer),
            ("state", a.state),
        )
        if v is not None
    }

    def run(b: Backend) -> int:
        page = b.search(filters, a.limit, a.after)
        if ctx.out.as_json:
            ctx.out.json(page)
        else:
            ctx.out.rows(page.get("containers", []), STATUS_COLUMNS, title="containers")
            if page.get("next"):
                ctx.out.note(f"more: --after {page['next']}")
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_report(ctx: Context) -> int:
    """``report --medium M [--since T] [--signed KIND [-o FILE]]``."""

    def run(b: Backend) -> int:
        if ctx.args.signed:
            return _signed_report(ctx, b)
        # The three-way report for people and scripts (keyserver/cli/incident.py).
        return incident.cmd_report(ctx, b)

    return _with_backend(ctx, run)


def _signed_report(ctx: Context, b: Backend) -> int:
    """``report --medium M --signed KIND [-o FILE]``: the document, never overwriting."""
    doc = b.signed_report(ctx.args.signed, ctx.args.medium)
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if not ctx.args.output:
        ctx.out.text(text.rstrip("\n"))
        return EXIT_OK
    try:
        with Path(ctx.args.output).open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError as exc:
        raise CliError(
            f"{ctx.args.output} exists already; it is kept", exit_code=EXIT_USAGE
        ) from exc
    ctx.out.note(f"wrote the signed {ctx.args.signed} to {ctx.args.output}")
    return EXIT_OK


def cmd_whoami(ctx: Context) -> int:
    """``whoami``."""

    def run(b: Backend) -> int:
        ctx.out.record(b.whoami(), title="principal")
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_local_only(ctx: Context) -> int:
    """``init``, ``migrate``, ``serve``, ``sweep``: need the database itself."""
    if ctx.resolved.server_from_flag:
        raise CliError(
            f"`{ctx.args.command}` works only on a data directory, not over --server",
            hint="run it on the key-server host with --data-dir DIR",
            exit_code=EXIT_USAGE,
        )
    from keyserver.cli import local as cli_local  # noqa: PLC0415 - local mode only

    handler: Callable[[Context], int] = getattr(cli_local, "cmd_" + ctx.args.command)
    return handler(ctx)


def _backed(handler: Callable[[Context, Backend], int]) -> Callable[[Context], int]:
    """A handler that gets the opened backend (keyserver/cli/incident.py)."""
    return lambda ctx: _with_backend(ctx, lambda b: handler(ctx, b))


def _zone(args: argparse.Namespace, resolved: Resolved) -> tzinfo:
    """The display zone: --display-timezone > KEYSERVER_DISPLAY_TIMEZONE > TOML > local."""
    name = getattr(args, "set_display_timezone", None) or resolved.settings_env.get(
        "KEYSERVER_DISPLAY_TIMEZONE", ""
    )
    try:
        return display_zone(name)
    except ConfigError as exc:
        raise CliError(str(exc), exit_code=EXIT_CONFIG) from exc


def cmd_tlog(ctx: Context) -> int:
    """``log-key``, ``checkpoint``: the transparency log on the data directory."""
    from keyserver.cli import tlog as cli_tlog  # noqa: PLC0415 - local mode only

    handler: Callable[[Context], int] = getattr(
        cli_tlog, "cmd_" + ctx.args.command.replace("-", "_")
    )
    return handler(ctx)


HANDLERS: Mapping[str, Callable[[Context], int]] = {
    "principal": cmd_principal,
    "token": cmd_token,
    "suspend": _backed(incident.cmd_act),
    "restore": _backed(incident.cmd_act),
    "destroy": _backed(incident.cmd_act),
    "report-loss": _backed(incident.cmd_report_loss),
    "media": _backed(incident.cmd_media),
    "status": _backed(server_status.cmd_status),
    "search": cmd_search,
    "report": cmd_report,
    "whoami": cmd_whoami,
    "audit": _backed(cli_audit.cmd_audit),
    "init": cmd_local_only,
    "migrate": cmd_local_only,
    "serve": cmd_local_only,
    "sweep": cmd_local_only,
    "log-key": cmd_tlog,
    "checkpoint": cmd_tlog,
    "approvals": _backed(cli_approvals.cmd_approvals),
    "witness": cli_witness.cmd_witness,
    "verify-report": cli_verify_report.cmd_verify_report,
    "backup": cli_backup.cmd_backup,
    "restore-backup": cli_backup.cmd_restore_backup,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run the ``keyserver`` command.

    Args:
        argv: Arguments without the program name (default ``sys.argv[1:]``).
        stdin: Input for confirmations (default ``sys.stdin``).
        stdout: Result stream (default ``sys.stdout``).
        stderr: Error stream (default ``sys.stderr``).
        env: Environment (default ``os.environ``).

    Returns:
        The exit code (see ``keyserver --help``: keyserver.cli.errors.EXIT_CODE_TABLE).
    """
    code = _main(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env)
    if stdout is None:
        try:
            sys.stdout.flush()  # here, not at interpreter exit, where EPIPE would be noisy
        except BrokenPipeError:
            _silence_stdout(sys.stdout)
            return EXIT_OK
    return code


def _main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """:func:`main` (same arguments and exit code) without the closed-pipe handling."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    env = os.environ if env is None else env
    verbose = "--verbose" in argv
    out = Output(stdout, stderr, as_json="--json" in argv)
    try:
        try:
            parser = build_parser()
            with contextlib.redirect_stdout(stdout):  # --help and --version go to our stdout
                args = parser.parse_args(protect_ids(argv, parser))
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        out = Output(stdout, stderr, as_json=bool(getattr(args, "json", False)))
        flags = {
            "config": getattr(args, "config", None),
            "data_dir": getattr(args, "data_dir", None),
            "server": getattr(args, "server", None),
            "ca_bundle": getattr(args, "ca_bundle", None),
            "as": getattr(args, "as_", None),
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "workers": getattr(args, "workers", None),
            "tls_cert": getattr(args, "tls_cert", None),
            "tls_key": getattr(args, "tls_key", None),
        }
        resolved = resolve(flags, env)
        out = Output(
            stdout,
            stderr,
            as_json=bool(getattr(args, "json", False)),
            zone=_zone(args, resolved),
            lang=language(env, "KEYSERVER_LANG"),  # one rule for both commands
        )
        ctx = Context(args, out, resolved, stdin)
        return HANDLERS[args.command](ctx)
    except BrokenPipeError:
        # The reader of stdout went away (`keyserver audit export | head`): it has what it
        # wanted, so end quietly and successfully, as other Unix tools do.
        _silence_stdout(stdout)
        return EXIT_OK
    except CliError as exc:
        if verbose:
            traceback.print_exc(file=stderr)
        out.error(exc.shown_message, exc.shown_hint, exit_code=exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted", exit_code=EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a bare traceback
        if verbose:
            traceback.print_exc(file=stderr)
        out.error(
            f"unexpected {type(exc).__name__}",
            hint="run again with --verbose for the traceback, and report it",
            exit_code=EXIT_FAILURE,
        )
        return EXIT_FAILURE


def _silence_stdout(stdout: TextIO) -> None:
    """Point a closed stdout at /dev/null so the interpreter's last flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)


__all__ = ["EXIT_CONFIG", "build_parser", "main"]
