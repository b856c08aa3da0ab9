"""The medium report's three-way answer and its order, worst first (spec §report; no I/O).

One list of the answers, worst first, for both of its uses: the medium's headline is the
worst of its containers' answers, and people reading a report (the console page, its print,
the ``keyserver report`` text) see the containers in that order, so the answer an official
must give the press comes first (issue 12). The signed and JSON documents keep the
containers in id order (spec §report): only what people read is reordered. What people
read says "depends on the time of loss" where the time told would change the answer
(:func:`as_read`), and what it is either side of it (:func:`depends_view`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

OPENED = "opened"
POSSIBLY_OPENED = "possibly opened"
NOT_OPENED = "not opened"
# Worst first: the headline is the first of these any container has.
SEVERITY = (OPENED, POSSIBLY_OPENED, NOT_OPENED)
# What people read instead of the answer when it hangs on the time of loss (as_read); no
# answer of the JSON's, which stays three-way and conservative (spec §report).
DEPENDS = "depends"
# spec §report kind: the rows that count toward an answer.
_COUNTED = frozenset({"release", "confirmed"})

_Row = TypeVar("_Row", bound=Mapping[str, Any])


def worst(answers: Iterable[str | None]) -> str | None:
    """The headline answer: the worst of the containers' (None if none has one)."""
    found = {a for a in answers if a is not None}
    return next((a for a in SEVERITY if a in found), None)


def as_read(answer: str | None, answer_from_told_at: str | None) -> str | None:
    """The answer as people read it: DEPENDS where the time told would change it.

    spec §report ``told_at``: the "Not sure" answer counts from the first reader key
    release just before the time the official was told. When the answer counted from the
    time told (``answer_from_told_at``, null without one) differs, a red "Opened" alone was
    read as the finder's doing, though the only opening counted was the city's own
    reader's (issue 12, eighteenth session, the lead's decision): the console's report, its
    print and ``keyserver report`` then say that it depends on the time of loss, and
    what it is either side. Otherwise the answer itself.
    """
    if answer_from_told_at is not None and answer_from_told_at != answer:
        return DEPENDS
    return answer


def depends_view(containers: list[dict[str, Any]], told_seq: int | None) -> dict[str, Any] | None:
    """What the answer of ``containers`` is either side of the time told, or None.

    None unless it depends on the time of loss (spec §report ``told_at``). Otherwise the
    answer counted from the time of loss, with the releases and openings before the time
    told that make it, and the answer counted from the time told, with those after it,
    either side of one boundary (the last of those releases); each event a container's,
    with who and when, as the lines under the headline say them.
    """
    answer = worst(c["answer"] for c in containers)
    from_told = worst(c.get("answer_from_told_at") for c in containers)
    if told_seq is None or as_read(answer, from_told) != DEPENDS:
        return None
    # Each event with its container's own answer on that side (issue 12, nineteenth
    # session: the "before" line said the medium's Opened over a container whose key was
    # released but never confirmed, whose own answer is Possibly opened).
    before = _events(containers, lambda seq: seq < told_seq, "answer")
    # One boundary for both cases: the last key release counted before the time told
    # (spec §report). Lost after it, nothing before the time told counts: the answer is
    # the one counted from the time told (said from that release, not from the time told,
    # newcomers, eighteenth session: "before 16:34:23" and "16:35 or later" left the
    # minute between unsaid). Lost at or before it (a window counts an entry at its
    # start, loss_window: ``at >= lost_at``), that release counts, and the case says every
    # release before the time told: exact at or before the first of them, conservative
    # between the first and the last, where fewer count (never an opening hidden). Issue
    # 12, console45: "If lost after 04:18:46 / If lost before 04:18:45", the first
    # release's time in the second line, left the second between them unsaid, read by an
    # English newcomer as an error.
    boundary = _last_release_at(containers, told_seq)
    return {
        "before": {"answer": answer, "at": boundary, "events": before},
        "from_told": {
            "answer": from_told,
            "at": boundary,
            "events": _events(containers, lambda seq: seq >= told_seq, "answer_from_told_at"),
        },
    }


def _last_release_at(containers: Iterable[dict[str, Any]], told_seq: int) -> Any:
    """The time of the last counted key release before ``told_seq`` (spec §report).

    A key release row (kind ``release``), or where a container has none in that part a
    ``confirmed`` row, as :func:`_events` says the time an opening happened.
    """
    last = None
    for c in containers:
        _, released = _counted(c, lambda seq: seq < told_seq)
        for a in released:
            # RFC 3339 UTC of one form: in time order as text (as _events sorts them).
            if last is None or str(a["at"]) > str(last):
                last = a["at"]
    return last


def _counted(
    container: Mapping[str, Any], part: Callable[[int], bool]
) -> tuple[list[Any], list[Any]]:
    """A container's counted rows in one part of the window, and its key releases.

    The releases are its ``release`` rows, or where it has none there its ``confirmed``
    ones (an opening is said at its key release's time, :func:`_events`).
    """
    rows = [a for a in container["attempts"] if a["kind"] in _COUNTED and part(int(a["seq"]))]
    return rows, [a for a in rows if a["kind"] == "release"] or rows


def _events(
    containers: Iterable[dict[str, Any]], part: Callable[[int], bool], answer: str
) -> list[dict[str, Any]]:
    """Each container's counted rows in one part of the window, as one event, in time order.

    At its first key release (an opening happened when its key was released:
    medium_report.said_at; the confirmed row's own time is the receipt's), by whom (each
    once, in order), opened if a receipt confirmed it in that part, and the container's
    own answer had the medium been lost on that side: its ``answer`` key (``answer``,
    counted from the time of loss, or ``answer_from_told_at``).
    """
    found = []
    for c in containers:
        rows, released = _counted(c, part)
        if not rows:
            continue
        found.append(
            {
                "label": c["label"],
                "at": released[0]["at"],
                "who": list(dict.fromkeys(str(a["actor"]) for a in rows)),
                "opened": any(a["kind"] == "confirmed" for a in rows),
                "answer": c.get(answer),
            }
        )
    # Times are RFC 3339 UTC of one form: in time order as text; within one time an opening
    # first ("opened" says more than "key released", as the review's question puts it).
    return sorted(found, key=lambda e: (str(e["at"]), not e["opened"]))


def depends_views(
    doc: dict[str, Any],
) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any] | None]]:
    """What the answer depends on (answers.depends_view): the medium's, and the containers'.

    The containers' by id, for those whose own lines the page shows. The medium's lines go
    under the headline (the console's report, ``keyserver report``). A container's go in its
    section only where they say what those do not: when the medium's answer does not depend
    on the time of loss (one container's opening before the time told, another's after it),
    and the medium has more than one container. Where the medium's do, they name each
    container's releases already, and its list line and section heading say that it depends:
    said again in its section, the lines were two more per container on paper, and pushed
    the first section off page 1 (tests/console/test_report_print_many.py).
    """
    told_seq = doc.get("told_seq")
    containers = doc["containers"]
    medium = depends_view(containers, told_seq)
    if medium is not None or len(containers) < 2:
        return medium, {}
    return None, {c["container_id"]: depends_view([c], told_seq) for c in containers}


def answer_first(containers: Iterable[_Row]) -> list[_Row]:
    """A report's containers as people read them: opened, possibly opened, not opened.

    Within one answer (and without one: no loss reported) by label, then by id, so the
    order is the same on every page and every print. Unknown answers (a newer server's)
    come last rather than hidden.
    """
    rank = {a: i for i, a in enumerate(SEVERITY)}

    def key(c: _Row) -> tuple[int, str, str]:
        return (
            rank.get(str(c.get("answer")), len(SEVERITY)),
            str(c.get("label")),
            str(c.get("container_id")),
        )

    return sorted(containers, key=key)


def last_opening(containers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last confirmed opening before the time of loss, of every container (issue 12).

    Shown in the report's answer box and on the loss report's review page: one just before
    the time of loss tells the official the time may be too late (an opening by whoever
    found the medium would then count as before it). Times are RFC 3339 UTC of one form,
    so the latest is the greatest as text. The container's label goes with it (issue 12,
    tenth newcomer runs: on a medium of several, the official looked up which one it was).
    """
    found = [
        {**c["last_confirmed_open_before_loss"], "label": c["label"]}
        for c in containers
        if c.get("last_confirmed_open_before_loss")
    ]
    return max(found, key=lambda o: str(o["at"])) if found else None


def headline_view(doc: dict[str, Any]) -> dict[str, Any] | None:
    """What the report's one-sentence headline says (report_words.headline_said), or None.

    Issue 12, console46: every modelled newcomer asked for the answer in one plain
    sentence before anything else. It says the answer the box leads with, from the same
    fields (no second decision): the one for the time told (``answer_from_told_at``)
    where there is one, else ``answer``; the openers that make it (the counted rows from
    the time told, else the whole window), by name; and for "not opened", the last
    opening or key given out before that time (the depends lines' other case, else the
    facts' last confirmed opening before the loss). None: no loss reported.
    """
    containers = doc["containers"]
    told_seq = doc.get("told_seq")
    key = "answer" if told_seq is None else "answer_from_told_at"
    answer = worst(c.get(key) for c in containers)
    if not doc.get("lost_at") or answer is None:
        return None
    after = _events(containers, lambda seq: told_seq is None or seq >= told_seq, key)
    # The answer's own openers: a confirmed opening's for "opened", every key's otherwise.
    made = [e for e in after if e["opened"]] if answer == OPENED else after
    earlier = _events(containers, lambda seq: told_seq is not None and seq < told_seq, "answer")
    # The last opening, else the last key given out (an opening said over a key given
    # out: "opened" says more); before the window, the last confirmed opening.
    last = ([e for e in earlier if e["opened"]] or earlier)[-1:]
    if not last:
        opening = last_opening(containers)
        last = [{"at": opening["at"], "who": [opening["actor"]], "opened": True}] if opening else []
    return {
        "answer": answer,
        "told_at": doc.get("told_at"),
        "lost_at": doc["lost_at"],
        "who": list(dict.fromkeys(who for e in made for who in e["who"])),
        "last": last[0] if last else None,
        # The other case's line under the sentence names them (report.html depends_lines,
        # the CLI's alike): the sentence then says only when (twenty-fourth session: the
        # reader's name twice in four lines was the box's longest repeat).
        "named_below": bool(earlier),
    }
