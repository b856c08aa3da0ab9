"""The medium report page's time told, what its answer depends on, and the manager's line.

Issue 12, eighteenth session. The newcomers' first stumble: after the review's "Not sure"
answer the report's headline was a red "Opened", read as "the finder read the data",
although the only opening counted was the city's own reader's, just before the time the
official was told. When the answer counted from the time told differs (spec §report
``answer_from_told_at``), the page says "Depends on the time of loss" (answers.as_read,
answers.depends_view) and what it is either side, naming who and when. Their third: the
paper lacked one plain line for the manager (how many containers nobody can open now, and
when their keys go). Both are read from the report the service built; nothing here decides
an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from keyserver._domain.answers import as_read
from keyserver._domain.i18n import N_, Message, ngettext
from keyserver._domain.lifecycle import Op, State

# The time told's own row and the counts before it: one decision for the console's report,
# its press statement and ``keyserver report`` (issue 12, twenty-first session), kept
# importable from here.
from keyserver._domain.report_words import before_told, told_view
from keyserver._service.close_releases import CLOSE_TO_LOSS

__all__ = [
    "before_told",
    "covered_why",
    "legend_answers",
    "manager_view",
    "next_steps",
    "read_answer",
    "told_view",
]


def read_answer(report: dict[str, Any]) -> str | None:
    """The answer of a report or of one of its containers, as people read it (as_read)."""
    return as_read(report.get("answer"), report.get("answer_from_told_at"))


def covered_why(doc: dict[str, Any]) -> Message | None:
    """Why the period covered starts before the time told, in a clause, or None.

    Issue 12, twenty-third session: "Period covered: from 04:04" under "around 04:19 (as
    told)" was explained nowhere, and four newcomers of four asked why. The console starts
    it at one of two times (_routes_loss report_lost_confirm, spec §loss ``told_at``): told
    as approximate, CLOSE_TO_LOSS before the time told, the margin its review checks for
    reader key releases (said from that constant, so that the clause and the margin cannot
    part); or at the first such release. Any other start (the API's own ``lost_at``) is
    said as it is, without a reason the report cannot know.
    """
    if not doc.get("told_at") or not doc.get("lost_at"):
        return None
    lost = datetime.fromisoformat(str(doc["lost_at"]))
    if datetime.fromisoformat(str(doc["told_at"])) - lost == CLOSE_TO_LOSS:
        minutes = int(CLOSE_TO_LOSS.total_seconds() // 60)
        return ngettext(
            "(%(n)s minute before the time told, because the time is approximate)",
            "(%(n)s minutes before the time told, because the time is approximate)",
            minutes,
            n=minutes,
        )
    released = (
        datetime.fromisoformat(str(a["at"])).replace(microsecond=0)
        for c in doc.get("containers", [])
        for a in c.get("attempts", [])
        if a.get("kind") == "release"
    )
    if lost in released:
        return N_("(the first key given to a city reader just before the time told)")
    return None


def manager_view(containers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The manager's line: how many containers nobody can open now, and until when.

    Issue 12, eighteenth session: "3 containers suspended: nobody can open them now; keys
    destroyed after 10 Dec 17:41 unless restored", on top of the page and on page 1 of the
    paper. A suspended container, or a pending one the loss report locked (spec §loss:
    neither evaluated nor committed), cannot be opened now; a destroyed one never again;
    any other (active, or pending and not locked) still can, and is said so, never hidden
    in a total. The deadline is the earliest of the held containers' ``destroy_after``: a
    loss report gives them all one (spec §loss), and the earliest cannot be wrong in the
    reassuring direction. None for a medium without containers.
    """
    if not containers:
        return None
    held = [c for c in containers if _held(c)]
    deadlines = [str(c["destroy_after"]) for c in held if c.get("destroy_after")]
    return {
        "held": len(held),
        "deadline": min(deadlines) if deadlines else None,
        "destroyed": sum(c["state"] == State.DESTROYED.value for c in containers),
        "open": sum(c["state"] != State.DESTROYED.value and not _held(c) for c in containers),
    }


def _held(container: dict[str, Any]) -> bool:
    """Suspended, or pending and locked by a suspension cause (spec §loss, §lifecycle)."""
    state = container["state"]
    return state == State.SUSPENDED.value or (
        state == State.PENDING.value and bool(container.get("suspend_cause"))
    )


def legend_answers(
    containers: list[dict[str, Any]], close: dict[str, Any] | None
) -> set[str | None]:
    """The answers the printed page says anywhere, for its legend (issue 12).

    Nineteenth session: the legend defined "Possibly opened" where no container had that
    answer, and the English newcomer looked for it. Each container's answer, the one
    from the time told (the depends lines), and those the caution gives had the medium
    been lost before the releases just before the time of loss (close_view).
    """
    found: set[str | None] = set()
    for c in containers:
        found.update((c.get("answer"), c.get("answer_from_told_at")))
    if close is not None:
        found.add(close["before"])
        found.update(e["answer"] for e in close["events"])
    return found


def next_steps(
    doc: dict[str, Any],
    manager: dict[str, Any] | None,
    headline: dict[str, Any] | None,
    at: Callable[[Any], str],
    join: Callable[[Sequence[str]], str],
) -> list[Message]:
    """What the official does now, a line each, only what is true for the state shown.

    Issue 12, console46: every modelled newcomer asked, after the answer, what to do next.
    From what the page already says (manager_view, answers.headline_view), deciding
    nothing: the press statement once a loss is reported; with containers held, that
    nothing is needed for their keys to go at the deadline, and how to restore a medium
    found before it; with keys given out after the time told, to ask the reader named
    (an account of the city's, perhaps misused); with containers still open, restored or
    not; with every key destroyed, that nothing is left to do. None without a loss.
    ``at``: a time as the page shows it (short: the manager's line above says it in full);
    ``join``: a list of names in its language.
    """
    if not doc.get("lost_at") or manager is None:
        return []
    steps = [N_("Press: print “%(button)s” in the console.", button=N_("Press statement (1 page)"))]
    if headline is not None and headline["who"]:
        steps.append(
            N_(
                "Ask %(who)s whether it was their own work; if not, have an administrator"
                " revoke their access.",
                who=join(headline["who"]),
            )
        )
    if manager["held"] and manager["deadline"]:
        steps += [
            N_(
                "Not found: nothing to do (keys destroyed after %(at)s).",
                at=at(manager["deadline"]),
            ),
            N_("Found before then: restore it on the medium's page."),
        ]
    elif manager["held"]:
        steps.append(N_("Found: restore it on the medium's page."))
    if manager["open"]:
        restored = any(
            ch["action"] == Op.RESTORE.value for c in doc["containers"] for ch in c["state_changes"]
        )
        steps.append(
            N_("Restored: nothing more to do.")
            if restored
            else N_(
                "Still lost? “%(action)s” again on the medium's page.",
                action=N_("Report this medium lost"),
            )
        )
    if manager["destroyed"] == len(doc["containers"]):
        steps.append(N_("Keys destroyed: nothing more to do."))
    return steps
