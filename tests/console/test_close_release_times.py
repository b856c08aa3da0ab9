"""Each key release just before the time of loss is said at its own time, as what it was
(issue 12, sixteenth session).

Two mistakes found at the end of the fifteenth session, in what the review and the report
say of reader key releases in the 15 minutes before the time of loss
(close_releases.releases_close_before, _routes_report.close_view):

- a container opened (confirmed) at 17:40:15 and given its key again at 17:40:50 with a
  wrong password was said "opened at 17:40:50": the time and actor of its last release
  went with the "confirmed" of any. The opening is said at 17:40:15, the release at
  17:40:50 as unconfirmed, each with the answer had the medium been lost before it;
- a key released at 17:40:50, before the time of loss, whose receipt came at 17:41:05,
  after it, was said "opening not confirmed (e.g. a wrong password)" in the container's
  box. A receipt confirms exactly the evaluation whose challenge it answers (spec
  §receipt, audited with that evaluation's ``evaluated_at``), and a receipt in the window
  is an opening after the loss (spec §report: the window is decided by sequence; a
  ``confirmed`` row counts): the box says the opening was confirmed, and when, after the
  time of loss; the answer is Opened.

Over a real socket (SQLite, real VOPRF, real audit log), in Japanese and English.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.support.clock import FakeClock
from tests.support.console import signed_in_session
from tests.support.loss_form import MEDIUM, post
from tests.support.loss_review import city_reader
from tests.support.openings import box_rows
from tests.support.world import World, activate, confirm, make_world, oprf

# The official is told 17:41 on 3 Dec (Tokyo).
LOSS = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)
OPENED = datetime(2026, 12, 3, 8, 40, 15, tzinfo=UTC)  # 17:40:15
RELEASED = datetime(2026, 12, 3, 8, 40, 50, tzinfo=UTC)  # 17:40:50
RECEIPT_AFTER = datetime(2026, 12, 3, 8, 41, 5, tzinfo=UTC)  # 17:41:05


@contextmanager
def _story(
    settings: Settings, url: str, releases: list[tuple[str, datetime, datetime | None]]
) -> Iterator[World]:
    """A container per label on MEDIUM; each release (label, when the reader was given the
    key, when its receipt confirmed the opening or None), in time order; the loss reported
    at LOSS the next morning."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    clock.t = datetime(2026, 12, 1, tzinfo=UTC)
    world = make_world(settings, url)
    try:
        labels = dict.fromkeys(label for label, _, _ in releases)  # each once, in order
        made = {label: activate(world, medium=MEDIUM, label=label) for label in labels}
        # Every audit entry in time order (the window is decided by sequence, spec §report).
        steps: list[tuple[datetime, str, str, dict[str, object] | None]] = []
        given: dict[int, dict[str, object]] = {}
        for i, (label, at, receipt_at) in enumerate(releases):
            steps.append((at, "evaluate", label, {"i": i}))
            if receipt_at is not None:
                steps.append((receipt_at, "receipt", label, {"i": i}))
        for at, step, label, ref in sorted(steps, key=lambda s: (s[0], s[1] == "receipt")):
            assert ref is not None
            clock.t = at
            reg, key = made[label]
            cid = reg["container_id"]
            if step == "evaluate":
                given[int(str(ref["i"]))] = oprf(world, "reader", cid, reg["public_key"])
            else:
                confirm(world, "reader", cid, key, given[int(str(ref["i"]))])
        clock.t = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
        body = {"reason": "stick lost on the train", "lost_at": LOSS.isoformat()}
        reported = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
        assert reported.is_success, reported.text
        yield world
    finally:
        world.close()


def _report(url: str, token: str, language: str) -> str:
    browser = signed_in_session(url, token, language)
    page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return html.unescape(page.text)


def _review(url: str, token: str, language: str) -> str:
    """The review of a loss report typed for the same time (the medium is reported already:
    the review reads the releases before the time typed, as before the first report)."""
    review = post(
        signed_in_session(url, token, language), url, "2026-12-03 17:41", approximate_box="1"
    )
    assert review.status_code == 200, review.text[:2000]
    return html.unescape(review.text)


def _plain(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", fragment).split())


def _caution_lines(page: str) -> list[str]:
    """The printed caution's lines under the answer box."""
    detail = page.split('<div class="close-detail" id="close-detail">', 1)[1]
    return [_plain(p) for p in re.findall(r"<p\b[^>]*>(.*?)</p>", detail.split("</div>", 1)[0])]


def _full(language: str, at: datetime) -> str:
    """A time as the report says it in full, in Tokyo."""
    clock = (at + timedelta(hours=9)).strftime("%H:%M:%S")
    day = {"ja": "2026/12/03 ", "en": "3 Dec 2026, "}[language]
    return f"{day}{clock} (UTC+09:00)"


def _t(language: str, msgid: str, **values: object) -> str:
    return translate(language, msgid, values)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_opening_and_a_later_wrong_password_are_each_said_at_their_time(
    settings: Settings, console_url: str, language: str
) -> None:
    """Opened at 17:40:15, given its key again at 17:40:50 (a wrong password), the loss at
    17:41: the printed caution says the opening at 17:40:15 (lost before then: Opened) and
    the release at 17:40:50 as unconfirmed (lost before then, after the opening: Possibly
    opened); never "opened at 17:40:50". The box says each on its row."""
    with _story(settings, console_url, [("late", OPENED, OPENED), ("late", RELEASED, None)]) as w:
        page = _report(console_url, w.tokens["official"], language)
        review = _review(console_url, w.tokens["official"], language)

    def said(msgid: str, at: datetime, answer: str) -> str:
        """A line about the reader's release on "late", in full, with an answer."""
        values = {"who": "reader", "label": "late", "at": _full(language, at)}
        return _t(language, msgid, **values, answer=_t(language, answer))

    opening = "lost before then, the answer would be %(answer)s"
    assert _caution_lines(page) == [
        said("%(who)s opened “%(label)s” at %(at)s: " + opening + ".", OPENED, "Opened"),
        said(
            "Key of “%(label)s” given to %(who)s at %(at)s, opening not confirmed: "
            + opening
            + ".",
            RELEASED,
            "Possibly opened",
        ),
    ]
    # On screen, the short line: each at its own time, in time order.
    short = _plain(page.split('id="close-short">', 1)[1].split("</p>", 1)[0])
    opened_at = "“%(label)s” opened at %(at)s"
    assert _t(language, opened_at, label="late", at="17:40:15") in short, short
    released_at = "key of “%(label)s” given out at %(at)s, opening not confirmed"
    assert _t(language, released_at, label="late", at="17:40:50") in short, short
    assert _t(language, opened_at, label="late", at="17:40:50") not in short
    rows = dict(box_rows(page)["late"])
    assert rows[_t(language, "Last confirmed opening before the loss")] == said(
        "%(at)s (%(who)s), just before the time of loss: " + opening, OPENED, "Opened"
    )
    assert rows[_t(language, "Key given out just before the loss")] == said(
        "%(at)s (%(who)s), opening not confirmed: " + opening,
        RELEASED,
        "Possibly opened",
    )
    # The review asks about each at its own time: the opening at 17:40:15, the key at
    # 17:40:50; never "opened" at 17:40:50.
    question = _plain(review.split('<p id="close-question">', 1)[1].split("</p>", 1)[0])
    assert "17:40:15" in question and "17:40:50" in question, question
    opened_at_50 = {
        "en": "At 17:40:50 (10 s before 17:41) reader opened",
        "ja": "17:40:50 (17:41 の 10 秒前) に reader が「late」を開いて",
    }[language]
    assert opened_at_50 not in question, question


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_release_before_the_loss_confirmed_after_it_is_said_confirmed(
    settings: Settings, console_url: str, language: str
) -> None:
    """Given its key at 17:40:50, the receipt at 17:41:05, the loss at 17:41: the opening
    was confirmed after the time of loss (spec §report: the receipt is in the window, the
    answer is Opened). The box says the release with its confirmation and when; never
    "opening not confirmed"."""
    with _story(settings, console_url, [("late", RELEASED, RECEIPT_AFTER)]) as w:
        page = _report(console_url, w.tokens["official"], language)
    rows = dict(box_rows(page)["late"])
    assert rows[_t(language, "Openings confirmed after the loss")] == "1"
    assert rows[_t(language, "Key given out just before the loss")] == _t(
        language,
        "%(at)s (%(who)s), opening confirmed at %(confirmed)s, after the time of loss",
        at=_full(language, RELEASED),
        who="reader",
        confirmed=_full(language, RECEIPT_AFTER),
    )
    unconfirmed = {"en": "opening not confirmed", "ja": "開封の確認 (受領) なし"}[language]
    assert not any(unconfirmed in value for value in rows.values()), rows
    # The answer as typed is Opened already: no caution (an earlier loss changes nothing).
    assert 'id="close-to-loss"' not in page
    assert f'<h2>late <span class="answer-tag answer-opened">{_t(language, "Opened")}' in page


def test_the_question_starts_at_the_key_release_an_opening_confirms(
    settings: Settings, console_url: str
) -> None:
    """A key released at 17:40:14 and its opening confirmed at 17:40:15: the review's
    question speaks of key releases and starts at 17:40:14, as the "Not sure" answer does
    (sixteenth session's Japanese newcomer: the question said 11:22:35, the receipt's
    time, beside "from 11:22:34" on the button); and ends there, the opening being that
    release (seventeenth session: "17:40:14 to 17:40:15" read as two events)."""
    released = OPENED - timedelta(seconds=1)
    with _story(settings, console_url, [("late", released, OPENED)]) as w:
        review = _review(console_url, w.tokens["official"], "en")
    question = _plain(review.split('<p id="close-question">', 1)[1].split("</p>", 1)[0])
    assert question.startswith("At 17:40:14, "), question
    assert "17:40:15" not in question, question


def _close_question(review: str) -> str:
    """The review's question about the key releases just before the time typed."""
    return _plain(review.split('<p id="close-question">', 1)[1].split("</p>", 1)[0])


def _opened_at_the_release(language: str) -> str:
    """The question for "late", opened (confirmed) by the reader, said at its release."""
    return _t(
        language,
        "At %(at)s, %(who)s opened “%(label)s” (confirmed)."
        " Are you sure the medium was still in hand then?",
        at="17:40:50",
        label="late",
        who=city_reader(language),
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_question_says_opened_when_a_receipt_after_the_time_typed_confirms_it(
    settings: Settings, console_url: str, language: str
) -> None:
    """Given its key at 17:40:50, the receipt at 17:41:05, the time typed 17:41: the
    reader's receipt confirmed the opening (spec §receipt), so the review's question says
    "opened (confirmed)", not "key released" (seventeenth session's newcomer runs: the
    question undersold what the report then says, Opened)."""
    with _story(settings, console_url, [("late", RELEASED, RECEIPT_AFTER)]) as w:
        review = _review(console_url, w.tokens["official"], language)
    assert _close_question(review) == _opened_at_the_release(language)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_opening_is_said_at_its_key_release_not_at_its_receipt(
    settings: Settings, console_url: str, language: str
) -> None:
    """Given its key at 17:40:50, the reader's receipt at 17:40:53 (the clock moved between
    them), the loss at 17:41: the opening is said once, at 17:40:50, wherever the official
    reads it (issue 12, seventeenth session's newcomers: the question said
    "17:40:50 to 17:40:53", the box "17:40:53", the paper's attempts "17:40:50", for one
    clerk's opening). The opening happened when the key was released: the receipt carries
    that release's ``evaluated_at`` (spec §receipt). The report's last confirmed opening
    before the loss is said at the same time, so the caution's opening is not said again
    in the answer box (report.html compares the two)."""
    receipt_at = RELEASED + timedelta(seconds=3)  # 17:40:53
    with _story(settings, console_url, [("late", RELEASED, receipt_at)]) as w:
        doc = w.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
        page = _report(console_url, w.tokens["official"], language)
        review = _review(console_url, w.tokens["official"], language)
    last = doc["containers"][0]["last_confirmed_open_before_loss"]
    assert last["at"] == "2026-12-03T08:40:50.000000Z", last
    full = _full(language, RELEASED)
    opening = "lost before then, the answer would be %(answer)s"
    assert _caution_lines(page) == [
        _t(
            language,
            "%(who)s opened “%(label)s” at %(at)s: " + opening + ".",
            who="reader",
            label="late",
            at=full,
            answer=_t(language, "Opened"),
        )
    ]
    rows = dict(box_rows(page)["late"])
    assert rows[_t(language, "Last confirmed opening before the loss")].startswith(full), rows
    assert 'id="last-before"' not in page  # said once, by the caution
    assert "17:40:53" not in page and "17:40:53" not in review
    assert _close_question(review) == _opened_at_the_release(language)
