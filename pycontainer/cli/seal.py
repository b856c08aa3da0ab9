"""`rwc seal`: register a container on the key server, seal the inputs, commit, publish.

Order of events, and why:

1. Everything that can be checked locally is checked first (output exists, inputs exist,
   Argon2 bounds, --expires, password), so that a mistake does not leave a pending
   registration on the server.
2. register (policy) -> container id + public key (spec/protocol.md §register).
3. The library seals into a staged file beside the destination (nameless on Linux, so a
   killed seal leaves nothing; pycontainer/_engine/staging.py); its evaluate call goes to
   the server (the writer may evaluate its own pending container).
4. commit (header digest, receipt key) activates the container (spec/protocol.md §commit).
5. Only then is the file published under its name, by the writer's one atomic publish
   (``before_publish`` runs the commit). If anything fails before that, the staged file
   is discarded: no file ever claims to be a container whose server state is
   still pending (an uncommitted registration lapses on the server by itself).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pycontainer.cli.common import (
    ENV_SERVER,
    WRITER_IMPORTS,
    SubParsers,
    add_tls_option,
    b64,
    make_client,
    read_password,
    require_token,
    start_tls,
)
from pycontainer.cli.exits import SaidUsageError, UsageError
from pycontainer.cli.strictargs import file_name
from pycontainer.cli.texts import say
from pycontainer.cli.ui import Ui
from pycontainer.client.server_url import normalize_server_url
from pycontainer.client.terminal_text import display_name
from pycontainer.errors import KeyServerInvalidValueError, OutputExistsError
from pycontainer.format.primitives import (
    ARGON2_DEFAULT,
    ARGON2_M_MAX,
    ARGON2_M_MIN,
    ARGON2_P_MAX,
    ARGON2_P_MIN,
    ARGON2_T_MAX,
    ARGON2_T_MIN,
    STREAM_ENTRY_NAME_DEFAULT,
    Argon2Params,
)

if TYPE_CHECKING:
    from pathlib import Path

STDIN_PATH = "-"
LABEL_MAX = 200  # spec/protocol.md §conventions: names and labels are 1..200 characters
PEOPLE_MAX = 100_000_000  # spec/protocol.md §containers: a declared count of people


def add_parser(sub: SubParsers, parents: list[argparse.ArgumentParser], lang: str = "en") -> None:
    """Add the `seal` subcommand (``lang``: of the help texts that have a translation)."""
    p = sub.add_parser(
        "seal",
        parents=parents,
        help="seal files and directories into a container",
        description="Seal files and directories (or stdin, as '-') into a container that only "
        "the key server's readers can open. The password comes from --password-file, "
        "RWC_PASSWORD or a prompt (asked twice); --no-password relies on the reader policy "
        "alone.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files/directories, or - for stdin")
    p.add_argument("-o", "--output", required=True, metavar="OUT.rwc", help="container to write")
    p.add_argument("--server", metavar="URL", help=f"key server URL (or {ENV_SERVER})")
    add_tls_option(p)
    p.add_argument("--label", metavar="TEXT", help="what the container holds (default: file name)")
    medium = p.add_mutually_exclusive_group()
    medium.add_argument(
        "--medium",
        metavar="ID",
        help="the medium it goes on: serial number or asset tag as printed on it (the unit "
        "of loss reports; required unless --no-medium); ASCII letters, digits, spaces and "
        '- _ . : # + only, e.g. "USB-2026-0417 keiri"',
    )
    medium.add_argument(
        "--no-medium",
        action="store_true",
        help="register without a medium: no loss report of a medium can ever cover it",
    )
    p.add_argument("--reader", action="append", default=[], metavar="NAME", help="allowed reader")
    p.add_argument(
        "--reader-group", action="append", default=[], metavar="GROUP", help="allowed group"
    )
    p.add_argument("--expires", metavar="WHEN", help=say("seal_help_expires", lang))
    p.add_argument(
        "--attempt-budget",
        type=int,
        metavar="N",
        help="unconfirmed openings after which the server suspends the container",
    )
    p.add_argument("--people", type=int, metavar="N", help=say("seal_help_people", lang))
    p.add_argument("--name", default=STREAM_ENTRY_NAME_DEFAULT, help="entry name for stdin")
    p.add_argument("--force", action="store_true", help="overwrite OUT.rwc if it exists")
    p.add_argument("--no-password", action="store_true", help="seal without a password")
    p.add_argument(
        "--password-file", type=file_name, metavar="FILE", help="read the password from FILE"
    )
    kdf = p.add_argument_group(
        "advanced", "Argon2id cost (defaults: RFC 9106 second recommended option)"
    )
    for flag, default, low, high, metavar, what in (
        ("--kdf-memory", ARGON2_DEFAULT.m, ARGON2_M_MIN, ARGON2_M_MAX, "KIB", "memory in KiB"),
        ("--kdf-time", ARGON2_DEFAULT.t, ARGON2_T_MIN, ARGON2_T_MAX, "N", "passes"),
        ("--kdf-parallelism", ARGON2_DEFAULT.p, ARGON2_P_MIN, ARGON2_P_MAX, "N", "lanes"),
    ):
        kdf.add_argument(
            flag,
            type=int,
            default=default,
            metavar=metavar,
            help=f"{what}, {low}..{high} (default {default})",
        )
    p.set_defaults(run=run_seal, imports=WRITER_IMPORTS, prepare=_prepare_tls)


def _prepare_tls(args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """Start building the TLS context before the imports (cli.main ``prepare``)."""
    start_tls(args.server or env.get(ENV_SERVER), args, env)


def _check_inputs(paths: list[str]) -> None:
    if STDIN_PATH in paths and len(paths) > 1:
        raise SaidUsageError("seal_stdin_mixed")
    for path in paths:
        if path != STDIN_PATH and not os.path.lexists(path):
            raise SaidUsageError("seal_no_input", path=path)


# The request members a refusal may name (spec/protocol.md §problems, `field`) and the
# option of `rwc seal` that gave each.
_FLAG_OF_FIELD = {
    "medium": "--medium",
    "label": "--label",
    "readers": "--reader",
    "reader_groups": "--reader-group",
    "attempt_budget": "--attempt-budget",
    "people": "--people",
    "not_after": "--expires",
}


def _check_names(args: argparse.Namespace, ui: Ui) -> None:
    """Check every name before anything is registered (no phantom pending container).

    spec §paths: all bad names are listed in one error. Names in decomposed form (macOS
    NFD) are stored in NFC automatically, and the user is told.
    """
    from pathlib import Path  # noqa: PLC0415 - the writer's; not on a reader's path (issue 15)

    from pycontainer.writer import check_inputs, check_stream_name  # noqa: PLC0415

    if args.paths == [STDIN_PATH]:
        check_stream_name(args.name)
        return
    renamed = check_inputs([Path(x) for x in args.paths])
    if renamed:
        count = len(renamed)
        more = say("seal_nfc_more", ui.lang, count=count - 3) if count > 3 else ""
        ui.warn(
            say(
                "seal_nfc_renamed_one" if count == 1 else "seal_nfc_renamed",
                ui.lang,
                count=count,
                names=", ".join(display_name(n) for n in renamed[:3]),
                more=more,
            )
        )


def _check_not_inside_inputs(paths: list[str], out: Path) -> None:
    """Refuse a container written into a directory being sealed.

    The directory walk would find the container's own temporary file and seal a partial
    copy of it.
    """
    from pathlib import Path  # noqa: PLC0415 - see _check_names

    where = out.parent.resolve()
    for path in paths:
        src = Path(path)
        if path != STDIN_PATH and src.is_dir() and where.is_relative_to(src.resolve()):
            raise SaidUsageError("seal_inside_input", out=str(out), path=path)


def _check_output(out: Path, force: bool) -> None:
    if not out.parent.is_dir():
        raise SaidUsageError("seal_no_output_dir", directory=str(out.parent))
    if out.is_dir():
        raise SaidUsageError("seal_output_is_dir", out=str(out))
    if os.path.lexists(out) and not force:
        raise OutputExistsError(
            f"{out} exists already", hint="pass --force to overwrite it, or choose another name"
        )


def run_seal(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Run `rwc seal` (see the module docstring for the order of events)."""
    from pathlib import Path  # noqa: PLC0415 - see _check_names

    # Imported here, not at the top: see pycontainer.cli.common (only `seal` needs them).
    from pycontainer.client.keyserver import Policy  # noqa: PLC0415
    from pycontainer.keyrelease import SlotInfo  # noqa: PLC0415
    from pycontainer.writer import (  # noqa: PLC0415
        SealOptions,
        SealResult,
        seal_paths,
        seal_stream,
    )

    server_arg = args.server or env.get(ENV_SERVER)
    if not server_arg:
        raise SaidUsageError("seal_no_server")  # its hint names RWC_SERVER (ENV_SERVER)
    server = normalize_server_url(server_arg)
    if args.output == STDIN_PATH:
        # Not a file named "-": a user who writes -o - means stdout, which rwc cannot do.
        raise SaidUsageError("seal_to_stdout")
    out = Path(args.output)
    _check_output(out, args.force)
    _check_inputs(args.paths)
    _check_not_inside_inputs(args.paths, out)
    argon2 = Argon2Params(m=args.kdf_memory, t=args.kdf_time, p=args.kdf_parallelism)
    if not argon2.within_bounds():  # spec §slot-server-oprf: bounded Argon2 parameters
        raise SaidUsageError(
            "seal_argon2_bounds",
            m_min=str(ARGON2_M_MIN),
            m_max=str(ARGON2_M_MAX),
            t_min=str(ARGON2_T_MIN),
            t_max=str(ARGON2_T_MAX),
            p_min=str(ARGON2_P_MIN),
            p_max=str(ARGON2_P_MAX),
        )
    if args.medium is None and not args.no_medium:
        # protocol §media: a container without a medium is out of reach of every loss
        # report, so leaving it out must be a decision, not an omission.
        raise SaidUsageError("seal_no_medium")
    label = args.label or out.name[:LABEL_MAX]
    for option, value in (("--label", label), ("--medium", args.medium)):
        if value is not None and not 1 <= len(value) <= LABEL_MAX:
            # spec/protocol.md §containers: checked here, before a registration is made.
            raise SaidUsageError("seal_length", option=option, longest=str(LABEL_MAX))
    not_after = None
    if args.expires:
        # Imported here: every `rwc` run builds this parser, only a seal parses a date
        # (datetime: ~3.5 M instructions of every `rwc cat`'s start-up, issue 15).
        from datetime import UTC, datetime  # noqa: PLC0415

        from pycontainer.cli.expires import parse_expires  # noqa: PLC0415

        not_after = parse_expires(args.expires, datetime.now(UTC))
    if args.attempt_budget is not None and args.attempt_budget < 1:
        raise SaidUsageError("seal_attempt_budget")
    if args.people is not None and not 1 <= args.people <= PEOPLE_MAX:
        # spec/protocol.md §containers: the server's rule, checked before registering.
        raise SaidUsageError("seal_people", most=f"{PEOPLE_MAX:,}")
    if not args.reader and not args.reader_group:
        raise SaidUsageError("seal_no_readers")
    _check_names(args, ui)
    # The token first: no point asking for a password twice if we cannot reach the server.
    token = require_token(server, env, named=True)  # the writer named it
    password = read_password(args, ui, env, confirm=True, what=str(out))
    policy = Policy(
        readers=tuple(args.reader),
        reader_groups=tuple(args.reader_group),
        label=label,
        medium=args.medium,
        not_after=not_after,
        password_required=bool(password),
        attempt_budget=args.attempt_budget,
        people=args.people,
    )
    with make_client(server, token, args, env, lang=ui.lang) as client:
        ui.note(say("note_registering", ui.lang, server=server))
        try:
            reg = client.register(policy)
        except KeyServerInvalidValueError as exc:
            flag = _FLAG_OF_FIELD.get(exc.field)
            if flag is None:
                raise
            # spec/protocol.md §problems: the writer chose the value (§media for a medium);
            # say which option and the rule in the writer's language (exit 2), nothing was
            # registered.
            # The server's rule as it said it, in the writer's language where it could.
            from pycontainer.cli.refusals import server_detail  # noqa: PLC0415 - on refusal only

            said = server_detail(exc.refusal, ui.lang) if exc.refusal is not None else None
            refused = UsageError(
                say("value_refused", ui.lang, flag=flag, error=said or exc.message),
                hint=say("medium_rule", ui.lang)
                if exc.field == "medium"
                else say("value_rule", ui.lang, flag=flag),
            )
            refused.said = True
            raise refused from exc
        slot = SlotInfo(url=server, container_id=reg.container_id, public_key=reg.public_key)

        def activate(sealed: SealResult) -> None:
            # The container is complete on disk but still nameless: it gets its name only
            # once the server has activated it (ONE publish, in the writer).
            ui.note(say("note_activating", ui.lang))
            client.commit(sealed.container_id, sealed.header_digest, sealed.receipt_key)

        with ui.progress(say("progress_sealing", ui.lang)) as progress:
            options: SealOptions = {
                "slot": slot,
                "key_server": client,
                "password": password,
                "argon2": argon2,
                "force": args.force,
                "progress": progress,
                "before_publish": activate,
            }
            if args.paths == [STDIN_PATH]:
                result = seal_stream(sys.stdin.buffer, args.name, out, **options)
            else:
                result = seal_paths([Path(x) for x in args.paths], out, **options)
    entries = result.entries
    text = say(
        "seal_ok_one" if entries == 1 else "seal_ok",
        ui.lang,
        count=entries,
        out=out,
        container=b64(result.container_id),
        server=server,
    )
    if not_after is not None:
        # The expiry as the writer meant it: in their zone, with the offset (a bare date
        # is the end of that day there, pycontainer/cli/expires.py).
        from pycontainer.cli.times import local_time  # noqa: PLC0415 - WRITER_IMPORTS

        text += "\n" + say("seal_expires", ui.lang, when=local_time(not_after))
    if args.people is not None:
        # What the officials' medium report will say of it (spec §report), to check now.
        text += "\n" + say(
            "seal_people_declared", ui.lang, label=display_name(label), people=f"{args.people:,}"
        )
    ui.result(
        "seal",
        {
            "output": str(out),
            "container_id": b64(result.container_id),
            "server": server,
            "server_id": reg.server_id,
            "entries": entries,
            "payload_bytes": result.payload_bytes,
            "data_bytes": result.data_bytes,
            "not_after": not_after.isoformat() if not_after else None,
            "password": bool(password),
            "people": args.people,
        },
        text,
    )
