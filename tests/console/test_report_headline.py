"""The report says its answer in one plain sentence under its word, on screen and on paper, and
``keyserver report`` leads with it (issue 12, console46).

Every modelled newcomer (a Japanese official whose USB stick was lost on a train; the
city's clerk opened a file seconds before the time told) hesitated on the report page and
asked for it: nobody opened anything after the time told, and who opened last, and how
long before. Each outcome of the answer box in a real browser over a real server (SQLite,
real VOPRF, the clock at 4 Dec 10:00 in Asia/Tokyo): not opened after the time of loss,
opened after it, a key given out after it with no confirmation, nothing to report; the
answer for the time told in tests/console/test_report_answer_reading.py. The sentence is
on page 1 of the print, read back with pdftotext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By

from keyserver._domain.i18n import translations
from keyserver._domain.settings import Settings
from tests.console.test_report_told import _report_loss
from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf
from tests.support.console_pages import sign_in_by_cookie, translated
from tests.support.loss_form import MEDIUM
from tests.support.openings import OPENINGS, opened

pytestmark = pytest.mark.slow

TAX = "Tax records 2022"
LOST = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)  # 17:41:00 in Tokyo, exact
READER = "clerk@city.example"
# Each story: the openings confirmed, the keys given out unconfirmed, whether a loss is
# reported (at 17:41:00).
STORIES = {
    "not opened": ({TAX: OPENINGS["early"]}, {}, True),  # the clerk at 17:05, before
    "opened": ({TAX: OPENINGS["after"]}, {}, True),  # at 19:00, after
    "possibly opened": ({}, {TAX: OPENINGS["after"]}, True),
    "no loss": ({TAX: OPENINGS["early"]}, {}, False),
}


def _ngettext(language: str, singular: str, plural: str, **values: str) -> str:
    return translations(language).ngettext(singular, plural, 1) % values


def _expected(language: str, story: str) -> str | None:
    """The sentence the story's report leads with, from the catalogue (None: none)."""
    at = "12月3日 17:41:00" if language == "ja" else "3 Dec 17:41:00"
    when = translated(language, "the time of loss (%(at)s)") % {"at": at}
    if story == "not opened":
        nobody = translated(language, "Nobody opened any data on this medium after %(when)s.")
        then = _ngettext(
            language,
            "The last opening was by the city's reader %(who)s, %(gap)s before that time.",
            "The last opening was by the city's readers %(who)s, %(gap)s before that time.",
            who=READER,
            gap=translated(language, "%(n)s min") % {"n": 36},  # 17:05 to 17:41
        )
        return translated(language, "%(nobody)s %(then)s") % {
            "nobody": nobody % {"when": when},
            "then": then,
        }
    if story == "opened":
        return _ngettext(
            language,
            "After %(when)s, the city's reader %(who)s opened data on this medium.",
            "After %(when)s, the city's readers %(who)s opened data on this medium.",
            when=when,
            who=READER,
        )
    if story == "possibly opened":
        return _ngettext(
            language,
            "After %(when)s, the city's reader %(who)s was given a key to data on this"
            " medium; that it was opened is not confirmed.",
            "After %(when)s, the city's readers %(who)s were given keys to data on this"
            " medium; that it was opened is not confirmed.",
            when=when,
            who=READER,
        )
    return None


@pytest.mark.parametrize("story", list(STORIES))
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_report_leads_with_its_answer_in_a_sentence(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    tmp_path: Path,
    language: str,
    story: str,
) -> None:
    openings, released, lost = STORIES[story]
    with opened(settings, console_url, openings, released, names={"reader": READER}) as world:
        if lost:
            _report_loss(world, lost_at=LOST)
        driver = browser(language)
        try:
            sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
            driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
            box = driver.find_element(By.CSS_SELECTOR, "main .answer")
            lines = box.text.splitlines()
            expected = _expected(language, story)
            if expected is None:
                # Nothing to report: the box says so as before, no sentence of its own.
                with pytest.raises(NoSuchElementException):
                    box.find_element(By.ID, "headline")
                assert translated(language, "No loss has been reported for this medium.") in lines
                return
            # Right under the question and the answer's word (console46, the lead's notice:
            # each fact once, the word then the sentence saying the rest).
            assert lines[:3] == [
                translated(language, "Was the data opened after the loss?"),
                translated(language, story.capitalize()),
                expected,
            ], lines
            # On paper too, on page 1, above the legend and the facts.
            first = "".join(pdf_pages(print_to_pdf(driver), tmp_path)[0].split())
            sentence = "".join(expected.split())
            facts = "".join(translated(language, "Reported at").split())
            assert sentence in first, first
            assert first.index(sentence) < first.index(facts)
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
