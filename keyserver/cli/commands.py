"""Handlers of the ``keyserver`` subcommands: one ``cmd_*`` per command, looked up in HANDLERS.

Each opens the local or remote backend (:func:`open_backend`), calls it and prints through
``ctx.out``; the incident commands live in :mod:`keyserver.cli.incident`, the local-only
ones in :mod:`keyserver.cli.local` and :mod:`keyserver.cli.tlog`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from keyserver.cli import incident
from keyserver.cli import verify_report as cli_verify_report
from keyserver.cli import witness as cli_witness
from keyserver.cli.backend import Backend
from keyserver.cli.config import load_settings, parse_duration
from keyserver.cli.context import Context
from keyserver.cli.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from keyserver.domain.errors import InvalidRequestError
from keyserver.domain.validation import parse_head

STATUS_COLUMNS = ("container_id", "label", "medium", "issuer", "state", "created_at", "not_after")
AUDIT_COLUMNS = ("seq", "at", "actor", "action", "container", "outcome")


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
            if ctx.out.as_json:
                ctx.out.json(result)
            else:
                ctx.out.text(f"token {result['token_id']} issued for {result['name']}")
                ctx.out.secret("token", str(result["token"]))
        else:
            ctx.out.record(b.token_revoke(a.token_id), title="revoked")
        return EXIT_OK

    return _with_backend(ctx, run)


def cmd_status(ctx: Context) -> int:
    """``status CONTAINER``."""

    def run(b: Backend) -> int:
        ctx.out.record(b.status(ctx.args.container), title="container")
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


def cmd_audit(ctx: Context) -> int:
    """``audit list|export|verify``."""
    a = ctx.args

    def run(b: Backend) -> int:
        if a.sub == "list":
            if not 1 <= a.limit <= 1000:
                raise CliError("--limit must be between 1 and 1000", exit_code=EXIT_USAGE)
            filters = {
                k: v
                for k, v in (("container", a.container), ("action", a.action), ("actor", a.actor))
                if v is not None
            }
            page = b.audit_list(filters, a.after_seq, a.limit)
            if ctx.out.as_json:
                ctx.out.json(page)
            else:
                ctx.out.rows(page.get("entries", []), AUDIT_COLUMNS, title="audit entries")
                if page.get("next_after_seq") is not None:
                    ctx.out.note(f"more: --after-seq {page['next_after_seq']}")
            return EXIT_OK
        if a.sub == "export":
            return _export(ctx, b)
        expected = _parse_head(a.expect_head) if a.expect_head is not None else None
        result = b.audit_verify(expected)
        if ctx.out.as_json:
            ctx.out.json(result)
        else:
            ctx.out.record(result, title="audit chain")
        if not result.get("ok"):
            ctx.out.error(
                f"the audit chain does not verify: {result.get('problem')}",
                hint="compare with an exported copy; the chain may have been tampered with",
                exit_code=EXIT_FAILURE,
            )
            return EXIT_FAILURE
        return EXIT_OK

    return _with_backend(ctx, run)


def _parse_head(text: str) -> tuple[int, bytes]:
    """Parse ``--expect-head`` with the server's grammar (keyserver.domain.validation)."""
    try:
        return parse_head(text)
    except InvalidRequestError:
        raise CliError(
            f"--expect-head {text!r} is not SEQ:HASH (decimal seq >= 1, 64 hex digits)",
            hint="pass head_seq:head_hash as printed by an earlier `keyserver audit verify`",
            exit_code=EXIT_USAGE,
        ) from None


def _export(ctx: Context, b: Backend) -> int:
    """Write the chain as JSON Lines to ``-o FILE`` (atomically) or stdout."""
    if ctx.args.output in (None, "-"):
        for line in b.audit_export():
            ctx.out.stdout.write(line + "\n")
        return EXIT_OK
    dest = Path(ctx.args.output)
    if dest.exists():
        raise CliError(f"{dest} exists", hint="choose another file name", exit_code=EXIT_USAGE)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    # The export is not secret but is evidence: write completely, then rename into place.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in b.audit_export():
                fh.write(line + "\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, dest)  # fails if dest appeared meanwhile: never overwrite
    finally:
        tmp.unlink(missing_ok=True)
    ctx.out.note(f"wrote {count} audit entries to {dest}")
    return EXIT_OK


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
    "status": cmd_status,
    "search": cmd_search,
    "report": cmd_report,
    "whoami": cmd_whoami,
    "audit": cmd_audit,
    "init": cmd_local_only,
    "migrate": cmd_local_only,
    "serve": cmd_local_only,
    "sweep": cmd_local_only,
    "log-key": cmd_tlog,
    "checkpoint": cmd_tlog,
    "witness": cli_witness.cmd_witness,
    "verify-report": cli_verify_report.cmd_verify_report,
}
