"""`rwc open | ls | cat | verify` (online, need the key server) and `rwc info` (offline).

Which server: the URL in the container's slot, unless ``--server URL``/RWC_SERVER names
another way to reach the same server (a reader's network may know it under another name).
Which token (pycontainer.client.tokens, "Token scope"): RWC_TOKEN only for a server named with
``--server``/RWC_SERVER, never for the URL a container names; otherwise the token that
`rwc login` stored for exactly the server contacted.

Receipts: as soon as the content key unwrapped (the password was right), before the header
MAC and the payload are checked, the reader confirms with ``receipt_mac`` over the server's
challenge (spec/protocol.md §receipt, spec/format.md §reading step 3): the attempt budget
counts *unconfirmed* releases to stop password guessing, and a reader who had the right
password is not guessing, even if the payload then turns out damaged. A receipt that
cannot be delivered is a warning, never a failure. Its answer is read after the container
was read (``_opened``): it decides nothing, so the reader does not wait for it first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pycontainer.cli.attempts import Recording, ask_password, was_last_attempt, wrong_password_hint
from pycontainer.cli.common import (
    ENV_SERVER,
    READER_IMPORTS,
    SubParsers,
    add_password_options,
    add_tls_option,
    b64,
    make_client,
    require_token,
    start_tls,
)
from pycontainer.cli.exits import SaidUsageError, UsageError
from pycontainer.cli.strictargs import file_name
from pycontainer.cli.texts import say
from pycontainer.cli.ui import Ui
from pycontainer.client.server_url import normalize_server_url
from pycontainer.client.terminal_text import display_name
from pycontainer.errors import (
    ContainerError,
    KeyServerCallError,
    UnsupportedVersionError,
    WrongPasswordError,
)

if TYPE_CHECKING:
    from pycontainer.client.keyserver import KeyServerClient
    from pycontainer.format.archive import Entry
    from pycontainer.reader import Container

# The reader (and through it cryptography, argon2, voprf) is imported by the
# commands that open a container, not by every `rwc` run (pycontainer.cli.common).

# `rwc open` also imports the extraction engine (and with it pathlib, urllib.parse and
# ipaddress) in the import phase, with the collector off (pycontainer.cli.entry): imported
# where the reader first extracts, they ran with it on, ~2.8 M instructions more per open
# (issue 15, bench/profiles/startup.md). The same modules either way.
OPEN_IMPORTS = (*READER_IMPORTS, "pycontainer._engine.extract")
CAT_PIPE_SIZE = 1 << 20  # the default pipe-max-size of Linux


def add_parsers(
    sub: SubParsers,
    parents: list[argparse.ArgumentParser],
) -> None:
    """Add open, ls, cat, verify and info."""

    def online(name: str, help_text: str, run: Callable[..., None]) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=parents, help=help_text, description=help_text + "."
        )
        p.add_argument("container", metavar="C.rwc", help="the container file")
        p.add_argument(
            "--server",
            metavar="URL",
            help=f"reach the key server at URL instead of the container's URL (or {ENV_SERVER})",
        )
        add_tls_option(p)
        add_password_options(p)
        p.set_defaults(run=run, imports=READER_IMPORTS, prepare=_prepare_tls)
        return p

    p = online("open", "extract a container (all entries, or the named PATHs)", run_open)
    p.set_defaults(imports=OPEN_IMPORTS)
    p.add_argument(
        "paths", nargs="*", default=[], metavar="PATH", help="entries to extract (default: all)"
    )
    p.add_argument(
        "-C",
        "--directory",
        type=file_name,
        metavar="DIR",
        help="extract into DIR (default: a new directory named after the container, without "
        ".rwc); DIR must be new or empty unless --force",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="allow a non-empty DIR and replace top-level files of the same name",
    )
    p = online("ls", "list a container's entries", run_ls)
    p.add_argument("-l", "--long", action="store_true", help="show kind, mode, size, mtime")
    p = online("cat", "write one file entry to stdout", run_cat)
    p.add_argument("path", metavar="PATH", help="the entry to write (as `rwc ls` shows it)")
    online("verify", "authenticate every byte of a container, write nothing", run_verify)

    p = sub.add_parser(
        "info",
        parents=parents,
        help="show a container's header (offline, no key server)",
        description="Show a container's header without contacting the key server. The header "
        "is not authenticated until the container is opened.",
    )
    p.add_argument("container", metavar="C.rwc", help="the container file")
    p.set_defaults(run=run_info, imports=("pycontainer.reader",))


def _container_path(name: str) -> str:
    """The container file named on the command line, which must be a file.

    ``-`` (stdin) is refused clearly; so is a folder, which was "no such container file"
    though it exists (a clerk who drops a folder on the command was told it was missing).
    """
    if name == "-":
        raise UsageError(
            "rwc reads a container from a file, not from stdin (-)",
            hint="save it to a file first and give its name: the container is read at known "
            "offsets, and every byte is checked before anything is written",
        )
    # os.path, not pathlib: see pyproject.toml's per-file-ignores (issue 15).
    if os.path.isdir(name):
        raise SaidUsageError("container_is_folder", path=name)
    if not os.path.isfile(name):
        raise SaidUsageError("no_container_file", path=name)
    return name


def _prepare_tls(args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """Start building the TLS context before the imports (cli.main ``prepare``).

    The server is the one :func:`_opened` will contact: ``--server``/RWC_SERVER, else the
    URL in the container's first slot, peeked at here with the reader's own
    ``read_header`` (pycontainer._engine.header: without the rest of the reader, whose
    imports the context's build then runs beside). Nothing is decided on the peek: a
    header that cannot be read starts nothing, and :func:`_opened` reads and checks the
    header again and refuses it there as always.
    """
    url = args.server or env.get(ENV_SERVER)
    if not url and args.container != "-":
        from pycontainer._engine.header import read_header  # noqa: PLC0415 - see above

        with contextlib.suppress(ContainerError, OSError):
            slots = read_header(args.container).slots
            url = slots[0].url if slots else None
    start_tls(url, args, env)


@contextlib.contextmanager
def _opened(
    args: argparse.Namespace, ui: Ui, env: Mapping[str, str]
) -> Iterator[tuple[Container, dict[str, Any]]]:
    """Open the container online; the receipt is sent on the way (see the module docstring).

    Its answer is read once the caller has read the container (or a check refused it):
    the receipt is sent before the checks that follow (spec/format.md §Reading step 3) and
    its answer decides nothing (§receipts), so nothing waits for it meanwhile: an
    `rwc open` extracts, fsyncs and publishes while the server records the receipt.
    """
    from pycontainer.reader import open_container, read_header  # noqa: PLC0415

    path = _container_path(args.container)
    header = read_header(path)  # offline; a corrupt header fails here, before any request
    if not header.slots:  # spec §header: a reader needs at least one usable slot
        raise UnsupportedVersionError(
            "this container has no key slot this rwc can use", hint="install a newer rwc"
        )
    slot_url = header.slots[0].url
    override_arg = args.server or env.get(ENV_SERVER)
    override = normalize_server_url(override_arg) if override_arg else None
    url = override or slot_url
    # Security decision: the slot URL is the container writer's choice, so it never gets
    # RWC_TOKEN, and no token stored for another URL (see pycontainer.client.tokens).
    token = require_token(url, env, named=override is not None)
    receipt: dict[str, Any] = {"receipt": "none"}
    answers: list[Callable[[], str]] = []
    with make_client(url, token, args, env, lang=ui.lang) as client:

        def send_receipt(container_id: bytes, challenge: bytes, mac: bytes) -> None:
            answers.append(_send_receipt(client, ui, container_id, challenge, mac))

        def answered() -> str:
            # Read at most once; a warning if the receipt failed (not an error: §receipts).
            if answers:
                receipt["receipt"] = answers.pop()()
            return str(receipt["receipt"])

        ui.note(say("note_asking", ui.lang, url=url))
        cid, what = header.slots[0].container_id, os.path.basename(path)
        password = ask_password(args, ui, env, client, container_id=cid, what=what)
        recording = Recording(client)
        try:
            container = open_container(
                path,
                key_server=recording,
                password=password,
                url_override=override,
                send_receipt=send_receipt,
            )
        except WrongPasswordError as exc:
            # In the reader's language; its English is the library's (--json is English).
            exc.message = say("wrong_password", ui.lang)
            hint = say("wrong_password_hint", ui.lang)
            exc.hint = wrong_password_hint(hint, recording.last, args.no_password, ui.lang)
            exc.said = True
            raise
        except Exception:
            answered()  # a check after the receipt refused the container (header MAC, ...)
            raise

        def finish() -> None:
            if answered() == "sent" and was_last_attempt(recording.last):
                # protocol §receipt: the evaluation that used up the container's budget
                # suspended it, and its receipt (the right password) lifted that again;
                # a server that had not would have refused the receipt (a warning).
                # Calm words: the file opened, and one more wrong password locks it.
                ui.inform(say("last_attempt_opened", ui.lang))

        try:
            with container:
                yield container, receipt
        except Exception:
            finish()  # not after Ctrl-C or SIGTERM (BaseException): those leave at once
            raise
        finish()


def _send_receipt(
    client: KeyServerClient, ui: Ui, container_id: bytes, challenge: bytes, mac: bytes
) -> Callable[[], str]:
    """Send the receipt now; the function returned reads its answer: "sent" or "failed".

    A receipt that could not be sent or was refused is a warning (spec §receipts).
    """
    try:
        confirmed = client.send_receipt(container_id, challenge, mac)
    except KeyServerCallError as exc:
        failed = _receipt_failed(ui, exc)
        return lambda: failed

    def answer() -> str:
        try:
            confirmed()
        except KeyServerCallError as exc:
            return _receipt_failed(ui, exc)
        return "sent"

    return answer


def _receipt_failed(ui: Ui, exc: KeyServerCallError) -> str:
    # Imported here: only a failed receipt needs it (issue 15).
    from pycontainer.cli.refusals import for_person  # noqa: PLC0415

    message, hint = for_person(exc, ui.lang)
    ui.warn(say("receipt_failed", ui.lang, error=message), hint)
    return "failed"


def _default_directory(container: str) -> str:
    """``export.rwc`` -> ``./export`` (a new directory, so the current one is not cluttered)."""
    name = os.path.basename(container)
    stem = name[: -len(".rwc")] if name.endswith(".rwc") else name
    if stem in ("", ".", "..") or stem == name:
        stem = name + ".d"
    return stem


def run_open(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Extract entries; nothing appears unless every byte was authenticated (library)."""
    from pathlib import Path  # noqa: PLC0415 - extraction loads it anyway; a cat does not

    dest = Path(args.directory or _default_directory(args.container))
    with (
        _opened(args, ui, env) as (container, receipt),
        ui.progress(say("progress_extracting", ui.lang)) as progress,
    ):
        extracted = container.extract(
            dest, paths=args.paths or None, force=args.force, progress=progress
        )
    count = len(extracted)
    ui.result(
        "open",
        {"directory": str(dest), "entries": count, **receipt},
        say("open_ok_one" if count == 1 else "open_ok", ui.lang, count=count, dest=dest),
    )


def _mtime(e: Entry) -> str:
    """The entry's mtime in UTC; an mtime outside datetime's range is shown as seconds."""
    from datetime import UTC, datetime  # noqa: PLC0415 - listings only, not a cat's start-up

    try:
        when = datetime.fromtimestamp(e.mtime_s, UTC)
    except (OverflowError, ValueError, OSError):
        return f"@{e.mtime_s}"
    return when.isoformat()


def _entry_json(e: Entry) -> dict[str, Any]:
    return {
        "path": e.path,
        "kind": "directory" if e.is_dir else "file",
        "mode": f"{e.mode:04o}",
        "size": e.size,
        "mtime": _mtime(e),
    }


def _entry_line(e: Entry, long: bool) -> str:
    # Names come from the container's writer: escaped before they reach a terminal.
    name = display_name(e.path) + ("/" if e.is_dir else "")
    if not long:
        return name
    perms = stat.filemode((stat.S_IFDIR if e.is_dir else stat.S_IFREG) | e.mode)
    return f"{perms} {e.size:>12} {_local_mtime(e):>23} {name}"


def _local_mtime(e: Entry) -> str:
    """The mtime for a person, in this zone as rwc shows times: ``2026-12-06 21:00 +09:00``."""
    from datetime import UTC, datetime  # noqa: PLC0415 - as in _mtime (issue 15)

    try:
        when = datetime.fromtimestamp(e.mtime_s, UTC).astimezone()
    except (OverflowError, ValueError, OSError):
        return f"@{e.mtime_s}"
    offset = when.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    hours, mins = divmod(abs(minutes), 60)
    return f"{when:%Y-%m-%d %H:%M} {'-' if minutes < 0 else '+'}{hours:02d}:{mins:02d}"


def run_ls(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """List entries."""
    with _opened(args, ui, env) as (container, receipt):
        entries = container.entries()
    if not ui.json_mode:
        for e in entries:
            ui.data(_entry_line(e, args.long))
    ui.result("ls", {"entries": [_entry_json(e) for e in entries], **receipt}, None)


def run_cat(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Write one file entry to stdout.

    The library's open_entry authenticates each chunk before returning any of its bytes, so
    everything written to stdout is authenticated plaintext. If a later chunk fails, a
    prefix has already been written; the exit code (8) says the output is incomplete.
    """
    out = ui.stdout.buffer
    with _opened(args, ui, env) as (container, receipt):
        with container.open_entry(args.path) as f:
            out.flush()
            _widen_pipe(out)
            for piece in f.views():  # whole authenticated chunks, no copies
                out.write(piece)
        out.flush()
    if ui.json_mode:  # stdout holds the data: the result goes to stderr
        doc = {"ok": True, "command": "cat", "path": args.path, **receipt, "warnings": ui.warnings}
        ui.stderr.write(json.dumps(doc, ensure_ascii=False) + "\n")


def _widen_pipe(out: Any) -> None:
    """Give a pipe on stdout a 1 MiB buffer (Linux), so each chunk is one write.

    The default 64 KiB pipe makes the writer sleep and wake sixteen times per 1 MiB chunk;
    a failure (not a pipe, not Linux, above the system's pipe-max-size) changes nothing.
    """
    try:
        import fcntl  # noqa: PLC0415 - POSIX only

        fcntl.fcntl(out.fileno(), fcntl.F_SETPIPE_SZ, CAT_PIPE_SIZE)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def run_verify(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Authenticate the whole payload and index; write nothing."""
    with (
        _opened(args, ui, env) as (container, receipt),
        ui.progress(say("progress_verifying", ui.lang)) as progress,
    ):
        container.verify(progress=progress)
        count = len(container.entries())
    said = "verify_ok_one" if count == 1 else "verify_ok"
    ui.result(
        "verify",
        {"valid": True, "entries": count, **receipt},
        say(said, ui.lang, container=args.container, count=count),
    )


def run_info(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Print the header (offline)."""
    from pycontainer.reader import read_header  # noqa: PLC0415

    del env
    path = _container_path(args.container)
    h = read_header(path)
    slots = [
        {
            "url": s.url,
            "container_id": b64(s.container_id),
            "public_key": b64(s.public_key),
            "argon2": {"m": s.argon2.m, "t": s.argon2.t, "p": s.argon2.p},
        }
        for s in h.slots
    ]
    data = {
        "version": h.version,
        "suite": h.suite,
        "chunk_size": h.chunk_size,
        "header_length": h.header_length,
        "payload_length": h.payload_length,
        "slots": slots,
        "unknown_slots": h.unknown_slots,
    }
    if ui.json_mode:
        ui.result("info", data, None)
    else:
        from pycontainer.cli.info import header_lines  # noqa: PLC0415 - info's text only

        ui.data("\n".join(header_lines(path, h, ui.lang)))
