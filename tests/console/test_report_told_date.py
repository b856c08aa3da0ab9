"""The medium report's "Lost at" row says the date of the time told (issue 12, twenty-first
session).

A newcomer was told "around 00:10", just after midnight in Tokyo. The report's first fact
said "Lost at: around 00:10 (as told)", the date only in the row under it ("Period
covered: from 2026/12/08 00:09:09"): around midnight, or on a report printed days later
and handed to a manager, "00:10" named no day. The first place the report states the time
of loss now carries its date and offset, on screen and on paper. Over a real socket
(SQLite, real VOPRF), shown and printed by headless Chromium, read back with pdftotext;
the clerk opened "late" at 00:09:09 on 8 Dec in Tokyo, the review made at 10:00 that day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.console.test_report_told import _report_loss
from tests.support.clock import FakeClock
from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf
from tests.support.console_pages import sign_in_by_cookie
from tests.support.loss_form import MEDIUM
from tests.support.openings import opened

OPENED = datetime(2026, 12, 7, 15, 9, 9, tzinfo=UTC)  # 8 Dec 00:09:09 in Tokyo
TOLD = datetime(2026, 12, 7, 15, 10, tzinfo=UTC)  # "around 00:10"
# The day's date in each language's console format, with the zone's offset.
SAID = {"ja": "2026/12/08 00:10 (UTC+09:00)", "en": "8 Dec 2026, 00:10 (UTC+09:00)"}


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ja", "en"])
def test_lost_at_says_the_date_of_a_time_told_just_after_midnight(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    tmp_path: Path,
    language: str,
) -> None:
    with opened(settings, console_url, {"late": OPENED}) as world:
        clock = settings.clock
        assert isinstance(clock, FakeClock)
        clock.t = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # the review, 10:00 in Tokyo
        _report_loss(world, lost_at=OPENED, told_at=TOLD)
        driver = browser(language)
        sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
        driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
        told = translate(language, "around %(at)s (as told)", {"at": SAID[language]})
        # On screen: the row's value, the date with it ("around 00:10 (as told)" before).
        assert driver.find_element(By.ID, "told-at").text == told
        pages = pdf_pages(print_to_pdf(driver), tmp_path)
    # On paper, page 1 (a manager reads page 1): the row's name, then the time told with
    # its date. Blanks left out: pdftotext lays the row out in columns, and a Japanese
    # line wraps between any two characters.
    first = "".join(pages[0].split())
    row = "".join(f"{translate(language, 'Lost at', {})} {told}".split())
    assert row in first, pages[0]
