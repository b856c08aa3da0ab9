"""The two lines of "Depends on the time of loss" meet at one time, and say it as the
report counts (spec §report; issue 12, console45).

An English newcomer read "If lost after 04:18:46 … / If lost before 04:18:45 …" as an
error: the second line was said from the first key release before the time told, the
first from the last, and the second between them was unsaid. Both now say the last
release's time: "after" it in the time told's case, "at or before" it in the other. A
window counts an entry at its start (``at >= lost_at``) and a time is shown cut to the
second, so a loss at the second shown counts that release and one a second later does
not: checked here against the server's own answer, a loss reported again at each
boundary, with the release on the exact second and half a second past it. Over a real
socket (SQLite, real VOPRF), the clerk's opening of "late" at 17:40:15 and a key given
for "tried" five seconds later, told "around 17:41".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyserver._domain.settings import Settings
from tests.console.test_report_told import TOLD, _answer_box, _before, _from_told, _pages
from tests.support.loss_form import MEDIUM
from tests.support.openings import OPENINGS, opened
from tests.support.world import World

LATE = OPENINGS["late"]  # 17:40:15 in Tokyo, opened (confirmed)
SECOND = datetime(2026, 12, 3, 8, 40, 20, tzinfo=UTC)  # 17:40:20, the boundary shown


def _report(world: World, lost_at: datetime, *, again: bool = False) -> None:
    body: dict[str, Any] = {
        "reason": "stolen",
        "public_reason": "stolen",
        "lost_at": lost_at.isoformat(),
        "told_at": TOLD.isoformat(),
        "replace_earlier": again,
    }
    resp = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert resp.status_code == 200, resp.text


def _answers(doc: dict[str, Any]) -> dict[str, str]:
    return {c["label"]: c["answer"] for c in doc["containers"]} | {"": doc["answer"]}


@pytest.mark.parametrize("past", [0, 500_000], ids=["on-the-second", "half-a-second-past"])
def test_the_two_cases_meet_at_the_last_release_as_the_report_counts(
    settings: Settings, console_url: str, past: int
) -> None:
    tried = SECOND + timedelta(microseconds=past)
    with opened(settings, console_url, {"late": LATE}, {"tried": tried}) as world:
        token = world.tokens["official"]
        _report(world, LATE)  # as "Not sure" reports it: from the first release
        for language in ("en", "ja"):
            page, _ = _pages(console_url, token, language)
            # The answer for the time told first (twenty-third session, the lead's
            # decision), which is the answer for a loss after the boundary; then the other
            # case, at or before it, with its reader by name.
            assert _answer_box(page)[1:3] == [
                _from_told(language, "Not opened"),
                _before(language, at="17:40:20"),
            ]
        # What the server answers for a loss at each side of that second.
        _report(world, SECOND, again=True)
        _, at_the_second = _pages(console_url, token, "en")
        _report(world, SECOND + timedelta(seconds=1), again=True)
        _, a_second_later = _pages(console_url, token, "en")
    # At 17:40:20 the release of "tried" counts (the case "at or before"): its answer is
    # the one its line gives, and the medium's is not the time told's.
    assert _answers(at_the_second)["tried"] == "possibly opened", at_the_second
    assert at_the_second["answer"] != "not opened"
    # At 17:40:21 nothing before the time told counts: the time told's case, Not opened.
    assert set(_answers(a_second_later).values()) == {"not opened"}, a_second_later
