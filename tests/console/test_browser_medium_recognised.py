"""The medium's page before a loss report: an example of the time to type before typing,
and what lets the official recognise the stick (issue 12, console47), in a real browser,
in Japanese and in English.

Newcomers (README and a token, told "the June 2022 export, a USB stick ending 0417, lost
on a train around 17:41") asked, run after run, for an example in the time field before
typing (the line that says the time back appears only once typing starts), and looked for
the export's date and its writer to be sure the medium found was the one lost. The label
of the time gives a time alone, one the form reads as today (never refused as to come);
beside the form, under the count, the days the containers were sealed and by whom.
Headless Chromium at a 1366x625 laptop viewport against a real server (SQLite, real
VOPRF), the clock at 4 Dec 2026 10:27 in Asia/Tokyo.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from keyserver._domain.settings import Settings
from tests.support.clock import FakeClock
from tests.support.console import BrowserFactory
from tests.support.console_pages import LAPTOP, in_view, sign_in_by_cookie, text_before
from tests.support.loss_form import MEDIUM
from tests.support.world import World, activate, make_world

pytestmark = pytest.mark.slow

# Sealed in Tokyo on 1 Dec at 09:00 and on 2 Dec at 23:30 (14:30 UTC: the zone decides the
# day), by the writer (named as the contractor's account); read on 4 Dec at 10:27.
SEALED = (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), datetime(2026, 12, 2, 14, 30, tzinfo=UTC))
NOW = datetime(2026, 12, 4, 1, 27, tzinfo=UTC)
WRITER = "vendor@contractor.example"
EXAMPLE = {"ja": "例: 10:00", "en": "e.g. 10:00"}
SAID = {"ja": "= 12/4 金曜 10:00 (UTC+09:00) 頃", "en": "= around Fri 4 Dec, 10:00 (UTC+09:00)"}
MADE = {
    "ja": f"2026/12/01〜2026/12/02 に {WRITER} が作成",
    "en": f"Created 1 Dec 2026\u20132 Dec 2026 by {WRITER}",
}


@contextmanager
def _sealed(settings: Settings, url: str) -> Iterator[World]:
    """MEDIUM's two containers, sealed on two days by the contractor's writer."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    clock.t = SEALED[0]
    world = make_world(settings, url, {"writer": WRITER})
    try:
        for at, label in zip(SEALED, ("Residents register", "Tax records 2022"), strict=True):
            clock.t = at
            activate(world, medium=MEDIUM, label=label)
        clock.t = NOW
        yield world
    finally:
        world.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_example_before_typing_and_when_and_by_whom_the_medium_was_sealed(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    with _sealed(settings, console_url) as world:
        driver = browser(language)
        try:
            sign_in_by_cookie(driver, console_url, world.tokens["official"], language, LAPTOP)
            driver.get(f"{console_url}/console/medium?name={MEDIUM}")
            field = driver.find_element(By.ID, "lost_at")
            # Before typing: the example is shown, in the time's own label (its name for a
            # screen reader too), read before the field; the field itself stays empty, with
            # no placeholder to be read as typed (eighteenth session).
            example = driver.find_element(By.ID, "lost-at-example")
            assert example.is_displayed() and in_view(driver, "lost-at-example")
            assert example.text == EXAMPLE[language]
            label = driver.find_element(By.CSS_SELECTOR, "label[for=lost_at]")
            assert example.text in label.text
            assert EXAMPLE[language] in text_before(driver, field)
            assert field.get_attribute("value") == "" and not field.get_attribute("placeholder")
            # Typed as shown, it is read (today, this hour): an example never refused.
            field.send_keys(EXAMPLE[language].split()[-1])
            echo = driver.find_element(By.ID, "lost-at-echo")
            try:
                WebDriverWait(driver, 20).until(lambda _: echo.text == SAID[language])
            except TimeoutException:
                pytest.fail(f"the example typed was said back as {echo.text!r}")
            assert "unread" not in str(echo.get_attribute("class"))
            # Beside the form, under the count: the days sealed (the zone's days, a range)
            # and the writer, in view with the form.
            made = driver.find_element(By.ID, "sealed-by")
            assert made.text == MADE[language]
            assert in_view(driver, "sealed-by")
            count = driver.find_element(By.ID, "on-medium")
            assert driver.execute_script(
                "return Boolean(arguments[0].compareDocumentPosition(arguments[1]) & 4);",
                count,
                made,
            )
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
