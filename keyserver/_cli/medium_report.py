"""``keyserver report --medium M``: was it opened after the loss? In the console's words.

spec §report, §cli: the medium report's three-way answer for people at a terminal and for
scripts (``--json``: the document as the API gives it, unchanged). Issue 12, twenty-first
session: what it says is what the console's report says, in the same words from the one
catalogue (keyserver/_domain/report_words.py): the answers' names, the lines of "Depends on
the time of loss" (the time told's case first), the time told and the period covered, the
counts, the legend's meanings, and the headings of each container's tables; the times in
the display zone with their offset. Each container's record and tables name their rows and
columns as the console's report does (cli/labels.py FIELDS: "Made by", not ``issuer``;
issue 12, ops14). Split from incident.py (modules under 500 lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyserver._cli.errors import EXIT_OK
from keyserver._cli.incident import time_option
from keyserver._cli.labels import FIELDS
from keyserver._domain import people
from keyserver._domain.answers import (
    DEPENDS,
    answer_first,
    as_read,
    depends_views,
    headline_view,
)
from keyserver._domain.i18n import N_, Message
from keyserver._domain.report_words import (
    CREATED,
    READER_MEANT,
    answer_name,
    before_told,
    counted_said,
    depends_said,
    headline_said,
    meanings,
    told_alone,
    told_view,
)
from keyserver._domain.state_words import refusal_name

if TYPE_CHECKING:
    from keyserver._cli.backend import Backend
    from keyserver._cli.context import Context

REPORT_COLUMNS = ("seq", "at", "actor", "action", "kind", "outcome", "reason", "remote")
CHANGE_COLUMNS = ("seq", "at", "actor", "action", "cause", "reason")
# Not the time of loss: said once, under the answer, as the console's report does (issue 12,
# twenty-first session: a container's "Lost at 17:40:15" under "Lost at: around 17:41 (as
# told)" read as two times of loss).
SUMMARY_KEYS = (
    "container_id",
    "label",
    "people",
    "issuer",
    "state",
    "suspend_cause",
    "answer",
    "loss_reported_at",
    "destroy_after",
    "destroyed_at",
    "releases_after_loss",
    "confirmed_after_loss",
    "last_confirmed_open_before_loss",
)


def _say_depends(ctx: Context, view: dict[str, Any] | None, told: str) -> None:
    """What the answer is either side of the time told (answers.depends_view).

    In the console's report's lines (report_words.depends_said): a line per case, the time
    told's first, times in the display zone with their date, and under each, indented, a
    line per file it names, with its own answer there and to whom by role (the names in
    its record and tables below).
    """
    if view is None:
        return
    out = ctx.out

    def at(value: Any) -> str:
        return out.time(str(value))

    for line, events in depends_said(view, told, at):
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
    around = told or told_alone(doc)  # told as approximate: the one row, "around"
    if around is not None:
        shown = out.time(str(around["at"]), seconds=around["seconds"])
        _fact(ctx, N_("Lost at"), N_("around %(at)s (as told)", at=shown))
    elif lost:
        _fact(ctx, N_("Lost at"), out.time(str(lost)))
    if start and (told is not None or start != lost):
        _fact(ctx, N_("Period covered"), N_("from %(at)s", at=out.time(str(start))))


def _fact(ctx: Context, name: Message, value: str | Message) -> None:
    """One fact of the report as a line: the console's row name, then its value."""
    ctx.out.text(f"{ctx.out.say(name)}: {ctx.out.say(value)}")


def _with_counts(
    ctx: Context, summary: dict[str, Any], container: dict[str, Any], doc: dict[str, Any]
) -> dict[str, Any]:
    """A container's record with its counts under the console's box's names and phrases.

    Issue 12 (the console's report, nineteenth and twentieth sessions): with a time told,
    "after the loss 1" was reported as "opened after the loss"; the counts then say the
    time they start from and how many came before the time told (report_words).
    """
    out, told = ctx.out, told_view(doc)
    early = before_told(container, doc.get("told_seq")) if told is not None else None
    released = int(container.get("releases_after_loss") or 0)
    confirmed = int(container.get("confirmed_after_loss") or 0)
    said: list[tuple[str | Message, str | Message]]
    if early is None or told is None:
        said = [
            (FIELDS["releases_after_loss"], f"{released:,}"),
            (FIELDS["confirmed_after_loss"], f"{confirmed:,}"),
        ]
    else:
        since = out.time(str(doc["lost_at"]))
        at = out.time(str(told["at"]), seconds=told["seconds"])
        said = [
            (N_("Keys given to readers"), counted_said(released, early["release"], since, at)),
            (N_("Openings confirmed"), counted_said(confirmed, early["confirmed"], since, at)),
        ]
    record: dict[str, Any] = {}
    for key, value in summary.items():
        if key == "releases_after_loss":  # both counts in its place, as in the console's box
            record.update({out.say(name): out.say(v) for name, v in said})
        elif key != "confirmed_after_loss":
            record[key] = value
    return record


def _say_tables(ctx: Context, container: dict[str, Any]) -> None:
    """A container's key requests, then its suspensions, restores and destroys.

    Under the console's report's headings, the container named in them (issue 12,
    twentieth session: "Key requests", not "attempts": the word made the clerk's normal
    opening look like an attack).
    """
    out = ctx.out
    label = out.cell("label", container.get("label")).plain
    since = container.get("attempts_since")
    requests = (
        N_("Key requests for %(label)s since %(at)s", label=label, at=out.time(str(since)))
        if since
        else N_("All key requests for %(label)s", label=label)
    )
    changes = (
        N_("Suspensions, restores and destroys since the loss")
        if since
        else N_("Suspensions, restores and destroys")
    )
    # A creation row's result says it is not an opening, as the console's row does
    # (report_words.CREATED; issue 12, console45), and a refusal why, in the console's
    # words (state_words.refusal_name; cli48: the slug, in English on a Japanese table);
    # --json keeps ``ok`` and the slug.
    attempts = [
        {**a, "outcome": out.say(CREATED)}
        if a.get("kind") == "creation"
        else {**a, "reason": refusal_name(a.get("reason"), out.lang) or a.get("reason")}
        for a in container.get("attempts", [])
    ]
    tables = (
        (attempts, REPORT_COLUMNS, requests, N_("No key request.")),
        (container.get("state_changes", []), CHANGE_COLUMNS, changes, N_("None.")),
    )
    for items, columns, title, none in tables:
        if items:
            out.rows(items, columns, title=title)
        else:
            out.text(title)
            out.text(none)


def cmd_report(ctx: Context, b: Backend) -> int:
    """``report --medium M [--since T]``: was it opened after the loss? (three-way).

    Issue 12, twenty-first session: said in the console's report's words (one catalogue,
    report_words): the answer's name, the lines it depends on the time of loss, the time
    told and the period covered, and what each answer said means; ``--json`` unchanged.
    """
    a = ctx.args

    doc = b.medium_report(a.medium, since=time_option(a.since, "--since"))
    if ctx.out.as_json:
        ctx.out.json(doc)
        return EXIT_OK
    medium = str(doc.get("medium", a.medium))
    read = as_read(doc.get("answer"), doc.get("answer_from_told_at"))
    # The answer in the console's headline sentence first (issue 12, console46: the first
    # line said "Depends on the time of loss" where the console leads with the answer for
    # the time told); its name follows in each container's record.
    headline = headline_said(
        headline_view(doc), lambda at, seconds: ctx.out.time(str(at), seconds=seconds)
    )
    ctx.out.text(N_("Medium %(medium)s: %(answer)s", medium=medium, answer=headline))
    containers = doc.get("containers", [])
    told = told_view(doc)
    depends, depends_each = depends_views(doc) if doc.get("told_at") else (None, {})
    # As told: to the minute unless told with seconds (told_view; None when the time told is
    # the time of loss, where no line depends on it).
    seconds = told is None or bool(told["seconds"])
    told_at = ctx.out.time(str(doc["told_at"]), seconds=seconds) if doc.get("told_at") else ""
    _say_depends(ctx, depends, told_at)
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
    if DEPENDS in said:  # the depends lines name files given to "the city's reader"
        ctx.out.text(READER_MEANT)
    title = N_("medium %(name)s", name=medium)
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
        ctx.out.record(_with_counts(ctx, summary, container, doc), title=title)
        if doc.get("told_at"):
            _say_depends(ctx, depends_each.get(container["container_id"]), told_at)
        _say_tables(ctx, container)
    return EXIT_OK
