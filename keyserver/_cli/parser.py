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
from keyserver._cli._argparse import RawDescriptionHelpFormatter, StrictParser
from keyserver._cli.config import SETTING_FLAGS
from keyserver._cli.errors import exit_codes_epilog
from keyserver._cli.output import PROG
from keyserver._domain import lifecycle
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import RESTORE_CAUSES
from pycontainer.cli.strictargs import described, file_name

# Help texts are message ids (N_(...).msgid: a string for argparse), said in the command's
# language when --help prints them (keyserver/_cli/_argparse.py HelpFormatter); an epilog
# is translated a paragraph at a time.
SETTINGS_NOTE = N_(
    "In local mode the server settings (--loss-waiting-period 72h, ...) apply as well; "
    "`keyserver serve --help` lists them."
).msgid
EPILOG_MODES = N_(
    """modes:
  local   --data-dir DIR (or KEYSERVER_DATA_DIR, or --database-url): acts on the database
          directly as --as NAME (default: the built-in operator@<hostname> principal)
  remote  --server URL (or KEYSERVER_SERVER) with the token in KEYSERVER_TOKEN"""
).msgid
EPILOG_CONFIGURATION = N_(
    """configuration: flags > KEYSERVER_* environment > TOML file (--config / KEYSERVER_CONFIG,
and DATA_DIR/keyserver.toml)"""
).msgid
EPILOG = f"{EPILOG_MODES}\n\n{EPILOG_CONFIGURATION}\n\n"

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


_ACT_HELP = {
    "suspend": N_("suspend a container, every container of a medium or of an issuer").msgid,
    "restore": N_("restore a container, every container of a medium or of an issuer").msgid,
    "destroy": N_("destroy a container, every container of a medium or of an issuer").msgid,
}


def _common(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts, before or after the command name."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group(N_("common options").msgid)
    g.add_argument(
        "--json", action="store_true", default=s, help=N_("machine-readable output").msgid
    )
    g.add_argument("--verbose", action="store_true", default=s, help=N_("show tracebacks").msgid)
    g.add_argument(
        "--config",
        type=file_name,
        metavar="FILE",
        default=s,
        help=N_("TOML file (KEYSERVER_CONFIG)").msgid,
    )
    g.add_argument(
        "--data-dir",
        type=file_name,
        metavar="DIR",
        default=s,
        help=N_("local mode data directory").msgid,
    )
    g.add_argument("--server", metavar="URL", default=s, help=N_("remote mode server URL").msgid)
    g.add_argument(
        "--ca-bundle",
        type=file_name,
        metavar="FILE",
        default=s,
        help=N_("PEM file of CA certificates to trust for --server (KEYSERVER_CA_BUNDLE)").msgid,
    )
    g.add_argument(
        "--as", dest="as_", metavar="NAME", default=s, help=N_("local acting principal").msgid
    )
    g.add_argument(
        "--yes", "-y", action="store_true", default=s, help=N_("do not ask to confirm").msgid
    )


def _settings_flags(parser: argparse.ArgumentParser, *, listed: bool = False) -> None:
    """One flag per server setting (README: every setting has a flag of the same name).

    Listed in the help of the commands that run the server or set it up (init, migrate,
    serve, sweep). The management commands accept them too (in local mode they act on the
    data directory with the server's settings) but do not list them: an official reading
    `keyserver suspend --help` needs the fifteen options that concern suspending.
    """
    title = N_("server settings (flags > KEYSERVER_* > TOML; durations like 72h, 30m, 7d)").msgid
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
    target.add_argument(
        "container", nargs="?", help=N_("container id (base64url, 22 characters)").msgid
    )
    target.add_argument("--medium", help=N_("every container on this medium").msgid)
    target.add_argument("--issuer", help=N_("every container issued by this principal").msgid)
    parser.add_argument(
        "--reason", required=True, help=N_("internal reason (audit, officials)").msgid
    )
    parser.add_argument("--public-reason", help=N_("reason shown to refused readers").msgid)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``keyserver`` command."""
    parser = StrictParser(
        prog=PROG,
        description=N_("Set up, run and manage an rwc key server (spec/protocol.md).").msgid,
        epilog=EPILOG + "\n" + exit_codes_epilog(),
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {keyserver.__version__}",
        help=N_("print the version").msgid,
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
        N_(
            "create the database, the master key (0600) and an admin principal; the settings "
            "given are kept in DATA_DIR/keyserver.toml for every later command"
        ).msgid,
    )
    p.add_argument(
        "--admin",
        default="admin",
        metavar="NAME",
        help=N_("the admin principal's name (default admin)").msgid,
    )
    p.add_argument(
        "--log-origin",
        metavar="NAME",
        help=N_(
            "name of the transparency log (default: SERVER_ID/audit), e.g. city.example/rwc"
        ).msgid,
    )
    _settings_flags(p, listed=True)
    p = add("migrate", N_("bring the database schema to the newest version").msgid)
    _settings_flags(p, listed=True)
    p = add("serve", N_("run the HTTP server (and the periodic sweep)").msgid)
    p.add_argument("--host", help=N_("address to bind (default 127.0.0.1)").msgid)
    p.add_argument("--port", type=int, help=N_("port (default 8443)").msgid)
    p.add_argument(
        "--tls-cert", type=file_name, metavar="FILE", help=N_("TLS certificate chain (PEM)").msgid
    )
    p.add_argument(
        "--tls-key", type=file_name, metavar="FILE", help=N_("TLS private key (PEM)").msgid
    )
    p.add_argument("--workers", type=int, help=N_("worker processes (default 1)").msgid)
    p.add_argument(
        "--access-log",
        action="store_true",
        help=N_(
            "log every HTTP request (off by default: the audit log records every key "
            "release and refusal, and a line per request costs throughput)"
        ).msgid,
    )
    _settings_flags(p, listed=True)

    principal = add("principal", N_("manage principals").msgid).add_subparsers(
        dest="sub", metavar="ACTION", parser_class=StrictParser
    )
    principal.required = True
    p = principal.add_parser(
        "add", help=N_("create a principal and print its token once").msgid, epilog=SETTINGS_NOTE
    )
    _common(p)
    p.add_argument("name", help=N_("principal name (e.g. clerk@city.example)").msgid)
    p.add_argument(
        "--role",
        action="append",
        required=True,
        choices=ROLES,
        help=N_("a role (repeatable)").msgid,
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        help=N_("a reader group it belongs to (repeatable)").msgid,
    )
    p.add_argument("--organisation", help=N_("organisation shown to officials").msgid)
    _settings_flags(p)
    p = principal.add_parser("list", help=N_("list principals").msgid, epilog=SETTINGS_NOTE)
    _common(p)
    _settings_flags(p)

    token = add("token", N_("manage tokens").msgid).add_subparsers(
        dest="sub", metavar="ACTION", parser_class=StrictParser
    )
    token.required = True
    p = token.add_parser(
        "list", help=N_("list tokens (never their values)").msgid, epilog=SETTINGS_NOTE
    )
    _common(p)
    _settings_flags(p)
    p = token.add_parser(
        "create", help=N_("issue another token for a principal").msgid, epilog=SETTINGS_NOTE
    )
    _common(p)
    p.add_argument("name", help=N_("the principal the token is for").msgid)
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--expires-at", metavar="RFC3339", help=N_("expiry instant (with offset)").msgid
    )
    when.add_argument(
        "--expires-in", metavar="DURATION", help=N_("expiry from now, e.g. 90d").msgid
    )
    _settings_flags(p)
    p = token.add_parser("revoke", help=N_("revoke a token").msgid, epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("token_id", help=N_("token id as shown by `token list` (never the token)").msgid)
    _settings_flags(p)

    for action in ("suspend", "restore", "destroy"):
        p = add(action, _ACT_HELP[action])
        _target(p)
        if action == "restore":
            p.add_argument(
                "--cause",
                choices=sorted(RESTORE_CAUSES),
                help=N_(
                    "which suspensions to lift (default: loss-report for --medium/--issuer, "
                    "any for one container); the others stay and are listed"
                ).msgid,
            )
        _settings_flags(p)

    p = add(
        "reset-budget",
        N_(
            "reset an active container's count of unconfirmed attempts to 0 (its readers get "
            "their attempts again; asks to confirm)"
        ).msgid,
    )
    p.add_argument("container", help=N_("container id (base64url, 22 characters)").msgid)
    p.add_argument(
        "--reason", required=True, help=N_("internal reason (audit, e.g. who you asked)").msgid
    )
    _settings_flags(p)

    media = add("media", N_("list media (the unit of loss reports) and their containers").msgid)
    media_sub = media.add_subparsers(dest="sub", metavar="ACTION", parser_class=StrictParser)
    media_sub.required = True
    p = media_sub.add_parser("list", help=N_("media with their container counts per state").msgid)
    _common(p)
    paging.add_limit(p)
    p.add_argument("--after", metavar="MEDIUM", help=N_("continue after this medium").msgid)
    _settings_flags(p)
    p = media_sub.add_parser("show", help=N_("one medium with its container counts").msgid)
    _common(p)
    p.add_argument(
        "medium", help=N_("the medium's identifier (a near miss gets suggestions)").msgid
    )
    _settings_flags(p)

    p = add(
        "report-loss", N_("report a medium lost: suspend now, destroy after a waiting period").msgid
    )
    p.add_argument("--medium", required=True, help=N_("the lost medium's identifier").msgid)
    p.add_argument(
        "--lost-at",
        metavar="TIME",
        help=N_(
            "when the medium was lost, with its offset (e.g. 2022-06-21T18:30+09:00; "
            "default: now); the medium report's window starts here"
        ).msgid,
    )
    p.add_argument(
        "--told-at",
        metavar="TIME",
        help=N_(
            "the time you were told, when --lost-at is earlier to count the key releases "
            "just before it; the report shows it beside the time of loss"
        ).msgid,
    )
    p.add_argument("--now", action="store_true", help=N_("destroy at once (asks to confirm)").msgid)
    p.add_argument("--reason", required=True, help=N_("internal reason (audit, officials)").msgid)
    p.add_argument("--public-reason", help=N_("reason shown to refused readers").msgid)
    p.add_argument(
        "--waiting-period", metavar="DURATION", help=N_("e.g. 72h (default: server's)").msgid
    )
    p.add_argument(
        "--replace-earlier",
        action="store_true",
        help=N_(
            "the medium was reported before: use this report's time of loss and deadline "
            "(default: the earliest of both are kept)"
        ).msgid,
    )
    _settings_flags(p)

    p = add(
        "status", N_("show a container's status, or without one the transparency log's key").msgid
    )
    p.add_argument(
        "container",
        nargs="?",
        help=N_("container id (base64url, 22 characters); none: the log").msgid,
    )
    _settings_flags(p)
    p = add("search", N_("search containers").msgid)
    p.add_argument("--label", help=N_("containers with this label").msgid)
    p.add_argument("--medium", help=N_("containers on this medium").msgid)
    p.add_argument("--issuer", help=N_("containers issued by this principal").msgid)
    p.add_argument("--state", choices=STATES, help=N_("containers in this state").msgid)
    paging.add_limit(p)
    p.add_argument(
        "--after", metavar="CONTAINER", help=N_("continue after this container id").msgid
    )
    _settings_flags(p)
    p = add(
        "report", N_("was a medium opened after its loss? (opened / possibly / not opened)").msgid
    )
    p.add_argument("--medium", required=True, help=N_("the medium's identifier").msgid)
    p.add_argument(
        "--since", metavar="TIME", help=N_("window start (default: the time of loss)").msgid
    )
    p.add_argument(
        "--signed",
        choices=("medium-report", "destruction-certificate"),
        help=N_("write a signed, offline-verifiable document instead (see verify-report)").msgid,
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=N_("with --signed: write to a new FILE (-: stdout)").msgid,
    )
    _settings_flags(p)
    p = add("whoami", N_("show the acting principal").msgid)
    _settings_flags(p)

    audit = add("audit", N_("read, export and verify the audit log").msgid).add_subparsers(
        dest="sub", metavar="ACTION", parser_class=StrictParser
    )
    audit.required = True
    p = audit.add_parser("list", help=N_("list audit entries").msgid, epilog=SETTINGS_NOTE)
    _common(p)
    p.add_argument("--container", help=N_("entries about this container id").msgid)
    p.add_argument("--action", help=N_("entries of this action (e.g. evaluate, destroy)").msgid)
    p.add_argument("--actor", help=N_("entries by this principal").msgid)
    p.add_argument(
        "--after-seq", type=int, metavar="SEQ", help=N_("continue after this entry").msgid
    )
    paging.add_limit(p)
    _settings_flags(p)
    p = audit.add_parser(
        "export", help=N_("write the whole chain as JSON Lines").msgid, epilog=SETTINGS_NOTE
    )
    _common(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=N_("write to a new FILE (default, or -: stdout)").msgid,
    )
    _settings_flags(p)
    p = audit.add_parser(
        "verify",
        help=N_("verify the keyed hash chain (exit 1 if broken)").msgid,
        epilog=SETTINGS_NOTE,
    )
    _common(p)
    cli_audit.add_verify_options(p)
    _settings_flags(p)

    p = add(
        "sweep", N_("destroy expired pending, past not_after and past waiting period now").msgid
    )
    _settings_flags(p, listed=True)

    p = add("log-key", N_("show the transparency log's public key (--create: make one)").msgid)
    p.add_argument(
        "--create", action="store_true", help=N_("create the log key if there is none").msgid
    )
    p.add_argument(
        "--origin", metavar="NAME", help=N_("log name for --create (default SERVER_ID/audit)").msgid
    )
    _settings_flags(p, listed=True)
    p = add("checkpoint", N_("sign a transparency-log checkpoint over the audit log now").msgid)
    _settings_flags(p, listed=True)
    cli_witness.add_parser(add)
    cli_approvals.add_parser(add, _common, _settings_flags)
    cli_backup.add_parsers(add, _settings_flags)
    cli_rotate.add_parser(add, _settings_flags)
    cli_verify_report.add_parser(add)
    return described(parser)
