"""A medium's page after a "Not sure" loss report says the time told, not the period's
start (issue 12, twenty-second session).

After a report whose count starts before the time told (spec §loss `told_at`: the
review's "Not sure"), the medium's page said "Time of loss: 00:09:09", the first reader
release counted, a time nobody told; the report beside it said "around 00:10 (as told)".
The page now says the time told as the report does, then the period covered. Over a real
socket (SQLite, real VOPRF); the clerk opened "late" at 00:09:09 on 8 Dec in Tokyo.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._service.close_releases import CLOSE_TO_LOSS
from tests.console.test_report_told import _report_loss, margin_said
from tests.console.test_report_told_date import OPENED, SAID, TOLD
from tests.support.clock import FakeClock
from tests.support.console import signed_in_session
from tests.support.loss_form import MEDIUM
from tests.support.openings import opened

# The period's start in each language's format: the first release counted.
FROM = {"ja": "2026/12/08 00:09:09 (UTC+09:00)", "en": "8 Dec 2026, 00:09:09 (UTC+09:00)"}
# The period's start CLOSE_TO_LOSS before the time told (8 Dec 00:10 in Tokyo).
MARGIN_FROM = {"ja": "2026/12/07 23:55:00 (UTC+09:00)", "en": "7 Dec 2026, 23:55:00 (UTC+09:00)"}


def _loss_state(settings: Settings, url: str, language: str, **times: datetime) -> str:
    with opened(settings, url, {"late": OPENED}) as world:
        clock = settings.clock
        assert isinstance(clock, FakeClock)
        clock.t = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
        _report_loss(world, **times)
        browser = signed_in_session(url, world.tokens["official"], language)
        page = browser.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
        assert page.status_code == 200, page.text[:500]
    section = page.text.split('id="loss-state"', 1)[1].split("</section>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section)).split())


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_medium_page_says_the_time_told(
    settings: Settings, console_url: str, language: str
) -> None:
    text = _loss_state(settings, console_url, language, lost_at=OPENED, told_at=TOLD)
    told = translate(language, "around %(at)s (as told)", {"at": SAID[language]})
    assert translate(language, "Time of loss: %(lost)s.", {"lost": told}) in text, text
    assert translate(language, "Period covered: from %(at)s.", {"at": FROM[language]}) in text


@pytest.mark.parametrize("language", ["ja", "en"])
def test_without_a_time_told_the_time_of_loss_alone(
    settings: Settings, console_url: str, language: str
) -> None:
    text = _loss_state(settings, console_url, language, lost_at=OPENED)
    said = translate(language, "Time of loss: %(lost)s.", {"lost": FROM[language]})
    assert said in text, text
    assert translate(language, "Period covered: from %(at)s.", {"at": FROM[language]}) not in text


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_medium_page_says_why_the_period_starts_before_the_time_told(
    settings: Settings, console_url: str, language: str
) -> None:
    """Issue 12, twenty-third session: the period covered, from CLOSE_TO_LOSS before the
    time told (told as approximate, no release close before it), said with why, as the
    report says it (_report_told.covered_why)."""
    text = _loss_state(settings, console_url, language, lost_at=TOLD - CLOSE_TO_LOSS, told_at=TOLD)
    why = margin_said(language)
    start = MARGIN_FROM[language]
    said = translate(language, "Period covered: from %(at)s %(why)s.", {"at": start, "why": why})
    assert said in text, text
