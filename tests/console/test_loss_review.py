"""The loss report's review page checks the time typed (issue 12, seventh newcomer run).

Before confirming, the official sees the last confirmed opening before the time of loss
they typed, read by the medium report's own query: one just before it says the time may be
too late. The page says only what the decision needs. Over a real socket (SQLite, real
VOPRF), the clock fixed at 2026-12-04 10:00 in Asia/Tokyo.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from keyserver._domain.settings import Settings
from keyserver._http.console import _i18n, _page
from tests.support.console import csrf_of, signed_in_session
from tests.support.loss_form import MEDIUM, value_of
from tests.support.loss_review import facts, review
from tests.support.openings import OPENINGS, opened


def _last_opening(text: str) -> str:
    """The last opening's value, without the hint a close one carries."""
    value = text.split('<dd id="last-opening">', 1)[1].split("</dd>", 1)[0]
    return value.split("<span", 1)[0].rstrip()


def test_the_review_shows_the_last_opening_before_the_time_typed(
    settings: Settings, console_url: str
) -> None:
    """The latest confirmed opening before the time typed, of every container, with which
    container and who;
    an opening after it is not "before" (it is what the report will answer with). The
    report made from the review says the same opening under its time of loss."""
    with opened(settings, console_url, OPENINGS) as world:
        text, _ = review(console_url, world.tokens["official"], "en")
        ja, form = review(console_url, world.tokens["official"], "ja")
        browser = signed_in_session(console_url, world.tokens["official"], "en")
        page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
        done = browser.post(
            console_url + "/console/medium/report-lost/confirm",
            data={**form, "csrf": csrf_of(page)},
            timeout=30,
        )
    # Only what the decision needs (issue 12, seventh newcomer run): the time and its
    # check, the deadline; no "Nothing has happened yet". The opening to the minute, its
    # offset the time of loss's above it.
    # Eighth newcomer run: no time of loss (typed one page earlier), the deadline's rule
    # exact, the opening labelled as the report labels it.
    # Ninth: the time of loss shown back as understood, first. Tenth: the opened container
    # named (the official looked up which one it was).
    assert facts(text) == [
        # Console47: as the form's echo said it while it was typed.
        ("Time of loss", "Thu 3 Dec, 18:30 (UTC+09:00)"),
        # Twelfth: relative to the time of loss too (the reader subtracted), the clock
        # time alone on the loss's day. Thirteenth session: "before the loss" said once,
        # in the value; label and value one line.
        ("Last confirmed opening", "50 minutes before the loss (17:40): late, by reader"),
        # Nineteenth session: whose keys, and that the city's data stays, as the form says.
        ("Server keys destroyed", "72 hours after you confirm (the city's data is not deleted)"),
        # Fifteenth session: both reasons back on the review, to check what was typed,
        # each saying whether it is printed (both newcomers expected the internal one on
        # paper).
        ("Reason", "Stolen (printed, shown to readers)"),
    ]
    assert 'id="close-opening"' not in text  # 50 minutes before the time typed
    shown = re.sub(r"<[^>]+>", "", text.split("<main", 1)[1])  # what is read, not posted
    assert "Nothing has happened yet" not in shown
    assert 'name="reason_common" value="stolen"' in text  # posted as typed
    opening = ("最後に確認された開封", "紛失の 50 分前 (17:40): late (reader)")
    assert opening in facts(ja)
    assert "届け出の 72 時間後" in ja
    # The report, under its time of loss: the same opening, to the second.
    assert done.status_code == 200, done.text[:2000]
    said = "3 Dec 2026, 17:40:15 (UTC+09:00): late (reader)"
    assert ("Last confirmed opening before the loss", said) in facts(html.unescape(done.text))


def test_the_review_says_nothing_when_nothing_was_opened_before(
    settings: Settings, console_url: str
) -> None:
    """No confirmed opening before the time typed (one after it does not count): no line
    (twenty-third session: "Last confirmed opening: none before the loss", then "Opened
    before the loss: never", stopped four newcomers, who asked before which moment and
    why it mattered)."""
    with opened(settings, console_url, {"after": OPENINGS["after"]}) as world:
        text, _ = review(console_url, world.tokens["official"], "ja")
    assert 'id="last-opening"' not in text
    labels = [label for label, _ in facts(text)]
    assert "紛失前の開封" not in labels and "最後に確認された開封" not in labels, labels


def test_after_a_close_opening_the_review_goes_back_to_the_form_with_everything_kept(
    settings: Settings, console_url: str
) -> None:
    """Issue 12, thirteenth session's newcomer run: after a close opening the only way back
    was Cancel, which dropped what was typed. "Change the time of loss" posts the fields as
    typed (the time as typed, the reason chosen, the optional fields) back to the medium's
    form, with the CSRF token as every form; without it, refused."""
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        browser = signed_in_session(console_url, world.tokens["official"], "ja")
        page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
        typed = {
            "csrf": csrf_of(page),
            "name": MEDIUM,
            "lost_at": "2026-12-03 17:41",
            "waiting_hours": "48",
            "reason": "電話 <b>",
            "reason_common": "office",
            "note": '紛失 "駅"',
            # Sure of the time: the box shown, unticked (console39), so the review asks.
            "approximate_box": "1",
        }
        review = browser.post(console_url + "/console/medium/report-lost", data=typed, timeout=30)
        assert review.status_code == 200, review.text[:2000]
        # The edit form's own fields, as the review page posts them.
        edit = review.text.split('action="/console/medium/report-lost/edit"', 1)[1]
        edit = edit.split("</form>", 1)[0]
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', edit)
        posted = {name: html.unescape(value) for name, value in hidden}
        # With the time the question was about: the form says the loss came before it.
        # The box as it was: unticked (an empty "approximate"), the form showing it.
        assert posted == {**typed, "approximate": "", "before": "2026-12-03T08:40:15.000000Z"}
        back = browser.post(console_url + "/console/medium/report-lost/edit", data=posted)
        # A value not of the server's form is not said at all.
        forged = browser.post(
            console_url + "/console/medium/report-lost/edit",
            data={**posted, "before": "<b>yesterday</b>"},
        )
        refused = browser.post(
            console_url + "/console/medium/report-lost/edit",
            data={k: v for k, v in posted.items() if k != "csrf"},
        )
    # The question, with the way back as its second answer.
    assert '<section class="question" id="close-opening"' in review.text
    assert back.status_code == 200, back.text[:2000]
    assert value_of(back.text, "lost_at") == "2026-12-03 17:41"
    assert value_of(back.text, "reason") == "電話 <b>"
    assert value_of(back.text, "waiting_hours") == "48"
    assert value_of(back.text, "note") == '紛失 "駅"'
    assert 'value="office" checked' in back.text
    assert " autofocus" in back.text.split('id="lost_at"', 1)[1].split(">", 1)[0]
    assert 'id="loss-error"' not in back.text
    line = back.text.split('id="lost-before">', 1)[1].split("</p>", 1)[0]
    assert line == (
        "2026/12/03 17:40:15 (UTC+09:00) より前のいつですか"
        " (分からなければ、確実に手元にあった最後の時刻)。"
    )
    assert 'aria-describedby="lost-before"' in back.text
    assert " checked" not in back.text.split('id="approximate"', 1)[1].split(">", 1)[0]
    assert forged.status_code == 200 and 'id="lost-before"' not in forged.text
    assert refused.status_code == 403


def test_the_review_says_how_long_before_the_loss_it_was_opened(
    settings: Settings, console_url: str
) -> None:
    """The last opening relative to the time of loss (issue 12, twelfth newcomer runs: the
    reader subtracted 23:57 from 23:58): counted between the minutes shown, one unit, the
    clock time beside it (with its date when the day differs), the hint kept."""
    # 3 Dec, 17:40:15 in Tokyo; reviewed on 4 Dec.
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        token = world.tokens["official"]
        pages = {
            typed: review(console_url, token, "en", typed)[0]
            for typed in (
                "2026-12-03 17:41",
                "2026-12-03 17:40:30",
                "2026-12-03 17:56",
                "2026-12-04 09:00",
            )
        }
        ja = review(console_url, token, "ja", "2026-12-03 17:56")[0]
    # More than 15 minutes before: listed, to the minute. 17:40 to 17:56 is 16 minutes as
    # read, though 15 min 45 s passed.
    assert _last_opening(pages["2026-12-03 17:56"]) == (
        "16 minutes before the loss (17:40): late, by reader"
    )
    assert "紛失の 16 分前 (17:40): late (reader)" in ja
    # 15 h 20 min: hours, rounded; another day, so the date is said.
    assert _last_opening(pages["2026-12-04 09:00"]) == (
        "15 hours before the loss (3 Dec 2026, 17:40): late, by reader"
    )
    # Within 15 minutes it is asked about instead: tests/console/test_loss_question.py.
    assert 'id="last-opening"' not in pages["2026-12-03 17:41"]
    assert 'id="last-opening"' not in pages["2026-12-03 17:40:30"]


def _before_loss(language: str, minutes: int) -> str:
    """The macro the review page uses (_macros.html before_loss), rendered alone."""
    formats = _i18n.Formats(language, ZoneInfo("Asia/Tokyo"), datetime(2026, 12, 6, tzinfo=UTC))
    macros = _page.environment(language).get_template("_macros.html")
    before: Callable[[int], object] = macros.make_module({"fmt": formats}).before_loss  # type: ignore[attr-defined]
    return str(before(minutes))


def test_how_long_before_the_loss_takes_one_unit_rounded() -> None:
    """Minutes under an hour, hours under a day, then days; each rounded to the nearest
    (the exact clock time stands beside it), each a plural form of its own (ngettext)."""
    said = {n: _before_loss("en", n) for n in (0, 1, 59, 60, 89, 90, 1439, 1440, 2159, 2160)}
    assert said == {
        0: "in the same minute as the loss",
        1: "1 minute before the loss",
        59: "59 minutes before the loss",
        60: "1 hour before the loss",
        89: "1 hour before the loss",
        90: "2 hours before the loss",
        1439: "24 hours before the loss",
        1440: "1 day before the loss",
        2159: "1 day before the loss",
        2160: "2 days before the loss",
    }
    assert [_before_loss("ja", n) for n in (5, 120, 4320)] == [
        "紛失の 5 分前",
        "紛失の 2 時間前",
        "紛失の 3 日前",
    ]
