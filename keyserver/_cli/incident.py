"""The official's commands after a loss: media, report-loss, suspend/restore/destroy, report.

spec §cli, §media: everything here names a medium, a container or an issuer that an
official typed under stress. The server matches media by their canonical key and answers
``not-found`` with the nearest existing names; these handlers show what a destructive or
short-waiting action will affect (count and labels) and ask ONCE before doing it
(``--yes`` for scripts), and render the medium report's three-way answer with the times
in the display zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from keyserver._cli import paging
from keyserver._cli.approvals import affects_line, print_requested
from keyserver._cli.backend import Action, Backend, Scope
from keyserver._cli.config import parse_duration
from keyserver._cli.errors import EXIT_OK, EXIT_USAGE, CliError
from keyserver._domain import people
from keyserver._domain.answers import answer_first, as_read, depends_views
from keyserver._domain.durations import format_duration
from keyserver._domain.i18n import N_, Message, ngettext
from keyserver._domain.report_words import answer_name, depends_said, meanings, told_view
from keyserver._domain.settings import Settings

if TYPE_CHECKING:
    from keyserver._cli.context import Context

REPORT_COLUMNS = ("seq", "at", "actor", "action", "kind", "outcome", "reason", "remote")
CHANGE_COLUMNS = ("seq", "at", "actor", "action", "cause", "reason")
MEDIA_COLUMNS = ("medium", "containers", "states", "lost_at", "loss_reported_at", "created_at")
SUMMARY_KEYS = (
    "container_id",
    "label",
    "people",
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


_SCOPE_NAMES: dict[Scope, Message] = {
    "container": N_("container %(name)s"),
    "medium": N_("medium %(name)s"),
    "issuer": N_("issuer %(name)s"),
}
CONFIRM_DESTROY = N_("Destroy their keys now? They can never be opened again.")


def _confirm_listing(
    ctx: Context, b: Backend, scope: Scope, target: str, question: Message
) -> None:
    """Show what the action affects, then ask once (spec §cli)."""
    if ctx.opt("yes", default=False):
        return
    count, labels, name = _preview(b, scope, target)
    say, out = ctx.out.say, ctx.out
    shown = f"{count}" if count >= 0 else f"{PREVIEW_LABELS}+"
    # Names and labels are the server's text: through cell() (Context.confirm says why).
    what = Message(_SCOPE_NAMES[scope].msgid, {"name": out.cell("target", name).plain})
    # "20+" (count < 0: the preview stopped counting) takes the plural.
    lines = [say(affects_line(count if count >= 0 else PREVIEW_LABELS + 1, shown, what))]
    lines += [f"  - {out.cell('label', label).plain}" for label in labels]
    if count > len(labels):
        lines.append(say(N_("  ... and %(count)s more", count=count - len(labels))))
    ctx.confirm("\n".join([*lines, say(question)]))


_CHANGED: dict[Action, Callable[[int], Message]] = {
    "suspend": lambda n: ngettext(
        "suspend: %(count)s container changed", "suspend: %(count)s containers changed", n, count=n
    ),
    "restore": lambda n: ngettext(
        "restore: %(count)s container changed", "restore: %(count)s containers changed", n, count=n
    ),
    "destroy": lambda n: ngettext(
        "destroy: %(count)s container changed", "destroy: %(count)s containers changed", n, count=n
    ),
}


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
        raise CliError(N_("--cause applies to restore only"), exit_code=EXIT_USAGE)

    if action == "destroy":
        _confirm_listing(ctx, b, scope, target, CONFIRM_DESTROY)
    result = b.act(action, scope, target, a.reason, a.public_reason, cause=cause)
    if print_requested(ctx, result):  # spec §approvals: a second official must approve
        return EXIT_OK
    if ctx.out.as_json:
        ctx.out.json(result)
        return EXIT_OK
    ctx.out.text(_CHANGED[action](int(result.get("affected", 0))))
    for cid in result.get("container_ids", []):
        ctx.out.text(f"  {cid}")
    for left_cause, n in sorted(dict(result.get("left_suspended") or {}).items()):
        ctx.out.text(
            ngettext(
                "left suspended: %(count)s container, cause %(cause)s",
                "left suspended: %(count)s containers, cause %(cause)s",
                n,
                count=n,
                cause=left_cause,
            )
        )
    return EXIT_OK


def cmd_reset_budget(ctx: Context, b: Backend) -> int:
    """``reset-budget CONTAINER --reason R``: an active container's attempt count to 0.

    spec §receipt, §cli: not destructive, but it gives whoever made the unconfirmed attempts
    (the reader, or someone guessing the password) the whole budget again. So, as the
    console's reset does (issue 12), the container is looked up first (an id that matches
    nothing fails here with the nearest ids, before anything is asked), what the reset
    affects is said, and the official is asked once (``--yes`` for scripts).
    """
    a = ctx.args
    if not ctx.opt("yes", default=False):
        doc = b.status(a.container)
        # Only an active container has a count to reset; any other is refused by the
        # server below (conflict: restore it; destroyed), with nothing to confirm first.
        if doc.get("state") == "active":
            # Not destructive: the refusal without a terminal says what it would have done.
            refusal = ngettext(
                "refusing to reset the attempt count of %(count)s container without confirmation",
                "refusing to reset the attempt count of %(count)s containers without confirmation",
                1,
                count=1,
            )
            ctx.confirm("\n".join(_reset_lines(ctx, doc)), refusal=refusal)
    result = b.reset_budget(a.container, a.reason)
    if ctx.out.as_json:
        ctx.out.json(result)
        return EXIT_OK
    before = result.get("unconfirmed_before")
    ctx.out.text(N_("The attempt count is reset: it was %(n)s, it is now 0.", n=before))
    return EXIT_OK


def _reset_lines(ctx: Context, doc: dict[str, Any]) -> list[str]:
    """What a reset affects, in the words of the console's confirmation (confirm_reset.html)."""
    say, out = ctx.out.say, ctx.out
    budget = int(doc.get("attempt_budget") or 0)
    # Labels and media are the server's text: through cell(), which makes them safe for a
    # terminal (no control characters or escape sequences).
    label = out.cell("label", doc.get("label")).plain
    used = N_("%(used)s of %(budget)s", used=doc.get("unconfirmed"), budget=budget)
    after = N_("%(used)s of %(budget)s", used=0, budget=budget)
    facts = {
        "container_id": out.cell("container_id", doc.get("container_id")).plain,
        "medium": out.cell("medium", doc.get("medium")).plain,
        "state": out.cell("state", doc.get("state")).plain,
        "unconfirmed": f"{say(used)} -> {say(after)}",
    }
    return [
        say(N_("Reset the attempt count of %(label)s", label=label)),
        *(f"  {out.label(key)}: {value}" for key, value in facts.items()),
        say(
            ngettext(
                "Its readers get %(n)s attempt without the right password again before the "
                "container suspends itself.",
                "Its readers get %(n)s attempts without the right password again before the "
                "container suspends itself.",
                budget,
                n=budget,
            )
        ),
        say(
            N_(
                "Reset only after its reader confirms the attempts were their own (keyserver "
                "audit list --container %(id)s lists them): attempts by anyone else may be "
                "someone guessing the password.",
                id=facts["container_id"],
            )
        ),
        say(N_("Reset the count to 0?")),
    ]


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
            N_(
                "%(option)s %(value)s is not a time with its offset",
                option=option,
                value=repr(text),
            ),
            hint=N_("write e.g. 2022-06-21T18:30+09:00 (the offset says which zone)"),
            exit_code=EXIT_USAGE,
        )
    return parsed.isoformat()


def cmd_report_loss(ctx: Context, b: Backend) -> int:
    """``report-loss --medium M [--lost-at T [--told-at T]] [--now | --waiting-period D]``."""
    a = ctx.args
    if a.now and a.waiting_period:
        raise CliError(N_("--now and --waiting-period exclude each other"), exit_code=EXIT_USAGE)
    wait = parse_duration(a.waiting_period, flag="--waiting-period") if a.waiting_period else None
    lost_at = _time_option(a.lost_at, "--lost-at")
    told_at = _time_option(a.told_at, "--told-at")

    if a.now:
        _confirm_listing(ctx, b, "medium", a.medium, CONFIRM_DESTROY)
    elif wait is not None and wait < _short_wait(ctx):
        when = ctx.out.cell("at", (datetime.now(UTC) + wait).isoformat()).plain
        minimum = format_duration(_short_wait(ctx))
        question = N_(
            "The keys will be destroyed at %(when)s, in less than %(minimum)s. Continue?",
            when=when,
            minimum=minimum,
        )
        _confirm_listing(ctx, b, "medium", a.medium, question)
    result = b.report_loss(
        a.medium,
        a.reason,
        a.public_reason,
        now=a.now,
        waiting_period_seconds=None if wait is None else int(wait.total_seconds()),
        lost_at=lost_at,
        told_at=told_at,
        replace_earlier=a.replace_earlier,
    )
    if print_requested(ctx, result):  # spec §approvals: with --now, a bulk destroy
        return EXIT_OK
    if ctx.out.as_json:
        ctx.out.json(result)
        return EXIT_OK
    medium = result.get("medium", a.medium)
    shown = {k: v for k, v in result.items() if k not in _EARLIER_KEYS}
    ctx.out.record(shown, title=N_("loss report for %(medium)s", medium=medium))
    _say_earlier(ctx, result)
    return EXIT_OK


# What a report answers about an earlier one of the same medium (spec §loss): said in
# sentences below the table, not as raw members.
_EARLIER_KEYS = frozenset({"earlier_report", "requested", "kept_earlier", "replaced_earlier"})
_KEPT: dict[str, Message] = {
    "lost_at": N_("kept the earlier time of loss %(kept)s (this report said %(asked)s)"),
    "destroy_after": N_(
        "kept the earlier destroy deadline %(kept)s (this report would have set %(asked)s)"
    ),
}


def _say_earlier(ctx: Context, result: dict[str, Any]) -> None:
    """Tell the official that the medium had been reported before, and what was kept."""
    earlier = result.get("earlier_report")
    if not isinstance(earlier, dict):
        return
    asked = result.get("requested") or {}

    def at(value: Any) -> str:
        return ctx.out.cell("at", value).plain

    reported = at(earlier.get("loss_reported_at"))
    ctx.out.text(N_("This medium was already reported lost at %(at)s.", at=reported))
    if result.get("replaced_earlier"):
        ctx.out.text(N_("Its time of loss and destroy deadline are replaced by this report's."))
        return
    kept = [k for k in result.get("kept_earlier") or [] if k in _KEPT]
    for key in kept:
        values = {"kept": at(earlier.get(key)), "asked": at(asked.get(key))}
        ctx.out.text(Message(_KEPT[key].msgid, values))
    if kept:
        ctx.out.text(N_("To use this report's times instead, run it again with --replace-earlier."))


def cmd_media(ctx: Context, b: Backend) -> int:
    """``media list`` and ``media show MEDIUM``."""
    a = ctx.args

    if a.sub == "show":
        ctx.out.record(b.medium_info(a.medium), title=N_("medium"))
        return EXIT_OK
    page = b.media_list(a.after, paging.page_size(a.limit))
    if ctx.out.as_json:
        ctx.out.json(page)
        return EXIT_OK
    ctx.out.rows(page.get("media", []), MEDIA_COLUMNS, title=N_("media"))
    if page.get("next"):
        ctx.out.note(N_("more: --after %(next)s", next=page["next"]))
    return EXIT_OK


def _say_depends(ctx: Context, view: dict[str, Any] | None, told: str, named: set[str]) -> None:
    """What the answer is either side of the time told (answers.depends_view).

    In the console's report's lines (report_words.depends_said): a line per case, the time
    told's first, and under each, indented, a line per container it names, who and when
    in the display zone. ``named``: the readers said so far (who they are is said once).
    """
    if view is None:
        return
    out = ctx.out

    def at(value: Any) -> str:
        return out.time(str(value))

    def join(names: Sequence[str | Message]) -> str:
        return ", ".join(out.say(n) for n in names)

    for line, events in depends_said(view, told, at, named, join):
        out.text(line)
        for event in events:
            out.text(event, indent=2)


def _say_times(ctx: Context, doc: dict[str, Any]) -> None:
    """The time of loss, or the time told and the period covered, as the report's facts.

    Issue 12, twentieth session (the console's words): the time told is said as told
    ("around 17:41 (as told)", to the minute unless told with seconds), and what the
    report covers as a period from the earlier time; a report whose window is not its
    time of loss (``--since``) says that period too.
    """
    out = ctx.out
    told, lost, start = told_view(doc), doc.get("lost_at"), doc.get("window_start")
    if told is not None:
        shown = out.time(str(told["at"]), seconds=told["seconds"])
        _fact(ctx, N_("Lost at"), N_("around %(at)s (as told)", at=shown))
    elif lost:
        _fact(ctx, N_("Lost at"), out.time(str(lost)))
    if start and (told is not None or start != lost):
        _fact(ctx, N_("Period covered"), N_("from %(at)s", at=out.time(str(start))))


def _fact(ctx: Context, name: Message, value: str | Message) -> None:
    """One fact of the report as a line: the console's row name, then its value."""
    ctx.out.text(f"{ctx.out.say(name)}: {ctx.out.say(value)}")


def cmd_report(ctx: Context, b: Backend) -> int:
    """``report --medium M [--since T]``: was it opened after the loss? (three-way).

    Issue 12, twenty-first session: said in the console's report's words (one catalogue,
    report_words): the answer's name, the lines it depends on the time of loss, the time
    told and the period covered, and what each answer said means; ``--json`` unchanged.
    """
    a = ctx.args

    doc = b.medium_report(a.medium, since=_time_option(a.since, "--since"))
    if ctx.out.as_json:
        ctx.out.json(doc)
        return EXIT_OK
    medium = str(doc.get("medium", a.medium))
    read = as_read(doc.get("answer"), doc.get("answer_from_told_at"))
    ctx.out.text(N_("Medium %(medium)s: %(answer)s", medium=medium, answer=answer_name(read)))
    containers = doc.get("containers", [])
    told = told_view(doc)
    # Said once where first named, on the whole text as on the console's page.
    named: set[str] = set()
    depends, depends_each = depends_views(doc) if doc.get("told_at") else (None, {})
    # As told: to the minute unless told with seconds (told_view; None when the time told is
    # the time of loss, where no line depends on it).
    seconds = told is None or bool(told["seconds"])
    told_at = ctx.out.time(str(doc["told_at"]), seconds=seconds) if doc.get("told_at") else ""
    _say_depends(ctx, depends, told_at, named)
    _say_times(ctx, doc)
    # spec §report "How many people": the writers' declarations, an upper bound.
    bound = [ctx.out.say(part) for part in people.up_to_said(doc)]
    if bound:
        ctx.out.text(N_("Personal data: %(said)s", said=" / ".join(bound)))
    # What the answers said mean, as the printed report's legend (it is read by people
    # who never saw the console; a terminal's text is pasted into mails the same way):
    # those the text says, the depends lines' either side of the time told included.
    said = {read}
    for c in containers:
        said |= {c.get("answer"), c.get("answer_from_told_at")}
        said.add(as_read(c.get("answer"), c.get("answer_from_told_at")))
    for line in meanings(said):
        ctx.out.text(line)
    # The answer first, as on the console's report (issue 12); --json keeps the id order.
    for container in answer_first(containers):
        summary = {k: container.get(k) for k in SUMMARY_KEYS if k in container}
        summary["answer"] = ctx.out.say(
            answer_name(as_read(container.get("answer"), container.get("answer_from_told_at")))
        )
        if summary.get("people") is None:
            summary.pop("people", None)  # not declared: said nothing, never "0 people"
        else:
            summary["people"] = ctx.out.say(people.said(summary["people"]))
        last = container.get("last_confirmed_open_before_loss")
        if isinstance(last, dict):
            at = ctx.out.cell("at", last.get("at"))
            summary["last_confirmed_open_before_loss"] = (
                f"{at} {last.get('actor')} ({last.get('remote')})"
            )
        ctx.out.record(summary, title=N_("medium %(name)s", name=medium))
        if doc.get("told_at"):
            _say_depends(ctx, depends_each.get(container["container_id"]), told_at, named)
        ctx.out.rows(container.get("state_changes", []), CHANGE_COLUMNS, title=N_("changes"))
        ctx.out.rows(container.get("attempts", []), REPORT_COLUMNS, title=N_("attempts"))
    return EXIT_OK
