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
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from keyserver._domain.settings import Settings
from keyserver._http.console import _i18n, _page
from tests.support.clock import FakeClock
from tests.support.console import csrf_of, signed_in_session
from tests.support.loss_form import MEDIUM, value_of
from tests.support.openings import OPENINGS, opened
from tests.support.world import activate

TYPED = "2026-12-03 18:30"


def _review(url: str, token: str, language: str, typed: str = TYPED) -> tuple[str, dict[str, str]]:
    """The review page for a time typed (its text) and the form its confirm button posts."""
    browser = signed_in_session(url, token, language)
    page = browser.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    form = {
        "csrf": csrf_of(page),
        "name": MEDIUM,
        "lost_at": typed,
        "waiting_hours": "72",
        "reason": "",
        "reason_common": "stolen",
        "note": "",
    }
    review = browser.post(url + "/console/medium/report-lost", data=form, timeout=30)
    assert review.status_code == 200, review.text[:2000]
    return html.unescape(review.text), form


def _facts(text: str) -> list[tuple[str, str]]:
    """The review's facts (label, value as read: tags dropped, white space folded)."""
    facts = text.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    pairs = re.findall(r"<dt>([^<]*)</dt><dd[^>]*>(.*?)</dd>", facts, re.S)
    return [(label, " ".join(re.sub(r"<[^>]+>", " ", value).split())) for label, value in pairs]


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
        text, _ = _review(console_url, world.tokens["official"], "en")
        ja, form = _review(console_url, world.tokens["official"], "ja")
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
    assert _facts(text) == [
        ("Time of loss", "3 Dec 2026, 18:30 (UTC+09:00)"),
        # Twelfth: relative to the time of loss too (the reader subtracted), the clock
        # time alone on the loss's day. Thirteenth session: "before the loss" said once,
        # in the value; label and value one line.
        ("Last confirmed opening", "50 minutes before the loss (17:40): late, by reader"),
        ("Keys destroyed after", "72 hours after you confirm"),
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
    assert opening in _facts(ja)
    assert "確定から 72 時間後" in ja
    # The report, under its time of loss: the same opening, to the second.
    assert done.status_code == 200, done.text[:2000]
    said = "3 Dec 2026, 17:40:15 (UTC+09:00): late (reader)"
    assert ("Last confirmed opening before the loss", said) in _facts(html.unescape(done.text))


def test_the_review_says_when_nothing_was_opened_before(
    settings: Settings, console_url: str
) -> None:
    """No confirmed opening before the time typed (one after it does not count): "none"."""
    with opened(settings, console_url, {"after": OPENINGS["after"]}) as world:
        text, _ = _review(console_url, world.tokens["official"], "ja")
    assert ("最後に確認された開封", "紛失前にはなし") in _facts(text)


def _text(markup: str) -> str:
    """What a piece of the page reads, tags dropped and white space folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _question(text: str) -> dict[str, Any]:
    """A close release's question and its three answers (each row: its button; the report's
    answer beside "after", one for "before" and "not sure" together), and each release's
    detail by container (folded under them), if any."""
    section = text.split('<section class="question" id="close-opening"', 1)[1]
    section = section.split("</section>", 1)[0]
    detail = re.search(
        r'<details class="by-container" id="close-detail">(.*?)</details>', section, re.S
    )
    folded = section if detail is None else section.replace(detail.group(0), "")
    rows = {
        row_id: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        for row_id, row in re.findall(r'<tr id="(choice-\w+)">(.*?)</tr>', folded, re.S)
    }
    found = re.search(r'<p id="close-question">([^<]*)</p>', section)
    assert found is not None, section
    assert set(rows) == {"choice-after", "choice-before", "choice-unsure"}, section
    after, before, unsure = rows["choice-after"], rows["choice-before"], rows["choice-unsure"]
    # No answer focused nor primary: each takes a deliberate click (sixteenth session).
    assert 'id="confirm-loss" class="button">' in after[0]
    assert 'id="change-time" class="button">' in before[0]
    assert 'id="confirm-cautious" class="button">' in unsure[0]
    assert '<input type="hidden" name="cautious" value="1">' in unsure[0]
    assert "autofocus" not in section and "primary" not in section
    assert '<td rowspan="2" id="counted">' in folded
    return {
        "question": html.unescape(found.group(1)),
        "after": (_text(after[0]), _text(after[1])),
        "before": _text(before[0]),
        "unsure": _text(unsure[0]),
        "counted": _text(before[1]),
        "by_container": None
        if detail is None
        else [_text(item) for item in re.findall(r"<li>(.*?)</li>", detail.group(1), re.S)],
    }


def test_releases_just_before_the_time_typed_are_asked_about_with_each_answer(
    settings: Settings, console_url: str
) -> None:
    """Reader key releases minutes before the time typed may be the clerk's own use or the
    finder's: the answer turns on them (spec §report). Issue 12, fourteenth session: a
    sentence stating the condition stopped every newcomer for 10-20 s; the page asks
    whether the medium was lost after them, each answer a row with the button that does
    it and what the report will then say. Sixteenth session: the question in one short
    line (when, to whom, how many keys: the labels were said twice, 485 characters read on
    this page); a third answer for an official told only "around" a time (the cautious
    one: reported from the first release); no answer focused or primary; which container
    got what, with the answer each gets if lost before, folded under "before" and "not
    sure", which count the releases alike. The releases are not also listed above."""
    openings = {"late": OPENINGS["late"]}  # 17:40:15, confirmed
    released = {"tried": OPENINGS["late"] + timedelta(seconds=5)}  # 17:40:20, not confirmed
    with opened(settings, console_url, openings, released) as world:
        en, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:41")
        ja, _ = _review(console_url, world.tokens["official"], "ja", "2026-12-03 17:41")
    assert _question(en) == {
        "question": (
            "Just before the loss, at 17:40:15\N{EN DASH}17:40:20, 2 keys were released to"
            " reader. Was the medium lost after that?"
        ),
        "after": ("Yes, after: Report lost and suspend 2 containers", "Report: Not opened"),
        "before": "No, before: Change the time of loss",
        "unsure": "Not sure: report from 17:40:15 (the cautious answer)",
        # The medium's answer, as the paper's headline gives it; each container's own
        # under it, as the paper gives them (fifteenth session: the medium's Opened was
        # read against the paper's Possibly opened for the container with only a key).
        "counted": "Report: Opened",
        "by_container": [
            "Opened “late”: key released at 17:40:15 to reader, opening confirmed",
            "Possibly opened “tried”: key released at 17:40:20 to reader, opening not confirmed",
        ],
    }
    assert _question(ja) == {
        "question": (
            "紛失の直前 17:40:15〜17:40:20 に reader へ 2 件の鍵が発行されています。"
            "紛失はこれより後ですか?"
        ),
        "after": ("はい、後です: 紛失を届け出て 2 件のコンテナを停止", "報告書: 開かれていない"),
        "before": "いいえ、前です: 紛失日時を直す",
        "unsure": "わからない: 早い方 (17:40:15) で届け出る",
        "counted": "報告書: 開かれた",
        "by_container": [
            "開かれた 「late」: 17:40:15 に reader へ鍵の発行、開封の確認あり",
            "開かれた可能性あり 「tried」: 17:40:20 に reader へ鍵の発行、開封の確認なし",
        ],
    }
    # Said once, in the question: above it, the time of loss, the deadline, the reasons.
    assert [label for label, _ in _facts(en)] == [
        "Time of loss",
        "Keys destroyed after",
        "Reason",
    ]
    assert [label for label, _ in _facts(ja)] == [
        "紛失日時",
        "鍵の破棄予定",
        "理由",
    ]
    for page in (en, ja):
        # No default answer on the page at all; the way back once.
        assert "autofocus" not in page and "button primary" not in page
        assert page.count('id="change-time"') == 1
        # The question stands above its answers, after the list of what is affected;
        # the labels are read in the list, not again in the question or the rows.
        assert page.index('id="affected"') < page.index('id="close-question"')
        section = page.split('id="close-opening"', 1)[1].split('id="close-detail"', 1)[0]
        assert "late" not in section and "tried" not in section


@pytest.mark.parametrize(
    ("later", "question"),
    [
        (
            timedelta(milliseconds=400),
            (
                (
                    "Just before the loss, at 17:40:15, 2 keys were released to reader."
                    " Was the medium lost after that?"
                ),
                (
                    "紛失の直前 17:40:15 に reader へ 2 件の鍵が発行されています。"
                    "紛失はこれより後ですか?"
                ),
            ),
        ),
        (
            timedelta(seconds=1),
            (
                (
                    "Just before the loss, at 17:40:15\N{EN DASH}17:40:16, 2 keys were"
                    " released to reader. Was the medium lost after that?"
                ),
                (
                    "紛失の直前 17:40:15〜17:40:16 に reader へ 2 件の鍵が発行されています。"
                    "紛失はこれより後ですか?"
                ),
            ),
        ),
    ],
)
def test_the_question_spans_every_release_an_earlier_loss_would_change(
    settings: Settings, console_url: str, later: timedelta, question: tuple[str, str]
) -> None:
    """The clerk's opening and a wrong password tried on another container 0.4 s later,
    both shown at 17:40:15 (issue 12, fifteenth session: the question named the opening
    alone, and the report then showed both): the question counts both keys and names one
    time; a second later, it spans from the first to the last, as shown, so "lost after
    that?" is after every release it covers. The detail names each."""
    openings = {"late": OPENINGS["late"]}
    with opened(settings, console_url, openings, {"tried": OPENINGS["late"] + later}) as world:
        en, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:41")
        ja, _ = _review(console_url, world.tokens["official"], "ja", "2026-12-03 17:41")
    assert (_question(en)["question"], _question(ja)["question"]) == question
    detail = _question(en)["by_container"]
    assert detail is not None and [item.split(":", 1)[0] for item in detail] == [
        "Opened “late”",
        "Possibly opened “tried”",
    ]


def test_a_release_more_than_15_minutes_before_is_not_asked_about(
    settings: Settings, console_url: str
) -> None:
    """The question is for releases within 15 minutes of the time typed (the lag of a phone
    call); an earlier confirmed opening is listed as the last one, and the page keeps its
    plain buttons."""
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        en, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:55:16")
        near, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:55:15")
    assert 'id="close-opening"' not in en and 'id="last-opening"' in en
    assert 'id="close-opening"' in near  # 15 minutes to the second: still asked
    assert _question(near)["question"] == (
        "Just before the loss, at 17:40:15, the key of “late” was released to reader."
        " Was the medium lost after that?"
    )
    # One container: named in the question, its answer is the medium's, no detail.
    assert _question(near)["counted"] == "Report: Opened"
    assert _question(near)["by_container"] is None


def test_a_writers_sealing_just_before_is_not_asked_about(
    settings: Settings, console_url: str
) -> None:
    """A key released to the writer sealing a container (creation) is no opening: sealed
    minutes before the time typed, nothing is asked (the report does not count it)."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    with opened(settings, console_url, {}) as world:
        clock.t = datetime(2026, 12, 3, 8, 38, tzinfo=UTC)  # 17:38 in Tokyo
        activate(world, medium=MEDIUM, label="sealed")
        clock.t = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
        en, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:41")
    assert 'id="close-opening"' not in en
    assert ("Last confirmed opening", "none before the loss") in _facts(en)


def test_each_answer_is_the_reports_own_with_a_release_after_the_time_typed(
    settings: Settings, console_url: str
) -> None:
    """The answers either side are decided as the report decides them: an opening after
    the time typed (19:00) makes "after" Opened too, and "before" counts it as well."""
    openings = {"late": OPENINGS["late"], "after": OPENINGS["after"]}
    with opened(settings, console_url, openings) as world:
        en, _ = _review(console_url, world.tokens["official"], "en", "2026-12-03 17:41")
    asked = _question(en)
    assert asked["after"][1] == "Report: Opened"
    assert asked["counted"] == "Report: Opened"


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
        }
        review = browser.post(console_url + "/console/medium/report-lost", data=typed, timeout=30)
        assert review.status_code == 200, review.text[:2000]
        # The edit form's own fields, as the review page posts them.
        edit = review.text.split('action="/console/medium/report-lost/edit"', 1)[1]
        edit = edit.split("</form>", 1)[0]
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', edit)
        posted = {name: html.unescape(value) for name, value in hidden}
        # With the time the question was about: the form says the loss came before it.
        assert posted == {**typed, "before": "2026-12-03T08:40:15.000000Z"}
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
    assert 'aria-describedby="lost_at_hint lost-before"' in back.text
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
            typed: _review(console_url, token, "en", typed)[0]
            for typed in (
                "2026-12-03 17:41",
                "2026-12-03 17:40:30",
                "2026-12-03 17:56",
                "2026-12-04 09:00",
            )
        }
        ja = _review(console_url, token, "ja", "2026-12-03 17:56")[0]
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
    # Within 15 minutes: asked about, the release to the second, "just before the loss"
    # (sixteenth session: the question in one short line, no gap in seconds; the time of
    # loss is the line above it), whether the time was typed with seconds or not.
    said = (
        "Just before the loss, at 17:40:15, the key of “late” was released to reader."
        " Was the medium lost after that?"
    )
    assert _question(pages["2026-12-03 17:41"])["question"] == said
    with_seconds = _question(pages["2026-12-03 17:40:30"])
    assert with_seconds["question"] == said
    assert with_seconds["after"][1] == "Report: Not opened"


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


def test_not_sure_reports_from_the_first_release_with_the_time_told_in_the_reason(
    settings: Settings, console_url: str
) -> None:
    """The third answer (issue 12, sixteenth session, the lead's decision: officials told
    "around 17:41" could answer neither yes nor no): the loss is reported from the first
    close release's second, found again by the server from the time posted (never a time
    the page posts), so both releases count (spec §report: Opened); the printed reason
    and the internal one say the time told and where counting started, the note stays
    internal only. Without a close release before the time posted, refused, nothing
    reported."""
    openings = {"late": OPENINGS["late"]}  # 17:40:15.000, confirmed
    released = {"tried": OPENINGS["late"] + timedelta(seconds=5, milliseconds=300)}
    with opened(settings, console_url, openings, released) as world:
        token = world.tokens["official"]
        review, form = _review(console_url, token, "ja", "2026-12-03 17:41")
        # The cautious button's own form, as the page posts it.
        unsure = review.split('<tr id="choice-unsure">', 1)[1].split("</form>", 1)[0]
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', unsure))
        assert hidden["cautious"] == "1" and hidden["lost_at"] == "2026-12-03T17:41:00+09:00"
        browser = signed_in_session(console_url, token, "ja")
        page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
        posted = {**form, "csrf": csrf_of(page), "note": "田中 (委託先)"}
        # A time with no release in the 15 minutes before it: refused, nothing reported.
        early = browser.post(
            console_url + "/console/medium/report-lost/confirm",
            data={**posted, "lost_at": "2026-12-03 17:20", "cautious": "1"},
            timeout=30,
        )
        before = browser.get(
            console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
        )
        done = browser.post(
            console_url + "/console/medium/report-lost/confirm",
            data={**posted, "cautious": "1"},
            timeout=30,
        )
        report = browser.get(
            console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
        ).json()
    assert early.status_code == 400, early.text[:2000]
    refusal = "この紛失日時の直前に鍵の発行はありません: 確認画面からやり直してください。"
    assert refusal in html.unescape(early.text)
    assert before.json().get("lost_at") is None, before.text[:2000]
    assert done.status_code == 200, done.text[:2000]
    # From 17:40:15 (the first release's second): the opening counts, Opened.
    assert report["lost_at"] == "2026-12-03T08:40:15.000000Z"
    assert report["answer"] == "opened"
    changes = [c for box in report["containers"] for c in box["state_changes"]]
    said = "(伝えられた時刻 17:41 頃; 直前の鍵の発行を含めるため 17:40:15 から数えた)"
    assert {c["public_reason"] for c in changes} == {f"盗難 {said}"}
    assert {c["reason"] for c in changes} == {f"盗難 {said} / 田中 (委託先)"}
