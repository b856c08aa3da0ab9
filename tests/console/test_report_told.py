"""The medium report says the time of loss the official was told beside the time it counts
from (issue 12, seventeenth session).

The review's "Not sure" answer reports the loss from the first reader key release just
before the time told, so those releases count. The time told was only inside the reason,
repeated and wrapping in every container's Reason column on paper; it is now its own row
under "Lost at", and when the answer is what it is only because of the releases between
the two times, the answer box says so in one line under the answer, on screen and on
paper. A report without a time told (every report before migration 0014) shows neither.
Over a real socket (SQLite, real VOPRF) in Japanese and English; the clock at 4 Dec 10:00
in Asia/Tokyo, the clerk's opening of "late" at 17:40:15 on 3 Dec.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.support.console import signed_in_session
from tests.support.loss_form import MEDIUM
from tests.support.loss_review import facts, text_of
from tests.support.openings import OPENINGS, opened
from tests.support.world import World

LOST = OPENINGS["late"]  # the first close release's second, as "Not sure" reports it
TOLD = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)  # "around 17:41"


def _report_loss(world: World, **times: datetime) -> None:
    body: dict[str, Any] = {
        "reason": "stolen",
        "public_reason": "stolen",
        **{k: v.isoformat() for k, v in times.items()},
    }
    resp = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert resp.status_code == 200, resp.text


def _pages(url: str, token: str, language: str) -> tuple[str, dict[str, Any]]:
    browser = signed_in_session(url, token, language)
    page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    doc = browser.get(url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30)
    return html.unescape(page.text), dict(doc.json())


def _answer_box(page: str) -> list[str]:
    """The answer box's paragraphs: the question, the answer, what follows."""
    box = page.split('<div class="answer answer-', 1)[1].split("</div>", 1)[0]
    return [text_of(p) for p in re.findall(r"<p\b[^>]*>(.*?)</p>", box, re.S)]


def _counted(language: str) -> str:
    """Who opened it and when, and why it counts: the clerk (the world's reader)."""
    return translate(
        language,
        "Opened by %(who)s at %(at)s, before the time told (around %(told)s): counted, as"
        " the time of loss is not certain.",
        {"who": "reader", "at": "17:40:15", "told": "17:41"},
    )


def _from_told(language: str, answer: str) -> str:
    return translate(
        language,
        "Counted from the time told, the answer would be: %(answer)s.",
        {"answer": translate(language, answer, {})},
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_time_told_is_a_row_and_the_answer_says_where_counting_started(
    settings: Settings, console_url: str, language: str
) -> None:
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        _report_loss(world, lost_at=LOST, told_at=TOLD)
        page, doc = _pages(console_url, world.tokens["official"], language)
    assert doc["told_at"] == "2026-12-03T08:41:00.000000Z"  # the JSON download
    rows = facts(page)
    lost = ("2026/12/03 17:40:15" if language == "ja" else "3 Dec 2026, 17:40:15") + " (UTC+09:00)"
    # The time told first, then the time of loss as what it is, the time counted from
    # (the lead's newcomer runs: "Lost at 12:37:52" looked exact).
    assert rows[:2] == [
        (
            translate(language, "Time told", {}),
            translate(language, "around %(at)s", {"at": "17:41"}),
        ),
        (translate(language, "Counted from", {}), lost),
    ]
    assert translate(language, "Lost at", {}) not in dict(rows)
    # The answer is Opened only because the clerk's opening at 17:40:15 counts: who and
    # when, and why, in one line under it (on paper too: the answer box is printed). A
    # big "Opened" alone alarmed the newcomers and read as the finder's doing.
    box = _answer_box(page)
    assert box[1] == translate(language, "Opened", {})
    assert box[2] == _counted(language)
    # And what the manager asks next: from the time told, the answer would be Not opened
    # (the clerk's opening is the only one); the general "opened after the loss" sentence,
    # which read as contradicting the line above, is left out (this session's newcomers).
    assert box[3:] == [_from_told(language, "Not opened")]
    assert 'class="answer-counted"' in page and "noprint answer-counted" not in page
    # The reasons say what the official chose, nothing added (it wrapped in every row).
    reason = dict(rows)[translate(language, "Reason", {})]
    assert reason.split(" (")[0] == "stolen", reason


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_answer_the_same_from_the_time_told_says_no_more(
    settings: Settings, console_url: str, language: str
) -> None:
    """An opening after the time told as well: Opened either way, so the line would only be
    read; the time told is still its row."""
    openings = {"late": OPENINGS["late"], "after": OPENINGS["after"]}
    with opened(settings, console_url, openings) as world:
        _report_loss(world, lost_at=LOST, told_at=TOLD)
        page, _ = _pages(console_url, world.tokens["official"], language)
    assert _answer_box(page)[1] == translate(language, "Opened", {})
    assert "answer-counted" not in page
    assert translate(language, "Time told", {}) in dict(facts(page))


def test_a_report_without_a_time_told_prints_as_before(
    settings: Settings, console_url: str
) -> None:
    """Reports made before migration 0014 (and those answered "Yes, after"): no row, no
    line, the JSON's told_at null."""
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        _report_loss(world, lost_at=LOST)
        page, doc = _pages(console_url, world.tokens["official"], "en")
    assert doc["told_at"] is None
    assert "Time told" not in dict(facts(page)) and "Counted from" not in dict(facts(page))
    assert "Lost at" in dict(facts(page))
    assert "answer-counted" not in page


def test_a_key_released_before_the_time_told_is_said_as_released(
    settings: Settings, console_url: str
) -> None:
    """Only a key released (no receipt) between the two times: Possibly opened, said as a
    release to whom and when, never as an opening."""
    with opened(settings, console_url, {}, {"tried": OPENINGS["late"]}) as world:
        _report_loss(world, lost_at=LOST, told_at=TOLD)
        page, _ = _pages(console_url, world.tokens["official"], "en")
    box = _answer_box(page)
    assert box[1] == "Possibly opened"
    assert box[2] == (
        "Key released to reader at 17:40:15, before the time told (around 17:41): counted,"
        " as the time of loss is not certain."
    )
    assert box[3:] == [_from_told("en", "Not opened")]
