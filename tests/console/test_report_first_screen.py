"""The medium report's first screen after "Not sure" says it once, plainly (issue 12,
twentieth session), in a real browser, in Japanese and in English.

The lead's newcomers spent 40-50 s on this screen before Print: the banner and the
manager's line both counted the suspended containers, the "before" line ran on (the case,
its answer and each container's release in one sentence), each container was then listed
again as "Depends on the time of loss", and the reader was "the city's reader reader" in
every line. Now what is read before the facts (the heading, the banner, the manager's
line, the answer box) is about a third shorter in English and a seventh in Japanese (whose
lines were already short), all of it in view at a 1366x768 laptop's viewport, and nothing
the screen is for is lost: the headline, each container's answer with who opened what
when, the manager's line. Counted as read (characters in Japanese, words in English), not
timed. Headless Chromium against a real server (SQLite, real VOPRF), the clock at 4 Dec
10:00 in Asia/Tokyo; the clerk opened "late" and was given the key of "tried" at 17:40:15
on 3 Dec, the official told "around 17:41".
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain.settings import Settings
from tests.support.console import BrowserFactory
from tests.support.console_pages import (
    click_and_wait,
    in_view,
    review_loss,
    text_before,
    translated,
)
from tests.support.openings import OPENINGS, opened

pytestmark = pytest.mark.slow

# What may be read before the facts: before this session 349 characters in Japanese and
# 127 words in English (the lead's newcomer runs), then 301 and 87; 305 and 96 since each
# file's line leads with its label and its own answer (twenty-first session); console46:
# the answer's sentence under the question, which every modelled newcomer asked for, and
# "(not the finder)" on the other case's line (the lead's notice): English 103 words.
BUDGET = {"ja": 320, "en": 105}


def _read(language: str, text: str) -> int:
    """How much a reader reads: characters in Japanese (spaces aside), words in English."""
    return len("".join(text.split())) if language == "ja" else len(text.split())


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_first_screen_says_each_fact_once_and_in_view(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    late = OPENINGS["late"]
    with opened(settings, console_url, {"late": late}, {"tried": late}) as world:
        driver = browser(language)
        try:
            review_loss(driver, console_url, world.tokens["official"], language, "2026-12-03 17:41")
            # Told "around 17:41", the box left ticked (console39): the review's one
            # button reports as "Not sure" did, from the first close release.
            click_and_wait(driver, driver.find_element(By.ID, "confirm-loss"))
            facts = driver.find_element(By.CSS_SELECTOR, "main dl.facts")
            read = text_before(driver, facts)
            assert _read(language, read) <= BUDGET[language], read
            # Nothing the screen is for is lost, and all of it is in view where it opens.
            box = driver.find_element(By.CSS_SELECTOR, "div.answer")
            events = box.find_elements(By.CSS_SELECTOR, "ul.depends-events li")
            # Each line a file's own: its label first, then its own answer (twenty-first
            # session: the lines under "Opened" were read as the medium's answer).
            labels = [e.find_element(By.TAG_NAME, "strong").text for e in events]
            assert labels == ["late", "tried"]
            answers = [translated(language, a) for a in ("Opened", "Possibly opened")]
            # To whom is the case's line's, by role and name (twenty-third session, the
            # lead's decision); the time is the case's own, said once.
            mark = translated(language, "%(label)s: %(answer)s")
            assert [e.text for e in events] == [
                mark % {"label": label, "answer": answer}
                for label, answer in zip(["late", "tried"], answers, strict=True)
            ]
            assert driver.find_element(By.ID, "manager-line").text in read
            assert box.find_element(By.CSS_SELECTOR, ".answer-a").text in read
            driver.execute_script("arguments[0].id = 'answer-box'", box)
            # The press statement beside Print (twentieth session: below the answer, both
            # newcomers found it only by scrolling): in view, the second stop of Tab.
            for element_id in ("print", "press-statement", "manager-line", "answer-box"):
                assert in_view(driver, element_id), (element_id, language)
            tab_stops = driver.find_elements(By.CSS_SELECTOR, "main button, main a.button")
            assert [b.get_attribute("id") for b in tab_stops[:2]] == ["print", "press-statement"]
            # Each fact once: the count of suspended containers (the manager's line, not
            # the banner too), and no container listed again as "depends".
            banner = driver.find_element(By.CSS_SELECTOR, "#loss-result p.ok").text
            assert not any(ch.isdigit() for ch in banner), banner
            assert not box.find_elements(By.CSS_SELECTOR, "ul.answer-list")
            # On paper the legend of the answers is read, not squinted at (twentieth
            # session: at 8.5pt the newcomers found it too small): 9.5pt, 12.67 px.
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            legend = driver.find_element(By.ID, "answer-legend")
            assert float(legend.value_of_css_property("font-size").removesuffix("px")) >= 12.5
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
