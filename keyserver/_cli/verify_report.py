"""``keyserver verify-report FILE --log-key KEY [--witness-key KEY ...]``: offline check.

spec §transparency "Reports". Needs no server, no token, no data directory: the report
carries the checkpoint, its cosignatures and the inclusion proofs; the keys come from the
city's publication (``/.well-known/rwc-log-key``) and from the witnesses themselves. With
``--server URL`` it also asks the log whether it still extends the report's checkpoint,
which shows a history rewritten after the report was issued.

Each failure has its own verdict and hint, in the command's language, and exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyserver._cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from keyserver._cli.logfetch import log_request
from keyserver._cli.remote import check_server_url
from keyserver._domain.i18n import N_, Message, ngettext
from keyserver._domain.transparency import TlogFormatError, TransparencyError
from keyserver._domain.transparency.note import COSIGNATURE_V1, ED25519, VerifierKey, parse_note
from keyserver._domain.transparency.report import (
    NotEnoughCosignaturesError,
    ReportTamperedError,
    ReportWrongKeyError,
    VerifiedReport,
    check_extends,
    verify_report,
)
from keyserver._domain.transparency.witness import check_signed

if TYPE_CHECKING:
    from keyserver._cli.context import Context

# What each failure means for the person holding the report, and what to do about it: said
# in the command's language (KEYSERVER_LANG or the locale; --json keeps English), with the
# check's own detail after the verdict (spec §transparency "Reports").
VERDICTS: dict[type[TransparencyError], tuple[Message, Message]] = {
    ReportTamperedError: (
        N_("TAMPERED: this report does not match what the log signed: %(detail)s"),
        N_("do not rely on this report; ask the city for the report as it issued it"),
    ),
    ReportWrongKeyError: (
        N_("WRONG KEY: this report is not signed by the log key you gave: %(detail)s"),
        N_("check --log-key against the key the city publishes (/.well-known/rwc-log-key)"),
    ),
    NotEnoughCosignaturesError: (
        N_(
            "NOT ENOUGH WITNESSES: too few independent witnesses confirmed this log state: "
            "%(detail)s"
        ),
        N_(
            "check each --witness-key against the key its witness publishes; "
            "--min-cosignatures says how many must have cosigned"
        ),
    ),
    TlogFormatError: (
        N_("NOT A REPORT: the file is not an rwc signed report: %(detail)s"),
        N_("give the signed report (JSON) as the key server issued it"),
    ),
}


def verdict(exc: TransparencyError) -> tuple[Message, Message]:
    """The error and the hint said for a report that failed ``exc``'s check."""
    said, hint = next(
        (m for cls, m in VERDICTS.items() if isinstance(exc, cls)), VERDICTS[TlogFormatError]
    )
    # The detail is a catalogue message (report.py), or the text of a lower-level format
    # error (a checkpoint note that does not parse), shown as it is.
    detail = exc.args[0] if exc.args else ""
    return Message(said.msgid, {"detail": detail}), hint


def add_parser(add: Any) -> None:
    """Register ``verify-report`` on the main parser (``add(name, help)``)."""
    p = add("verify-report", N_("verify a signed report offline (no server needed)").msgid)
    p.add_argument("file", help=N_("the report (JSON); -: read it from stdin").msgid)
    p.add_argument("--log-key", required=True, help=N_("the log's public key (vkey)").msgid)
    p.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help=N_("a witness's public key (repeat)").msgid,
    )
    p.add_argument(
        "--min-cosignatures",
        type=int,
        help=N_("witnesses that must have cosigned (default: every --witness-key)").msgid,
    )
    p.add_argument(
        "--check-server", metavar="URL", help=N_("also check the log still extends it").msgid
    )


def _key(text: str, key_type: int, flag: str) -> VerifierKey:
    try:
        key = VerifierKey.parse(text)
    except TransparencyError as exc:
        raise CliError(
            N_("%(flag)s: %(reason)s", flag=flag, reason=exc), exit_code=EXIT_USAGE
        ) from exc
    if key.key_type != key_type:
        kind = (
            N_("a log key (type 0x01)") if key_type == ED25519 else N_("a witness key (type 0x04)")
        )
        raise CliError(
            N_("%(flag)s: %(name)s is not %(kind)s", flag=flag, name=key.name, kind=kind),
            exit_code=EXIT_USAGE,
        )
    return key


def _check_server(
    url: str, log_key: VerifierKey, report: VerifiedReport, ca_bundle: str | None
) -> int:
    base = check_server_url(url)
    try:
        status, body = log_request("GET", base + "/v1/tlog/checkpoint", ca_bundle=ca_bundle)
        if status != 200:
            raise CliError(
                N_("%(base)s answered %(status)s", base=base, status=status),
                exit_code=EXIT_UNAVAILABLE,
            )
        newer = check_signed(log_key, parse_note(body))
        params = {"old": report.checkpoint.size, "new": newer.size}
        proof: list[bytes] = []
        if 0 < report.checkpoint.size < newer.size:
            status, body = log_request(
                "GET", base + "/v1/tlog/proof/consistency", ca_bundle=ca_bundle, params=params
            )
            if status != 200:
                raise CliError(
                    N_("%(base)s answered %(status)s", base=base, status=status),
                    exit_code=EXIT_UNAVAILABLE,
                )
            proof = [bytes.fromhex(h) for h in json.loads(body)["proof"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(
            N_(
                "cannot get the log's current checkpoint from %(base)s (%(kind)s)",
                base=base,
                kind=type(exc).__name__,
            ),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc
    check_extends(report.checkpoint, newer, proof)
    return newer.size


def proven(report: VerifiedReport, log_name: str, issued: str, now: int | None) -> list[Message]:
    """What a verified report proves, one line each, from the catalogue (ja and en).

    An official reads these to the press or a court: in their language, each count in its
    own plural form (was "1 audit entries proven", English only). ``issued``: the report's
    time as people read it (the display zone, with its offset); ``now``: the size of the
    log that still extends the report's checkpoint (``--check-server``), or None.
    """
    size = report.checkpoint.size
    proved = len(report.entries)
    lines = [
        N_("OK: %(kind)s issued %(issued)s", kind=report.kind, issued=issued),
        ngettext(
            "the log (%(log)s) signed its first %(count)s entry; cosigned by: %(witnesses)s",
            "the log (%(log)s) signed its first %(count)s entries; cosigned by: %(witnesses)s",
            size,
            count=size,
            log=log_name,
            witnesses=", ".join(report.cosigned_by) or N_("no witness"),
        ),
        ngettext(
            "%(count)s audit entry proven to be in that log",
            "%(count)s audit entries proven to be in that log",
            proved,
            count=proved,
        ),
    ]
    if now is not None:
        lines.append(
            ngettext(
                "the log still extends it today (%(count)s entry)",
                "the log still extends it today (%(count)s entries)",
                now,
                count=now,
            )
        )
    return lines


def cmd_verify_report(ctx: Context) -> int:
    """Verify one report; print what it proves, or exactly why it fails."""
    args = ctx.args
    log_key = _key(args.log_key, ED25519, "--log-key")
    witnesses = [_key(k, COSIGNATURE_V1, "--witness-key") for k in args.witness_key]
    need = len(witnesses) if args.min_cosignatures is None else args.min_cosignatures
    try:
        # `-`: the report piped in (`curl .../report | keyserver verify-report - ...`).
        data = (
            ctx.stdin.read().encode("utf-8") if args.file == "-" else Path(args.file).read_bytes()
        )
    except OSError as exc:
        raise CliError(
            N_("cannot read %(file)s: %(strerror)s", file=args.file, strerror=exc.strerror),
            exit_code=EXIT_USAGE,
        ) from exc
    try:
        report = verify_report(data, log_key, witnesses, need)
        ca = ctx.resolved.command.get("ca_bundle")
        now = (
            _check_server(args.check_server, log_key, report, str(ca) if ca else None)
            if args.check_server
            else None
        )
    except TransparencyError as exc:
        message, hint = verdict(exc)
        ctx.out.error(message, hint=hint)
        return EXIT_FAILURE
    doc = {
        "ok": True,
        "kind": report.kind,
        "issued_at": report.issued_at,
        "checkpoint_size": report.checkpoint.size,
        "cosigned_by": list(report.cosigned_by),
        "entries_proven": len(report.entries),
        "log_still_extends_it_at": now,
        "statement": report.statement,
    }
    if ctx.out.as_json:
        ctx.out.json(doc)
        return EXIT_OK
    issued = ctx.out.cell("issued_at", report.issued_at).plain
    for line in proven(report, log_key.name, issued, now):
        ctx.out.text(line)
    if not witnesses:
        ctx.out.note(N_("no --witness-key given: this shows only what the log's operator signed"))
    return EXIT_OK
