"""The report says what the official does next, only what is true for the state shown,
on screen and on paper (issue 12, console46).

Every modelled newcomer asked, after the answer, what to do now: whether anything must be
done for the keys to go, how to restore a medium found, what to tell the press. Over a
real server (SQLite, real VOPRF, the clock at 4 Dec 10:00 in Asia/Tokyo, the loss
reported then with the default 72 h before the keys go) in a real browser: a medium held
after its loss, one whose data was opened after it (the reader named is asked), one
restored (found), and one never reported (no steps).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain.settings import Settings
from tests.console.test_report_told import _report_loss
from tests.support.console import BrowserFactory
from tests.support.console_pages import sign_in_by_cookie, translated
from tests.support.loss_form import MEDIUM
from tests.support.openings import OPENINGS, opened

pytestmark = pytest.mark.slow

TAX = "Tax records 2022"
LOST = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)  # 17:41:00 in Tokyo
READER = "clerk@city.example"
# Each story: the openings confirmed (the clerk's, before the loss or after it), whether
# the loss is reported, and whether the medium is then restored.
STORIES = {
    "held": (OPENINGS["early"], True, False),
    "opened after": (OPENINGS["after"], True, False),
    "restored": (OPENINGS["early"], True, True),
    "no loss": (OPENINGS["early"], False, False),
}


def _steps(language: str, story: str) -> list[str]:
    """The steps the story's report lists, from the catalogue."""
    _, lost, restored = STORIES[story]
    if not lost:
        return []
    press = translated(language, "Press: print “%(button)s” in the console.") % {
        "button": translated(language, "Press statement (1 page)")
    }
    if restored:
        return [press, translated(language, "Restored: nothing more to do.")]
    deadline = "12月7日 10:00" if language == "ja" else "7 Dec 10:00"  # 72 h after 4 Dec 10:00
    held = [
        translated(language, "Not found: nothing to do (keys destroyed after %(at)s).")
        % {"at": deadline},
        translated(language, "Found before then: restore it on the medium's page."),
    ]
    if story == "opened after":
        ask = translated(
            language,
            "Ask %(who)s whether it was their own work; if not, have an administrator revoke"
            " their access.",
        ) % {"who": READER}
        return [press, ask, *held]
    return [press, *held]


@pytest.mark.parametrize("story", list(STORIES))
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_report_says_what_to_do_next(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str, story: str
) -> None:
    at, lost, restored = STORIES[story]
    with opened(settings, console_url, {TAX: at}, names={"reader": READER}) as world:
        if lost:
            _report_loss(world, lost_at=LOST)
        if restored:
            found = {"reason": "found in the bag"}
            restore = world.call("official", "POST", f"/v1/media/{MEDIUM}/restore", json=found)
            assert restore.is_success, restore.text
        driver = browser(language)
        try:
            sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
            driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
            expected = _steps(language, story)
            blocks = driver.find_elements(By.ID, "next-steps")
            if not expected:
                assert blocks == []
                return
            (block,) = blocks
            said = [li.text for li in block.find_elements(By.TAG_NAME, "li")]
            assert said == expected, said
            # After the answer and the facts (read after Print, not before it), before
            # each container's part.
            facts = driver.find_element(By.CSS_SELECTOR, "main dl.facts")
            first = driver.find_element(By.CSS_SELECTOR, "main .report-container")
            assert facts.location["y"] < block.location["y"] < first.location["y"]
            # On paper the same steps.
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            assert block.is_displayed()
            assert all(step in " ".join(block.text.split()) for step in expected), block.text
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
