"""What a medium report says in words, for each reader of it (spec §report; no I/O).

Issue 12, twenty-first session: the console's report was reworded over the sessions after
the newcomers' runs, and ``keyserver report`` kept the old words ("depends on the time of
loss (the answer either side of the time told below)", "the city's reader NAME"): two
texts for one fact, which the press hears from whichever official read which. The
answers' names, what each means, the time told beside the period covered, and the lines
of "Depends on the time of loss" (the time told's case first, a line per container under
each case, who the reader is said once) are decided here, as messages of the one
catalogue; the console's templates say them with the same ids, the command with these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from keyserver._domain.answers import DEPENDS, NOT_OPENED, OPENED, POSSIBLY_OPENED
from keyserver._domain.i18n import N_, Message

# The answers' names, as the console's report (_macros.html answer_label), its print and
# the command say them.
ANSWER_NAMES: Mapping[str, Message] = {
    OPENED: N_("Opened"),
    POSSIBLY_OPENED: N_("Possibly opened"),
    NOT_OPENED: N_("Not opened"),
    DEPENDS: N_("Depends on the time of loss"),
}
NO_LOSS = N_("No loss reported")

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

# Who a key released to read went to (spec §roles: a reader's principal), said where the
# report first names them: an account of the city, not whoever found the medium (issue 12,
# twentieth session: "the city's reader NAME" in every line left the newcomers asking
# whether that was the finder).
_FIRST_NAMED = "%(name)s (a city reader account, not the finder)"


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
    return {"at": doc["told_at"], "seconds": told.second != 0}


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

    As the console's report's box says it (report.html counted_early; issue 12, twentieth
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
    named: set[str],
    join: Callable[[Sequence[str | Message]], str],
) -> list[tuple[Message, list[Message]]]:
    """The lines of "Depends on the time of loss" (answers.depends_view), with their events.

    Each case a line, with a line per container it names. The time told's case first,
    named in its line (issue 12, nineteenth session: the first line was read as the
    answer; the time told is what the official was told, the other case the caution),
    then the case of a loss before the first release counted. ``told`` and ``at``: the
    times as the reader shows them; ``named``: the readers already said (updated), so who
    they are is said once; ``join``: a list of names in the language.
    """
    before, after = view["before"], view["from_told"]
    cases = [
        (
            N_(
                "If lost at the time told (around %(told)s) or after %(at)s: %(answer)s.",
                told=told,
                at=at(after["at"]),
                answer=answer_name(after["answer"]),
            ),
            after["events"],
        ),
        (
            N_(
                "If lost before %(at)s: %(answer)s.",
                at=at(before["at"]),
                answer=answer_name(before["answer"]),
            ),
            before["events"],
        ),
    ]
    return [(line, [_event(e, at, named, join) for e in events]) for line, events in cases]


def _event(
    event: Mapping[str, Any],
    at: Callable[[Any], str],
    named: set[str],
    join: Callable[[Sequence[str | Message]], str],
) -> Message:
    """One container's releases on one side of the time told: its own answer there.

    With who and when (issue 12, nineteenth session: "Opened" over a container whose
    opening was never confirmed, its own answer Possibly opened), the label and that
    answer first (twenty-first session: "“tried” Possibly opened: …" under "If lost
    before …: Opened." was read as the medium's answer, both files opened). The console
    passes the label in bold (report.html depends_events), the command as it is.
    """
    names: list[str | Message] = []
    for name in event["who"]:
        names.append(name if name in named else N_(_FIRST_NAMED, name=name))
        named.add(name)
    values = {
        "label": event["label"],
        "answer": answer_name(event["answer"]),
        "who": join(names),
        "at": at(event["at"]),
    }
    if event["opened"]:
        return N_("%(label)s: %(answer)s — %(who)s opened it at %(at)s", **values)
    return N_(
        "%(label)s: %(answer)s — key given to %(who)s at %(at)s, opening not confirmed", **values
    )
