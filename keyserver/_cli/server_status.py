"""``keyserver status [CONTAINER]``: a container's status, or the server's public identity.

Without a container id the command shows what a journalist or a witness needs to check
the city's claims (spec §transparency): the transparency log's name (origin), its public
key (a C2SP signed-note verifier key), the newest checkpoint, and where all of it is
published without a token (``/.well-known/rwc-log-key`` and ``/v1/tlog``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyserver._cli.errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, CliError
from keyserver._domain.i18n import N_, Message, ngettext
from keyserver._domain.transparency import TransparencyError
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.note import parse_note

if TYPE_CHECKING:
    from keyserver._cli.backend import Backend
    from keyserver._cli.context import Context


def cmd_status(ctx: Context, b: Backend) -> int:
    """``status CONTAINER`` (a container) or ``status`` (the transparency log)."""
    if ctx.args.container:
        ctx.out.record(b.status(ctx.args.container), title=N_("container"))
        return EXIT_OK
    doc, problem = log_status(b)
    if ctx.out.as_json:
        ctx.out.json(doc)
        return EXIT_OK
    log = doc["transparency_log"]
    if log is None:
        ctx.out.text(N_("transparency log: none (%(problem)s)", problem=problem))
        return EXIT_OK
    say = ctx.out.say
    shown = {
        say(N_("name (origin)")): log["origin"],
        say(N_("public key")): log["log_key"],
        say(N_("witness keys")): log["witness_keys"],
        say(N_("cosignatures reports need")): log["min_cosignatures"],
        say(N_("latest checkpoint")): say(_checkpoint_line(log["latest_checkpoint"])),
        say(N_("published at")): log["published_at"],
    }
    ctx.out.record(shown, title=N_("transparency log"))
    return EXIT_OK


def log_status(b: Backend) -> tuple[dict[str, Any], str | Message | None]:
    """The log's identity and newest checkpoint (``--json``); why there is none, for people.

    The second value is the refusal's own message (in the command's language when the
    catalogue has it), None when there is a log.
    """
    try:
        info = b.log_info()
    except CliError as exc:
        if exc.exit_code != EXIT_NOT_FOUND:
            raise
        # A server without a log key answers not-found saying how to create one.
        return {"transparency_log": None, "problem": exc.message}, exc.shown_message
    note = b.latest_checkpoint()
    return {
        "transparency_log": {
            "origin": info.get("origin"),
            "log_key": info.get("log_key"),
            "witness_keys": info.get("witness_keys", []),
            "min_cosignatures": info.get("min_cosignatures"),
            "latest_checkpoint": None if note is None else _checkpoint_doc(note),
            "published_at": b.published_at(),
        }
    }, None


def _checkpoint_doc(text: str) -> dict[str, Any]:
    """Size, root hash and cosignature count of a checkpoint note (parsed strictly)."""
    try:
        note = parse_note(text.encode("utf-8"))
        cp = Checkpoint.parse(note.text)
    except TransparencyError as exc:
        raise CliError(
            N_("the key server sent a checkpoint that does not parse: %(reason)s", reason=exc),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc
    return {
        "size": cp.size,
        "root_hash": cp.root_hash.hex(),
        # The log's own signature is the first line; the others are witnesses'.
        "cosignatures": max(0, len(note.signatures) - 1),
        "checkpoint": text,
    }


def _checkpoint_line(cp: dict[str, Any] | None) -> Message:
    if cp is None:
        return N_("none yet (`keyserver checkpoint`, or wait checkpoint_interval)")
    # Two counts, each a plural of its own ("1 entry", "0 cosignatures"): one ngettext
    # picks a form for one number only.
    return N_(
        "%(entries)s, root %(root)s, %(cosignatures)s",
        entries=ngettext("%(count)s entry", "%(count)s entries", cp["size"], count=cp["size"]),
        root=cp["root_hash"],
        cosignatures=ngettext(
            "%(count)s cosignature",
            "%(count)s cosignatures",
            cp["cosignatures"],
            count=cp["cosignatures"],
        ),
    )
