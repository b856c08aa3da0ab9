"""``keyserver audit list|export|verify``: read, export and verify the audit log.

Verification (spec §audit) is resumable: ``--from-head SEQ:HASH`` checks only the entries
after a head an earlier run verified, and ``--state FILE`` keeps that head between runs (read
at the start, replaced atomically after a successful run). Over ``--server`` the chain is
verified in pages of :data:`REMOTE_PAGE` entries, each a short request continuing from the
head the previous one returned, so a log of millions of entries never outlasts a read
timeout and neither side holds more than a page in memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from keyserver._cli import paging
from keyserver._cli.backend import Backend, Json
from keyserver._cli.context import Context
from keyserver._cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from keyserver._cli.files import written_text
from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_, ngettext
from keyserver._domain.validation import parse_head
from pycontainer.cli.strictargs import file_name

AUDIT_COLUMNS = ("seq", "at", "actor", "action", "container", "outcome")
# Entries per remote verify request: about a second of the server's time, far below any
# read timeout (the client's 30 s, a proxy's), and well under the server's own cap.
REMOTE_PAGE = 50_000
_HEAD_HINT = N_("pass head_seq:head_hash as printed by an earlier `keyserver audit verify`")


def add_verify_options(p: argparse.ArgumentParser) -> None:
    """The options of ``audit verify`` (registered by keyserver/_cli/parser.py)."""
    p.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        help=N_(
            "a head recorded earlier (head_seq:head_hash); detects truncation of the tail"
        ).msgid,
    )
    p.add_argument(
        "--from-head",
        metavar="SEQ:HASH",
        help=N_("verify only the entries after this head, which an earlier run verified").msgid,
    )
    p.add_argument(
        "--state",
        type=file_name,
        metavar="FILE",
        help=N_(
            "keep the verified head in FILE: start after it, replace it when the chain "
            "verifies (the first run, without FILE, verifies everything)"
        ).msgid,
    )


def cmd_audit(ctx: Context, b: Backend) -> int:
    """``audit list|export|verify``."""
    a = ctx.args
    if a.sub == "list":
        limit = paging.page_size(a.limit)
        filters = {
            k: v
            for k, v in (("container", a.container), ("action", a.action), ("actor", a.actor))
            if v is not None
        }
        page = b.audit_list(filters, a.after_seq, limit)
        if ctx.out.as_json:
            ctx.out.json(page)
        else:
            ctx.out.rows(page.get("entries", []), AUDIT_COLUMNS, title=N_("audit entries"))
            if page.get("next_after_seq") is not None:
                ctx.out.note(N_("more: --after-seq %(next)s", next=page["next_after_seq"]))
        return EXIT_OK
    if a.sub == "export":
        return _export(ctx, b)
    return _verify(ctx, b)


def _verify(ctx: Context, b: Backend) -> int:
    a = ctx.args
    expected = _parse_head(a.expect_head, "--expect-head") if a.expect_head else None
    if a.from_head is not None and a.state is not None:
        raise CliError(
            N_("--from-head and --state both name where to start"),
            hint=N_("use --state FILE alone (it keeps the head), or --from-head alone"),
            exit_code=EXIT_USAGE,
        )
    state = Path(a.state) if a.state is not None else None
    start = _parse_head(a.from_head, "--from-head") if a.from_head else None
    if state is not None:
        start = _read_state(state)
    result = verify_pages(b, expected, start, ctx.remote)
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        ctx.out.record(result, title=N_("audit chain"))
    if not result.get("ok"):
        ctx.out.error(
            N_("the audit chain does not verify: %(problem)s", problem=result.get("problem")),
            hint=N_("compare with an exported copy; the chain may have been tampered with"),
            exit_code=EXIT_FAILURE,
        )
        return EXIT_FAILURE
    head = f"{result['head_seq']}:{result['head_hash']}"
    if state is not None:
        _write_state(state, head)
        ctx.out.note(N_("verified head kept in %(state)s: %(head)s", state=state, head=head))
    elif not ctx.out.as_json:
        ctx.out.note(N_("next time, verify only what follows: --from-head %(head)s", head=head))
    return EXIT_OK


def verify_pages(
    b: Backend, expected: tuple[int, bytes] | None, start: tuple[int, bytes] | None, paged: bool
) -> Json:
    """Verify from ``start`` to the head: one call locally, pages over HTTP.

    Each page continues from the head the previous one verified (the server checks that
    head is still in the chain), so the pages together check the same links as one pass.
    """
    if not paged:
        return b.audit_verify(expected, start=start)
    first = 0 if start is None else start[0]
    entries = 0
    while True:
        page = b.audit_verify(expected, start=start, limit=REMOTE_PAGE)
        entries += int(page.get("entries", 0))
        if not page.get("ok") or page.get("complete", True):
            return {**page, "entries": entries, "from_seq": first}
        nxt = (int(page["head_seq"]), bytes.fromhex(str(page["head_hash"])))
        if start is not None and nxt[0] <= start[0]:
            # A server that stops advancing would loop forever; say so instead.
            return {
                **page,
                "ok": False,
                "entries": entries,
                "from_seq": first,
                "problem": "the server's verification stopped advancing",
            }
        start = nxt


def _parse_head(text: str, option: str) -> tuple[int, bytes]:
    """Parse a head with the server's grammar (keyserver._domain.validation)."""
    try:
        return parse_head(text)
    except InvalidRequestError:
        raise CliError(
            N_(
                "%(option)s %(text)s is not SEQ:HASH (decimal seq >= 1, 64 hex digits)",
                option=option,
                text=repr(text),
            ),
            hint=_HEAD_HINT,
            exit_code=EXIT_USAGE,
        ) from None


def _read_state(path: Path) -> tuple[int, bytes] | None:
    """The head kept in ``path``, or None if there is no such file yet (a first run)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(
            N_("cannot read --state %(path)s: %(reason)s", path=path, reason=exc),
            hint=N_("the file holds one line SEQ:HASH written by an earlier run"),
            exit_code=EXIT_USAGE,
        ) from None
    try:
        return parse_head(text)
    except InvalidRequestError:
        raise CliError(
            N_("--state %(path)s does not hold SEQ:HASH", path=path),
            hint=N_(
                "it is written by `keyserver audit verify --state`; remove it to verify "
                "everything again"
            ),
            exit_code=EXIT_USAGE,
        ) from None


def _write_state(path: Path, head: str) -> None:
    """Replace ``path`` with ``head`` atomically: a crash leaves the old head or the new."""
    with written_text(path, replace=True, encoding="ascii") as fh:
        fh.write(head + "\n")


def _export(ctx: Context, b: Backend) -> int:
    """Write the chain as JSON Lines to ``-o FILE`` (atomically) or stdout."""
    if ctx.args.output in (None, "-"):
        for line in b.audit_export():
            ctx.out.stdout.write(line + "\n")
        return EXIT_OK
    dest = Path(ctx.args.output)
    count = 0
    # The export is not secret but is evidence: it appears complete or not at all.
    with written_text(dest) as fh:
        for line in b.audit_export():
            fh.write(line + "\n")
            count += 1
    ctx.out.note(
        ngettext(
            "wrote %(count)s audit entry to %(dest)s",
            "wrote %(count)s audit entries to %(dest)s",
            count,
            count=count,
            dest=dest,
        )
    )
    return EXIT_OK
