"""The official's commands after a loss: media, report-loss, suspend/restore/destroy.

spec §cli, §media: everything here names a medium, a container or an issuer that an
official typed under stress. The server matches media by their canonical key and answers
``not-found`` with the nearest existing names; these handlers show what a destructive or
short-waiting action will affect (count and labels) and ask ONCE before doing it
(``--yes`` for scripts). The medium report's text is keyserver/_cli/medium_report.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from keyserver._cli import paging
from keyserver._cli.approvals import affects_line, print_requested
from keyserver._cli.backend import Action, Backend, Scope
from keyserver._cli.config import parse_duration
from keyserver._cli.errors import EXIT_OK, EXIT_USAGE, CliError
from keyserver._domain.durations import format_duration
from keyserver._domain.i18n import N_, Message, ngettext
from keyserver._domain.report_words import told_alone, told_view
from keyserver._domain.settings import Settings
from keyserver._domain.state_words import CAUSE_NAMES

if TYPE_CHECKING:
    from keyserver._cli.context import Context

MEDIA_COLUMNS = ("medium", "containers", "states", "lost_at", "loss_reported_at", "created_at")
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
        # The cause in the console's words, as its result page lists it (cli48: the slug).
        ctx.out.text(
            ngettext(
                "left suspended: %(count)s container, cause %(cause)s",
                "left suspended: %(count)s containers, cause %(cause)s",
                n,
                count=n,
                cause=CAUSE_NAMES.get(left_cause, left_cause),
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


def time_option(text: str | None, option: str) -> str | None:
    """A time option as RFC 3339 (a time without an offset is refused: ambiguous).

    ``report-loss --lost-at/--told-at`` and ``report --since`` (medium_report.py).
    """
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
    lost_at = time_option(a.lost_at, "--lost-at")
    told_at = time_option(a.told_at, "--told-at")

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
    # With a time told other than the time of loss (an approximate time: the report counts
    # from before it, spec §loss told_at), ``lost_at`` is where the report starts counting,
    # named as the console's report names it; "Lost at" beside "Time of loss as told" gave
    # two times of loss (twenty-third session).
    told = result.get("told_at")
    labels = (
        {"lost_at": N_("Period covered from")}
        if told is not None and told != result.get("lost_at")
        else None
    )
    ctx.out.record(shown, title=N_("loss report for %(medium)s", medium=medium), labels=labels)
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

    def said(times: dict[str, Any], key: str) -> str:
        # A time of loss as the time told, "around" it, where the report has one (issue
        # 12, console45: "this report said 09:45:00", the start of the period covered,
        # for "around 10:00"), as the console's banner says it (_macros.html lost_said).
        told = (told_view(times) or told_alone(times)) if key == "lost_at" else None
        if told is None:
            return at(times.get(key))
        return ctx.out.say(
            N_("around %(at)s", at=ctx.out.time(str(told["at"]), seconds=told["seconds"]))
        )

    kept = [k for k in result.get("kept_earlier") or [] if k in _KEPT]
    for key in kept:
        values = {"kept": said(earlier, key), "asked": said(asked, key)}
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
