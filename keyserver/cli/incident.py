"""The official's commands after a loss: media, report-loss, suspend/restore/destroy, report.

spec §cli, §media: everything here names a medium, a container or an issuer that an
official typed under stress. The server matches media by their canonical key and answers
``not-found`` with the nearest existing names; these handlers show what a destructive or
short-waiting action will affect (count and labels) and ask ONCE before doing it
(``--yes`` for scripts), and render the medium report's three-way answer with the times
in the display zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from keyserver.cli.approvals import print_requested
from keyserver.cli.backend import Action, Backend, Scope
from keyserver.cli.config import parse_duration
from keyserver.cli.errors import EXIT_OK, EXIT_USAGE, CliError
from keyserver.cli.messages import say
from keyserver.domain.durations import format_duration
from keyserver.domain.settings import Settings

if TYPE_CHECKING:
    from keyserver.cli.context import Context

REPORT_COLUMNS = ("seq", "at", "actor", "action", "outcome", "reason", "remote")
CHANGE_COLUMNS = ("seq", "at", "actor", "action", "cause", "reason")
MEDIA_COLUMNS = ("medium", "containers", "states", "lost_at", "loss_reported_at", "created_at")
SUMMARY_KEYS = (
    "container_id",
    "label",
    "issuer",
    "state",
    "suspend_cause",
    "answer",
    "lost_at",
    "loss_reported_at",
    "destroy_after",
    "destroyed_at",
    "releases_after_loss",
    "confirmed_after_loss",
    "last_confirmed_open_before_loss",
)
# Labels listed in a confirmation before "... and N more".
PREVIEW_LABELS = 10
_DEFAULT_SHORT_WAIT: timedelta = Settings(database_url="sqlite://").short_waiting_period


def _preview(b: Backend, scope: Scope, target: str) -> tuple[int, list[str], str]:
    """(count, labels, name) of the containers an action on ``scope``/``target`` addresses.

    Looked up on the server first, so a name that matches nothing fails here with
    ``not-found`` and the nearest names, before anyone is asked to confirm anything.
    """
    if scope == "container":
        status = b.status(target)
        return 1, [str(status.get("label"))], target
    if scope == "medium":
        info = b.medium_info(target)
        count = int(info.get("containers", 0))
        target = str(info.get("medium", target))
    page = b.search({scope: target}, PREVIEW_LABELS, None)
    labels = [str(c.get("label")) for c in page.get("containers", [])]
    if scope == "issuer":
        count = len(labels) if page.get("next") is None else -1
    return count, labels, target


def _confirm_listing(ctx: Context, b: Backend, scope: Scope, target: str, question: str) -> None:
    """Show what the action affects, then ask once (spec §cli)."""
    if ctx.opt("yes", default=False):
        return
    count, labels, name = _preview(b, scope, target)
    lang = ctx.out.lang
    shown = f"{count}" if count >= 0 else f"{PREVIEW_LABELS}+"
    lines = [say("affects", lang, count=shown, what=f"{scope} {name}")]
    lines += [f"  - {label}" for label in labels]
    if count > len(labels):
        lines.append(say("and_more", lang, count=count - len(labels)))
    ctx.confirm("\n".join([*lines, question]))


def cmd_act(ctx: Context, b: Backend) -> int:
    """``suspend|restore|destroy (CONTAINER | --medium M | --issuer P) [--cause C]``."""
    a = ctx.args
    action: Action = a.command
    scope: Scope
    if a.medium is not None:
        scope, target = "medium", a.medium
    elif a.issuer is not None:
        scope, target = "issuer", a.issuer
    else:
        scope, target = "container", a.container
    cause = getattr(a, "cause", None)
    if cause is not None and action != "restore":
        raise CliError("--cause applies to restore only", exit_code=EXIT_USAGE)

    if action == "destroy":
        _confirm_listing(ctx, b, scope, target, say("confirm_destroy", ctx.out.lang))
    result = b.act(action, scope, target, a.reason, a.public_reason, cause=cause)
    if print_requested(ctx, result):  # spec §approvals: a second official must approve
        return EXIT_OK
    if ctx.out.as_json:
        ctx.out.json(result)
        return EXIT_OK
    lang = ctx.out.lang
    ctx.out.text(say("changed", lang, action=action, count=result.get("affected", 0)))
    for cid in result.get("container_ids", []):
        ctx.out.text(f"  {cid}")
    for left_cause, n in sorted(dict(result.get("left_suspended") or {}).items()):
        ctx.out.text(say("left_suspended", lang, count=n, cause=left_cause))
    return EXIT_OK


def _short_wait(ctx: Context) -> timedelta:
    """Waiting periods below this ask for a confirmation (setting short_waiting_period)."""
    text = getattr(ctx.args, "set_short_waiting_period", None) or ctx.resolved.settings_env.get(
        "KEYSERVER_SHORT_WAITING_PERIOD"
    )
    return parse_duration(text, flag="short_waiting_period") if text else _DEFAULT_SHORT_WAIT


def _time_option(text: str | None, option: str) -> str | None:
    """A time option as RFC 3339 (a time without an offset is refused: ambiguous)."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CliError(
            f"{option} {text!r} is not a time with its offset",
            hint="write e.g. 2022-06-21T18:30+09:00 (the offset says which zone)",
            exit_code=EXIT_USAGE,
        )
    return parsed.isoformat()


def cmd_report_loss(ctx: Context, b: Backend) -> int:
    """``report-loss --medium M [--lost-at T] [--now | --waiting-period D] --reason TEXT``."""
    a = ctx.args
    if a.now and a.waiting_period:
        raise CliError("--now and --waiting-period exclude each other", exit_code=EXIT_USAGE)
    wait = parse_duration(a.waiting_period, flag="--waiting-period") if a.waiting_period else None
    lost_at = _time_option(a.lost_at, "--lost-at")
    lang = ctx.out.lang

    if a.now:
        _confirm_listing(ctx, b, "medium", a.medium, say("confirm_destroy", lang))
    elif wait is not None and wait < _short_wait(ctx):
        when = ctx.out.cell("at", (datetime.now(UTC) + wait).isoformat())
        minimum = format_duration(_short_wait(ctx))
        question = say("confirm_short_wait", lang, when=when, minimum=minimum)
        _confirm_listing(ctx, b, "medium", a.medium, question)
    result = b.report_loss(
        a.medium,
        a.reason,
        a.public_reason,
        now=a.now,
        waiting_period_seconds=None if wait is None else int(wait.total_seconds()),
        lost_at=lost_at,
    )
    if print_requested(ctx, result):  # spec §approvals: with --now, a bulk destroy
        return EXIT_OK
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        ctx.out.record(result, title=f"loss report for {result.get('medium', a.medium)}")
    return EXIT_OK


def cmd_media(ctx: Context, b: Backend) -> int:
    """``media list`` and ``media show MEDIUM``."""
    a = ctx.args

    if a.sub == "show":
        ctx.out.record(b.medium_info(a.medium), title="medium")
        return EXIT_OK
    page = b.media_list(a.after, a.limit)
    if ctx.out.as_json:
        ctx.out.json(page)
        return EXIT_OK
    ctx.out.rows(page.get("media", []), MEDIA_COLUMNS, title="media")
    if page.get("next"):
        ctx.out.note(f"more: --after {page['next']}")
    return EXIT_OK


def _answer_text(answer: str | None, lang: str) -> str:
    key = {
        "opened": "answer_opened",
        "possibly opened": "answer_possibly_opened",
        "not opened": "answer_not_opened",
    }.get(answer or "", "answer_no_loss")
    return say(key, lang)


def cmd_report(ctx: Context, b: Backend) -> int:
    """``report --medium M [--since T]``: was it opened after the loss? (three-way)."""
    a = ctx.args

    doc = b.medium_report(a.medium, since=_time_option(a.since, "--since"))
    if ctx.out.as_json:
        ctx.out.json(doc)
        return EXIT_OK
    lang = ctx.out.lang
    medium = str(doc.get("medium", a.medium))
    since = doc.get("window_start")
    ctx.out.text(
        say(
            "report_headline",
            lang,
            medium=medium,
            answer=_answer_text(doc.get("answer"), lang),
            since=ctx.out.cell("at", since) if since else "-",
        )
    )
    for container in doc.get("containers", []):
        summary = {k: container.get(k) for k in SUMMARY_KEYS if k in container}
        summary["answer"] = _answer_text(container.get("answer"), lang)
        last = container.get("last_confirmed_open_before_loss")
        if isinstance(last, dict):
            at = ctx.out.cell("at", last.get("at"))
            summary["last_confirmed_open_before_loss"] = (
                f"{at} {last.get('actor')} ({last.get('remote')})"
            )
        ctx.out.record(summary, title=f"medium {medium}")
        ctx.out.rows(container.get("state_changes", []), CHANGE_COLUMNS, title="changes")
        ctx.out.rows(container.get("attempts", []), REPORT_COLUMNS, title="attempts")
    return EXIT_OK
