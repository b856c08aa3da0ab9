"""Handlers of the ``keyserver`` subcommands: one ``cmd_*`` per command, looked up in HANDLERS.

Each opens the local or remote backend (:func:`open_backend`), calls it and prints through
``ctx.out``; the incident commands live in :mod:`keyserver._cli.incident`, the local-only
ones in :mod:`keyserver._cli.local` and :mod:`keyserver._cli.tlog`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from keyserver._cli import approvals as cli_approvals
from keyserver._cli import audit as cli_audit
from keyserver._cli import backup as cli_backup
from keyserver._cli import incident, medium_report, paging, server_status
from keyserver._cli import rotate as cli_rotate
from keyserver._cli import verify_report as cli_verify_report
from keyserver._cli import witness as cli_witness
from keyserver._cli.backend import Backend, Json
from keyserver._cli.config import load_settings, parse_duration
from keyserver._cli.context import Context
from keyserver._cli.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, CliError
from keyserver._cli.files import written_text
from keyserver._domain.i18n import N_, Message

STATUS_COLUMNS = ("container_id", "label", "medium", "issuer", "state", "created_at", "not_after")


# -- backends -------------------------------------------------------------------------------


def open_backend(ctx: Context) -> Backend:
    """Open the local or remote backend for this invocation."""
    if ctx.remote:
        # Remote mode does not load the database layer (fast start, fewer deps).
        from keyserver._cli.remote import RemoteBackend, check_server_url  # noqa: PLC0415

        url = check_server_url(str(ctx.resolved.command["server"]))
        if not ctx.resolved.token:
            raise CliError(
                N_("no token for remote mode"),
                hint=N_("export KEYSERVER_TOKEN=rwc_... (tokens are never passed as flags)"),
                exit_code=EXIT_CONFIG,
            )
        ca = ctx.resolved.command.get("ca_bundle")
        return RemoteBackend(
            url,
            ctx.resolved.token,
            ca_bundle=str(ca) if ca else None,
            # --json output keeps English, server details included (spec §cli).
            language="en" if ctx.out.as_json else ctx.out.lang,
            # Times for people in the city's zone, not this machine's (spec §cli).
            on_zone=ctx.out.stated_zone,
        )
    from keyserver._cli.local import LocalBackend  # noqa: PLC0415 - see above

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
            _print_new_token(ctx, result, N_("principal %(name)s created (token id %(token_id)s)"))
            return EXIT_OK
        columns = ("name", "roles", "groups", "organisation", "created_at")
        ctx.out.rows(b.principal_list(), columns, title=N_("principals"))
        return EXIT_OK

    return _with_backend(ctx, run)


def _print_new_token(ctx: Context, result: Json, text: Message) -> None:
    """A principal or token just created: its token shown once, or the request made instead.

    spec §approvals: a gated creation answers with a request and no token. ``text`` is
    marked at the call (so the catalogue finds it) and gets the name and token id here.
    """
    if cli_approvals.print_requested(ctx, result):
        return
    if ctx.out.as_json:
        ctx.out.json(result)
        return
    ctx.out.text(replace(text, values={"name": result["name"], "token_id": result["token_id"]}))
    ctx.out.secret("token", str(result["token"]))


def cmd_token(ctx: Context) -> int:
    """``token list|create|revoke``."""
    a = ctx.args

    def run(b: Backend) -> int:
        if a.sub == "list":
            columns = ("token_id", "name", "created_at", "expires_at", "revoked_at")
            ctx.out.rows(b.token_list(), columns, title=N_("tokens"))
        elif a.sub == "create":
            expires_at = a.expires_at
            if a.expires_in:
                expires_at = (
                    datetime.now(UTC) + parse_duration(a.expires_in, flag="--expires-in")
                ).isoformat()
            result = b.token_create(a.name, expires_at)
            _print_new_token(ctx, result, N_("token %(token_id)s issued for %(name)s"))
        else:
            ctx.out.record(b.token_revoke(a.token_id), title=N_("revoked"))
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_search(ctx: Context) -> int:
    """``search [--label] [--medium] [--issuer] [--state]``."""
    a = ctx.args
    limit = paging.page_size(a.limit)
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
        page = b.search(filters, limit, a.after)
        if ctx.out.as_json:
            ctx.out.json(page)
        else:
            ctx.out.rows(
                page.get("containers", []), STATUS_COLUMNS, title=N_("matching containers")
            )
            if page.get("next"):
                ctx.out.note(N_("more: --after %(next)s", next=page["next"]))
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_report(ctx: Context) -> int:
    """``report --medium M [--since T] [--signed KIND [-o FILE]]``."""

    def run(b: Backend) -> int:
        if ctx.args.signed:
            return _signed_report(ctx, b)
        # The three-way report for people and scripts (keyserver/_cli/medium_report.py).
        return medium_report.cmd_report(ctx, b)

    return _with_backend(ctx, run)


def _signed_report(ctx: Context, b: Backend) -> int:
    """``report --medium M --signed KIND [-o FILE]``: the document, never overwriting."""
    doc = b.signed_report(ctx.args.signed, ctx.args.medium)
    if ctx.args.output in (None, "-"):
        # Whole, as JSON, in --json mode too: a document cut to a table cell's length (as
        # Output.text cuts) no longer verifies. ensure_ascii escapes every control
        # character, C1 included, so the server's text cannot drive a terminal.
        ctx.out.stdout.write(json.dumps(doc, ensure_ascii=True, indent=1) + "\n")
        return EXIT_OK
    dest = Path(ctx.args.output)
    if dest.exists():
        raise CliError(
            N_("%(file)s exists already; it is kept", file=ctx.args.output), exit_code=EXIT_USAGE
        )
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    # A signed document is evidence: whole or not at all, never over an existing file.
    with written_text(dest) as fh:
        fh.write(text)
    ctx.out.note(
        N_("wrote the signed %(kind)s to %(file)s", kind=ctx.args.signed, file=ctx.args.output)
    )
    return EXIT_OK


def cmd_whoami(ctx: Context) -> int:
    """``whoami``."""

    def run(b: Backend) -> int:
        ctx.out.record(b.whoami(), title=N_("principal"))
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_local_only(ctx: Context) -> int:
    """``init``, ``migrate``, ``serve``, ``sweep``: need the database itself."""
    ctx.require_local()
    from keyserver._cli import host as cli_host  # noqa: PLC0415 - local mode only

    handler: Callable[[Context], int] = getattr(cli_host, "cmd_" + ctx.args.command)
    return handler(ctx)


def _backed(handler: Callable[[Context, Backend], int]) -> Callable[[Context], int]:
    """A handler that gets the opened backend (keyserver/_cli/incident.py)."""
    return lambda ctx: _with_backend(ctx, lambda b: handler(ctx, b))


def cmd_tlog(ctx: Context) -> int:
    """``log-key``, ``checkpoint``: the transparency log on the data directory."""
    from keyserver._cli import tlog as cli_tlog  # noqa: PLC0415 - local mode only

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
    "reset-budget": _backed(incident.cmd_reset_budget),
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
    "rotate-master-key": cli_rotate.cmd_rotate_master_key,
}
