"""The loss review's question about the time of loss: asked, suggested, or already answered.

Issue 12: reader key releases just before the time told (close_view) make the review ask
whether the medium was still in hand then. A time told as approximate (the loss form's box,
ticked by default, console39) answers it in advance as "Not sure" does. Split from
_routes_loss.py (the routes), which keeps the fields and the service calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

__all__ = ["UNSURE_WITHIN", "approximate", "consequences", "unsure_answer", "unsure_suggested"]


def approximate(form: Mapping[str, str]) -> bool:
    """Whether the time of loss was told as approximate (the loss form's box, ticked).

    Issue 12, console39: a time told by phone ("around 17:41") is almost always
    approximate, so the box is ticked by default and the review then counts the reader key
    releases just before it as "Not sure" did (cautious_fields), asking nothing. A browser
    omits an unticked box, so the form posts ``approximate_box`` beside it: only a form
    that showed the box and came back without it says the official is sure of the time.
    A post without the box (an older page, no form at all) is approximate: the
    conservative side, which counts those releases rather than report them as before the
    loss (spec §report).
    """
    return form.get("approximate") == "1" or form.get("approximate_box") != "1"


# How close before the time typed the last release the review asks about makes it suggest
# "Not sure" (issue 12, eighteenth session): within the minute typed or the one before it,
# a time told as "around 14:22" cannot say whether the medium went missing after a key
# release at 14:21:00. Minutes, as officials are told times; a release longer before is
# asked about with no answer suggested.
UNSURE_WITHIN = timedelta(minutes=2)


def unsure_suggested(close: dict[str, Any] | None, lost_at: datetime) -> bool:
    """Whether the review suggests "Not sure".

    Something is asked (``close``, close_view's for the time typed) and the last release
    it names is less than UNSURE_WITHIN before the time typed.
    """
    if close is None:
        return False
    return lost_at - datetime.fromisoformat(str(close["asked"]["last_at"])) < UNSURE_WITHIN


def unsure_answer(close: dict[str, Any]) -> str:
    """The report's answer for "Not sure" (and for a time told as approximate).

    Reported from the first close release with the time told, it says "depends" where the
    time told answers otherwise than a loss before the releases (spec §report,
    ``told_at``).
    """
    return "depends" if close["as_typed"] != close["before"] else str(close["before"])


def consequences(close: dict[str, Any], suggest: bool) -> list[tuple[str, list[str]]]:
    """What the report will answer for each answer to the review's question.

    In the order the page shows the answers ("after", "before", "unsure"), answers that
    give the same report together: one line under the buttons (issue 12, twentieth
    session: a red "Opened" beside "No" was read as the answer to press). Where "Not
    sure" is suggested, "after" says none (nineteenth session: its green "Not opened"
    was nearly pressed for). "Not sure" reports from the first release with the time
    told: where the time told answers otherwise, its report says "depends" (spec
    §report, ``told_at``).
    """
    unsure = unsure_answer(close)
    said = [("unsure", unsure), ("before", close["before"])]
    if not suggest:
        said = [("after", close["as_typed"]), ("before", close["before"]), ("unsure", unsure)]
    grouped: dict[str, list[str]] = {}
    for choice, answer in said:
        grouped.setdefault(str(answer), []).append(choice)
    return list(grouped.items())
