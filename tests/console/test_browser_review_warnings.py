"""The review's warnings are on screen when it opens (issue 12, nineteenth session), in a
real browser, in Japanese and in English.

The review's one primary button was focused (``autofocus``): on a medium of many
containers the browser scrolled the page down to it, past the warnings at its top
(containers sealed after the time of loss typed; an earlier report of the medium), and
both newcomers confirmed having seen only their tail. Where the page warns, no button
is focused: the page opens at its top, the warning's heading in view at a 1366x768
laptop's viewport. Headless Chromium against a real server (SQLite, real VOPRF), the
clock at 4 Dec 10:00 in Asia/Tokyo.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import BrowserFactory
from tests.support.console_pages import (
    LAPTOP,
    click_and_wait,
    in_view,
    review_loss,
    sign_in_by_cookie,
)
from tests.support.loss_form import MEDIUM
from tests.support.openings import opened
from tests.support.world import World, activate

pytestmark = pytest.mark.slow

# Twelve containers sealed on 1 Dec (a list longer than the viewport), two on 3 Dec.
EARLY = [f"月次報告-{n:02d}" for n in range(1, 13)]
LATE = ["late-export-1", "late-export-2"]
TYPED = "2026-12-02 12:00"  # before the two late ones were sealed


def _seal(settings: Settings, world: World) -> None:
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    review_at = clock.t
    clock.t = datetime(2026, 12, 1, 1, tzinfo=UTC)
    for label in EARLY:
        activate(world, medium=MEDIUM, label=label)
    clock.t = datetime(2026, 12, 3, 1, tzinfo=UTC)
    for label in LATE:
        activate(world, medium=MEDIUM, label=label)
    clock.t = review_at


def _as_opened(driver: WebDriver) -> None:
    """Wait two frames: Chromium focuses an ``autofocus`` element (and scrolls to it) at a
    rendering update after the load event, so the page is measured as the official sees
    it, not before the browser has moved it."""
    driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        " requestAnimationFrame(function () { requestAnimationFrame(function () { done(); }); });"
    )


def _not_focused(driver: WebDriver) -> None:
    """The primary button is still the one styled so, but nothing is focused."""
    primary = driver.find_elements(By.CSS_SELECTOR, "main .button.primary")
    assert [b.get_attribute("id") for b in primary] == ["confirm-loss"]
    assert driver.switch_to.active_element.tag_name == "body"
    assert not driver.find_elements(By.CSS_SELECTOR, "main [autofocus]")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_containers_sealed_after_the_time_typed_are_in_view_when_the_review_opens(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    with opened(settings, console_url, {}) as world:
        _seal(settings, world)
        driver = browser(language)
        try:
            review_loss(driver, console_url, world.tokens["official"], language, TYPED)
            _as_opened(driver)
            assert driver.find_elements(By.ID, "sealed-after-loss")
            assert in_view(driver, "sealed-after-heading"), language
            _not_focused(driver)
            assert len(driver.find_elements(By.CSS_SELECTOR, "#affected tbody tr")) == 14
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_earlier_report_is_in_view_when_the_review_opens(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    """Reported once, the medium is reviewed again for an earlier time: the page says what
    stays of the earlier report (spec §loss) at its top, in view."""
    with opened(settings, console_url, {}) as world:
        _seal(settings, world)
        service = KeyService(settings)
        try:
            official = service.authenticate(world.tokens["official"])
            service.report_loss(
                official,
                MEDIUM,
                reason="lost on the train",
                waiting_period=timedelta(hours=72),
                lost_at=datetime(2026, 12, 3, 12, tzinfo=UTC),
            )
        finally:
            service.close()
        driver = browser(language)
        try:
            # The form is folded under "Report it lost again" once the medium is reported.
            sign_in_by_cookie(driver, console_url, world.tokens["official"], language, LAPTOP)
            driver.get(f"{console_url}/console/medium?name={MEDIUM}")
            driver.find_element(By.CSS_SELECTOR, "#report-again summary").click()
            driver.find_element(By.ID, "lost_at").send_keys("2026-12-03 20:00")
            driver.find_element(By.CSS_SELECTOR, "#reasons input[value='stolen']").click()
            click_and_wait(driver, driver.find_element(By.ID, "review-loss"))
            _as_opened(driver)
            assert not driver.find_elements(By.ID, "sealed-after-loss")
            assert in_view(driver, "earlier-report"), language
            assert driver.switch_to.active_element.tag_name == "body"
            assert not driver.find_elements(By.CSS_SELECTOR, "main [autofocus]")
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
