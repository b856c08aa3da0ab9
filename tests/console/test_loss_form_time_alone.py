"""The loss form's time alone (issue 12, sixth newcomer run): "18:06" is today in the
configured zone, and a time later than now is refused, never taken for yesterday. Over a real
socket (SQLite), the clock fixed at 2026-12-04 10:00 in Asia/Tokyo.
"""

from __future__ import annotations

import html

import pytest

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session
from tests.support.loss_form import MEDIUM, tag_of, value_of
from tests.support.loss_form import post as _post


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("09:15", "4 Dec 2026, 09:15 ("),
        ("9:15 AM", "4 Dec 2026, 09:15 ("),
        ("午前9時15分", "4 Dec 2026, 09:15 ("),
        ("\uff10\uff19\uff1a\uff11\uff15", "4 Dec 2026, 09:15 ("),  # full-width, an IME's
        ("10:00", "4 Dec 2026, 10:00 ("),  # now is not later than now
    ],
)
def test_a_time_alone_is_today_in_the_zone(
    settings: Settings, console_url: str, typed: str, read: str
) -> None:
    """Issue 12, sixth newcomer run: most losses are reported the day they happen, and
    typing the date is where a wrong date slips in. A time alone is today in the
    configured zone (the clock: 2026-12-04 10:00 in Tokyo, 01:00 UTC); the confirmation
    posts the date it was read as."""
    token = official_with_medium(settings, MEDIUM)
    review = _post(signed_in_session(console_url, token, "en"), console_url, typed)
    assert review.status_code == 200, review.text[:2000]
    clock = read.removesuffix(" (").rsplit(" ", 1)[1]
    assert f'name="lost_at" value="2026-12-04T{clock}:00+09:00"' in review.text


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "en",
            (
                "18:30 today is later than now: for an earlier day, type the date too"
                " (e.g. 2026-12-03 18:30)."
            ),
        ),
        (
            "ja",
            (
                "今日の 18:30 はまだ来ていません。前の日なら日付も入れてください"
                " (例: 2026-12-03 18:30)。"
            ),
        ),
    ],
)
def test_a_time_alone_later_than_now_is_refused_never_yesterday(
    settings: Settings, console_url: str, language: str, said: str
) -> None:
    """18:30 at 10:00 is not taken for yesterday's 18:30: the official types the date
    (and so sees it), with everything typed kept and nothing reported. The refusal gives
    the one example, the day before (issue 12, eighteenth session: the form shows none)."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, language)
    refused = _post(browser, console_url, "18:30")
    confirmed = _post(browser, console_url, "18:30", "/confirm")
    state = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    assert refused.status_code == 400
    alert = html.unescape(refused.text.split('id="loss-error"')[1].split("</p>")[0])
    assert said in alert
    assert "autofocus" in tag_of(refused.text, "lost_at")
    assert value_of(refused.text, "lost_at") == "18:30"
    assert value_of(refused.text, "reason") == "委託先が紛失 <b>"
    # The confirmation checks the same (a stale review page posted later is refused).
    assert confirmed.status_code == 400
    assert "suspended" not in state.text.lower().split("<tbody>", 1)[1].split("</tbody>")[0]
