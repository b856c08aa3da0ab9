"""What a medium report says in words, for each reader of it (spec §report; no I/O).

Issue 12, twenty-first session: the console's report was reworded over the sessions after
the newcomers' runs, and ``keyserver report`` kept the old words ("depends on the time of
loss (the answer either side of the time told below)", "the city's reader NAME"): two
texts for one fact, which the press hears from whichever official read which. The
answers' names, what each means, the time told beside the period covered, and the lines
of "Depends on the time of loss" (the time told's case first, with its date, a line per
file under each case, who by role) and the caution's line are decided here, as messages
of the one catalogue; the console's templates say them with the same ids, the command
with these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from keyserver._domain.answers import DEPENDS, NOT_OPENED, OPENED, POSSIBLY_OPENED
from keyserver._domain.i18n import N_, Message, ngettext

# The answers' names, as the console's report (_macros.html answer_label), its print and
# the command say them.
ANSWER_NAMES: Mapping[str, Message] = {
    OPENED: N_("Opened"),
    POSSIBLY_OPENED: N_("Possibly opened"),
    NOT_OPENED: N_("Not opened"),
    DEPENDS: N_("Depends on the time of loss"),
}
NO_LOSS = N_("No loss reported")

# What a key request row of the report is (spec §report ``kind``), as the console's report
# tables (_macros.html attempt_label) and the command's (``kind`` column, _cli/labels.py)
# say it: a writer's sealing is said to be creation, so it is not read as an opening next
# to "Not opened". Issue 12, twenty-first session: the command said "key released to a
# reader" where the console said "Key given to a reader", two names for one row. A refused
# row is said by its action and outcome on the page, by "refused" in the command's table.
KIND_NAMES: Mapping[str, Message] = {
    "creation": N_("Sealed by its writer (creation)"),
    "release": N_("Key given to a reader"),
    "confirmed": N_("Opening confirmed"),
}

# A creation row's result, in place of "Succeeded" (issue 12, console45: "Sealed by its
# writer (creation) — Succeeded" inside the period covered, 15 minutes wider for a time
# marked approximate, alarmed two newcomer runs). The row itself says that it is not an
# opening, on screen, on paper and in the command's table; it is listed, never left out
# (spec §report: every key request in the window, its ``kind`` creation).
CREATED = N_("Created (not an opening)")

# What each answer means, in the printed report's legend (report.html answer-legend).
_MEANINGS: Mapping[str, str] = {
    OPENED: N_("%(answer)s: after the loss a key was given out and its opening confirmed.").msgid,
    POSSIBLY_OPENED: N_(
        "%(answer)s: after the loss a key was given out, its opening not confirmed."
    ).msgid,
    NOT_OPENED: N_("%(answer)s: after the loss no key was given out to open the data.").msgid,
    DEPENDS: N_(
        "%(answer)s: the answer differs with the time of loss; the lines under it give it"
        " for each case."
    ).msgid,
}

# Who a key released to read went to (spec §roles: a reader's principal), as the lines of
# "Depends on the time of loss" mark a file given out: by role, "the city's reader"
# (issue 12, twenty-second session, the answer box cut to one read: "NAME (a city reader
# account, not the finder)" was 19 of its 267 Japanese characters, the name and the time
# of each file's release a line the case's own times said again). The name and the times
# are in each file's section and tables; what the mark means is said once, in the printed
# legend (reader_meant) and the command's text, where people who never saw the console
# read it.
READER_MEANT = N_(
    "City reader: a city account allowed to open the files, not the finder; each file's"
    " table names it."
)


def answer_name(answer: str | None) -> Message:
    """An answer as people read it (answers.as_read's, DEPENDS included); None: no loss."""
    return ANSWER_NAMES.get(answer or "", NO_LOSS)


def meanings(answers: Iterable[str | None]) -> list[Message]:
    """What each answer said means, a line each, in the legend's order (worst first)."""
    said = set(answers)
    return [
        Message(msgid, {"answer": ANSWER_NAMES[answer]})
        for answer, msgid in _MEANINGS.items()
        if answer in said
    ]


def told_view(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The loss report's time told, said apart from the period covered, or None.

    Issue 12, seventeenth session: to the minute unless it was told with seconds. None: no
    time told (every report before migration 0014, or the time as typed), said as before;
    nor when it is the time of loss itself (issue 12, twentieth session: two rows of one
    time, "around" beside the exact one, read as two times).
    """
    if not doc.get("told_at"):
        return None
    told = datetime.fromisoformat(str(doc["told_at"]))
    if doc.get("lost_at") and told == datetime.fromisoformat(str(doc["lost_at"])):
        return None
    return {"at": doc["told_at"], "seconds": _has_seconds(doc["told_at"])}


def told_alone(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The time told when it is the time of loss itself, said "around" it, or None.

    Issue 12, twenty-second session: the loss form's box "Approximate time", ticked, with
    no reader key release close before the time, reports ``told_at`` equal to ``lost_at``
    (spec §loss). Three newcomers ticked it and found "03:22:00" on paper, to the second,
    as if exact. Said as the time told is ("around 03:22 (as told)", to the minute unless
    told with seconds), in the one row of the time of loss: no period apart (told_view's
    two rows of one time, twentieth session).
    """
    if not doc.get("told_at") or not doc.get("lost_at"):
        return None
    told = datetime.fromisoformat(str(doc["told_at"]))
    if told != datetime.fromisoformat(str(doc["lost_at"])):
        return None
    return {"at": doc["told_at"], "seconds": _has_seconds(doc["told_at"])}


def before_told(container: Mapping[str, Any], told_seq: int | None) -> dict[str, int] | None:
    """How many of a container's counted rows came before the time told (spec §report).

    Issue 12, nineteenth session (the lead's newcomers, both languages): under "Depends on
    the time of loss" the box said "Keys released after the loss 1 / Openings confirmed
    after the loss 1", counted from the earlier time the report uses, and a manager
    reported "opened after the loss". The box now says what the counts start from and how
    many of them came before the time told (``told_seq``: the audit order, never the
    clock). None without a time told.
    """
    if told_seq is None:
        return None
    early = [a["kind"] for a in container["attempts"] if int(a["seq"]) < told_seq]
    return {"release": early.count("release"), "confirmed": early.count("confirmed")}


def counted_said(n: int, early: int, since: str, told: str) -> Message:
    """A count of the period covered, with where its rows fall against the time told.

    As the console's report's box says it (report.html, through _said; issue 12, twentieth
    session: "since 19:28:53 … (all before 19:30)" read as a contradiction; one plain
    phrase per case instead). ``n``: the rows counted from ``since`` (the time of loss);
    ``early``: those before the time told (before_told); ``since`` and ``told``: the
    times as the reader shows them.
    """
    number, first = f"{n:,}", f"{early:,}"  # grouped as both languages group it (1,024)
    if not n:
        return N_("none since %(since)s", since=since)
    if early == n:
        return N_(
            "%(n)s, between %(since)s and the time told (around %(told)s)",
            n=number,
            since=since,
            told=told,
        )
    if early:
        return N_(
            "%(n)s: %(early)s between %(since)s and the time told (around %(told)s), %(later)s"
            " after it",
            n=number,
            early=first,
            later=f"{n - early:,}",
            since=since,
            told=told,
        )
    return N_("%(n)s, all after the time told (around %(told)s)", n=number, told=told)


def depends_said(
    view: Mapping[str, Any],
    told: str,
    at: Callable[[Any], str],
    join: Callable[[Sequence[str]], str] = ", ".join,
) -> list[tuple[Message, list[Message]]]:
    """The lines of "Depends on the time of loss" (answers.depends_view), with their files.

    Each case a line, with a line per file it names. The time told's case first, as the
    answer itself (issue 12, twenty-third session, the lead's decision: three of four
    newcomers saw an amber "Depends" and a red "Opened" first and asked for the answer for
    the time told and who opened): "For the time told, around 17:41: Not opened", with its
    date (a report printed after midnight or read days later named no day, twenty-second
    session). Then the other case, a loss before the first release counted, never hidden:
    its answer and to whom the keys went, by role and by name (the city's reader, not the
    finder). Under a case that names files, a line per file with its own answer there
    (twenty-first session: a file's line under "…: Opened." was read as opened), and its
    time where the case's line does not bound it. ``told``: the time told as the reader
    shows it, with its date; ``at``: the other times as the reader shows them; ``join``:
    a list of names in the reader's language.
    """
    before, after = view["before"], view["from_told"]
    told_case = (
        N_(
            "For the time told, around %(told)s: %(answer)s",
            told=told,
            answer=answer_name(after["answer"]),
        )
        if not after["events"]
        else _by_readers(
            N_("For the time told, around %(told)s", told=told), after["answer"], after, join
        )
    )
    other = _by_readers(before_case(at(before["at"])), before["answer"], before, join)
    return [
        # The files of the time told's case were given keys after it, at times no line
        # says; those of the other, between its time and the time told (answers.
        # depends_view), which its line and the time told bound: their times are in each
        # file's section (twenty-second session: each time said once, the box read in one
        # go).
        (told_case, [_file_said(e, at) for e in after["events"]]),
        (other, [_file_said(e) for e in before["events"]]),
    ]


def before_case(at: str) -> Message:
    """The other case: lost at or before the boundary (answers.depends_view).

    "At or before", the time after which the told case's answer holds (issue 12,
    console45: "If lost after 04:18:46 … / If lost before 04:18:45 …" left a second
    unsaid, read as an error): a time shown to the second is the release's cut to the
    second, so a loss told at that second is at or before it and counts it (the window
    counts an entry at its start), one told a second later is after it
    (tests/console/test_report_boundary.py).
    """
    return N_("If lost at or before %(at)s", at=at)


def press_cases(told: str, at: str, answer: str | None, named: bool) -> tuple[Message, Message]:
    """The press statement's two cases (press.html), in the lines' words and boundary.

    The statement names each file with its time in the case's ``answers`` (its template's
    markup, given to ``said``): the answer for the time told first, as the report's box
    says it (twenty-third session, the lead's decision), its own ``answer`` when it names
    no file (``named`` false), then the other case, as depends_said, its openers by role.
    """
    told_case = (
        N_("For the time told, around %(told)s — %(answers)s", told=told, answers="")
        if named
        else N_(
            "For the time told, around %(told)s: %(answer)s",
            told=told,
            answer=answer_name(answer),
        )
    )
    return told_case, N_("If it was lost at or before %(at)s — %(answers)s", at=at, answers="")


def _by_readers(
    case: Message, answer: str | None, side: Mapping[str, Any], join: Callable[[Sequence[str]], str]
) -> Message:
    """A case's line: its answer and to whom its keys went, by role and by name.

    Every release a depends line counts is a reader's (spec §report ``kind`` release, read
    mode, spec §roles): said "the city's reader" (issue 12, twentieth session: never the
    finder) with the name (twenty-third session, the lead's decision: who opened, beside
    the answer), each name once.
    """
    names = list(dict.fromkeys(str(who) for e in side["events"] for who in e["who"]))
    return ngettext(
        "%(case)s: %(answer)s, by the city's reader %(who)s (not the finder)",
        "%(case)s: %(answer)s, by the city's readers %(who)s (not the finder)",
        len(names),
        case=case,
        answer=answer_name(answer),
        who=join(names),
    )


def _file_said(event: Mapping[str, Any], at: Callable[[Any], str] | None = None) -> Message:
    """One file named under a case: its label, its own answer there, and when if ``at``.

    Its own answer (issue 12, nineteenth session: "Opened" over a file whose opening was
    never confirmed, its own answer Possibly opened), the label first (twenty-first
    session); its time (its first key release) said by ``at``; to whom is the case's
    line's. The console puts the label in bold (report.html depends_events), the command
    says it as it is.
    """
    answer = answer_name(event["answer"])
    if at is None:
        return N_("%(label)s: %(answer)s", label=event["label"], answer=answer)
    return N_(
        "%(label)s: %(answer)s (%(at)s)", label=event["label"], answer=answer, at=at(event["at"])
    )


def close_said(
    events: Sequence[Mapping[str, Any]],
    answer: str | None,
    at: Callable[[Any], str],
    join: Callable[[Sequence[Message]], str],
) -> Message:
    """The report's one-line caution on screen: reader key releases just before the loss.

    Each release (_routes_report.close_view's ``differing``, else its ``named``), in time
    order, by its time and its file, opened or its opening not confirmed, and the medium's
    ``answer`` had it been lost before them (issue 12, fifteenth and sixteenth sessions).
    Said here with the report's other words (twenty-second session: it was the template's
    own). ``at``: a time as the reader shows it; ``join``: a list in the language.
    """
    parts = [
        N_("“%(label)s” opened at %(at)s", label=e["label"], at=at(e["at"]))
        if e["confirmed"]
        else N_(
            "key of “%(label)s” given out at %(at)s, opening not confirmed",
            label=e["label"],
            at=at(e["at"]),
        )
        for e in events
    ]
    return ngettext(
        "Just before the time of loss: %(releases)s. Lost before then, the answer would be"
        " %(answer)s.",
        "Just before the time of loss: %(releases)s. Lost before them, the answer would be"
        " %(answer)s.",
        len(events),
        releases=join(parts),
        answer=answer_name(answer),
    )


def headline_said(
    view: Mapping[str, Any] | None,
    at: Callable[[Any, bool], str],
    join: Callable[[Sequence[str]], str] = ", ".join,
) -> Message:
    """The report's answer in one plain sentence or two (answers.headline_view).

    Issue 12, console46: every modelled newcomer hesitated on the report page and asked
    for this, on screen, on paper and as ``keyserver report``'s first line: the answer for
    the time told (else the time of loss), by whom when data was given out after it (a
    key given out goes to a reader, spec §roles: "the city's reader", never the finder),
    and when nobody opened anything, who opened last and how long before that time (the
    clerk's own opening, seconds before, is what the official is asked about). ``at``:
    a time as the reader shows it, to the second or not; ``join``: a list of names.
    """
    if view is None:
        return N_("No loss has been reported for this medium.")
    told = view["told_at"]
    moment = str(told or view["lost_at"])
    # The time of loss to the second, as every report says it; a time told as told.
    shown = at(moment, not told or _has_seconds(moment))
    when = (
        N_("the time told (around %(at)s)", at=shown)
        if told
        else N_("the time of loss (%(at)s)", at=shown)
    )
    who, answer = view["who"], view["answer"]
    if answer == OPENED:
        return ngettext(
            "After %(when)s, the city's reader %(who)s opened data on this medium.",
            "After %(when)s, the city's readers %(who)s opened data on this medium.",
            len(who),
            when=when,
            who=join(who),
        )
    if answer == POSSIBLY_OPENED:
        return ngettext(
            "After %(when)s, the city's reader %(who)s was given a key to data on this"
            " medium; that it was opened is not confirmed.",
            "After %(when)s, the city's readers %(who)s were given keys to data on this"
            " medium; that it was opened is not confirmed.",
            len(who),
            when=when,
            who=join(who),
        )
    nobody = N_("Nobody opened any data on this medium after %(when)s.", when=when)
    last = view["last"]
    if last is None:
        return nobody
    # Cut to the second, as the times beside it are shown.
    opened_at = datetime.fromisoformat(str(last["at"])).replace(microsecond=0)
    gap = _gap(datetime.fromisoformat(moment) - opened_at)
    names = [str(w) for w in last["who"]]
    if view.get("named_below"):
        then = (
            N_("The last opening was %(gap)s before that time.", gap=gap)
            if last["opened"]
            else N_(
                "The last key was given out %(gap)s before that time; that it was opened is"
                " not confirmed.",
                gap=gap,
            )
        )
        return N_("%(nobody)s %(then)s", nobody=nobody, then=then)
    then = (
        ngettext(
            "The last opening was by the city's reader %(who)s, %(gap)s before that time.",
            "The last opening was by the city's readers %(who)s, %(gap)s before that time.",
            len(names),
            who=join(names),
            gap=gap,
        )
        if last["opened"]
        else ngettext(
            "The last key was given to the city's reader %(who)s, %(gap)s before that"
            " time; that it was opened is not confirmed.",
            "The last keys were given to the city's readers %(who)s, %(gap)s before that"
            " time; that they were opened is not confirmed.",
            len(names),
            who=join(names),
            gap=gap,
        )
    )
    return N_("%(nobody)s %(then)s", nobody=nobody, then=then)


def _has_seconds(moment: Any) -> bool:
    """Whether a time told was told with seconds: said to the minute otherwise."""
    return datetime.fromisoformat(str(moment)).second != 0


def _gap(gap: timedelta) -> Message:
    """How long before a time, as the sentence says it: seconds, minutes, hours or days.

    Each time cut to the second as shown (never more precise than the times beside it),
    in the largest unit that keeps two figures at most below the next.
    """
    seconds = max(int(gap.total_seconds()), 0)
    if not seconds:  # the same second as shown: never "0 s before"
        return N_("under 1 s")
    if seconds < 120:
        return N_("%(n)s s", n=seconds)
    if seconds < 120 * 60:
        return N_("%(n)s min", n=seconds // 60)
    if seconds < 48 * 3600:
        return N_("%(n)s h", n=seconds // 3600)
    days = seconds // 86400
    return ngettext("%(n)s day", "%(n)s days", days, n=days)
