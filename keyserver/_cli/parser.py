"""The ``keyserver`` command's argument parser: every subcommand, option and help line.

Command modules with a parser of their own (witness, verify-report) register it through
their ``add_parser(add)``; the handlers live in :mod:`keyserver._cli.commands`.
"""

from __future__ import annotations

import argparse

import keyserver
from keyserver._cli import approvals as cli_approvals
from keyserver._cli import audit as cli_audit
from keyserver._cli import backup as cli_backup
from keyserver._cli import paging
from keyserver._cli import rotate as cli_rotate
from keyserver._cli import verify_report as cli_verify_report
from keyserver._cli import witness as cli_witness
from keyserver._cli._argparse import StrictParser
from keyserver._cli.config import SETTING_FLAGS
from keyserver._cli.errors import exit_codes_epilog
from keyserver._cli.output import PROG
from keyserver._domain import lifecycle
from keyserver._domain.lifecycle import RESTORE_CAUSES
from pycontainer.cli.strictargs import described, file_name

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
    "rotate-master-key",
)
# The domain's roles and states, not copies of them (issue 9): a role or state added there
# is a choice here. Roles in the order the console and the service's refusals list them.
ROLES = tuple(sorted(lifecycle.ROLES))
STATES = tuple(state.value for state in lifecycle.State)


def _common(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts, before or after the command name."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group("common options")
    g.add_argument("--json", action="store_true", default=s, help="machine-readable output")
    g.add_argument("--verbose", action="store_true", default=s, help="show tracebacks")
    g.add_argument(
        "--config", type=file_name, metavar="FILE", default=s, help="TOML file (KEYSERVER_CONFIG)"
    )
    g.add_argument(
        "--data-dir", type=file_name, metavar="DIR", default=s, help="local mode data directory"
    )
    g.add_argument("--server", metavar="URL", default=s, help="remote mode server URL")
    g.add_argument(
        "--ca-bundle",
        type=file_name,
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
    parser = StrictParser(
        prog=PROG,
        description="Set up, run and manage an rwc key server (spec/protocol.md).",
        epilog=EPILOG + "\n" + exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {keyserver.__version__}",
        help="print the version",
    )
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=StrictParser)
    sub.required = True

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        epilog = None if name in LOCAL_ONLY_COMMANDS else SETTINGS_NOTE
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        _common(p)
        return p

    p = add(
        "init",
        "create the database, the master key (0600) and an admin principal; the settings "
        "given are kept in DATA_DIR/keyserver.toml for every later command",
    )
    p.add_argument(
        "--admin",
        default="admin",
        metavar="NAME",
        help="the admin principal's name (default admin)",
    )
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
    p.add_argument("--tls-cert", type=file_name, metavar="FILE", help="TLS certificate chain (PEM)")
    p.add_argument("--tls-key", type=file_name, metavar="FILE", help="TLS private key (PEM)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every HTTP request (off by default: the audit log records every key "
        "release and refusal, and a line per request costs throughput)",
    )
    _settings_flags(p, listed=True)

    principal = add("principal", "manage principals").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=StrictParser
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
        dest="sub", metavar="ACTION", parser_class=StrictParser
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

    p = add(
        "reset-budget",
        "reset an active container's count of unconfirmed attempts to 0 (its readers get "
        "their attempts again; asks to confirm)",
    )
    p.add_argument("container", help="container id (base64url, 22 characters)")
    p.add_argument("--reason", required=True, help="internal reason (audit, e.g. who you asked)")
    _settings_flags(p)

    media = add("media", "list media (the unit of loss reports) and their containers")
    media_sub = media.add_subparsers(dest="sub", metavar="ACTION", parser_class=StrictParser)
    media_sub.required = True
    p = media_sub.add_parser("list", help="media with their container counts per state")
    _common(p)
    paging.add_limit(p)
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
    p.add_argument(
        "--told-at",
        metavar="TIME",
        help="the time you were told, when --lost-at is earlier to count the key releases "
        "just before it; the report shows it beside the time of loss",
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
    paging.add_limit(p)
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
    p.add_argument(
        "-o", "--output", metavar="FILE", help="with --signed: write to a new FILE (-: stdout)"
    )
    _settings_flags(p)
    p = add("whoami", "show the acting principal")
    _settings_flags(p)

    audit = add("audit", "read, export and verify the audit log").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=StrictParser
    )
    audit.required = True
    p = audit.add_parser("list", help="list audit entries", epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("--container", help="entries about this container id")
    p.add_argument("--action", help="entries of this action (e.g. evaluate, destroy)")
    p.add_argument("--actor", help="entries by this principal")
    p.add_argument("--after-seq", type=int, metavar="SEQ", help="continue after this entry")
    paging.add_limit(p)
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
    cli_rotate.add_parser(add, _settings_flags)
    cli_verify_report.add_parser(add)
    return described(parser)
