"""The loss form and its review fit a laptop's screen (issue 12, third and fourth newcomer runs).

At 1366x768 and 1280x800 the English common reasons wrapped onto a second line and pushed
the form's button ("Review what this will affect") below the fold: the newcomer scrolled
to find it. The fourth run showed the sizes were the *window's*: a browser window of
1366x768 gives the page a viewport of about 1366x625 (tabs, address bar), and there the
button and the review page's confirm button were below the fold again. The sizes here are
the viewports such windows give (window.innerHeight, checked): in both languages the form's
button is in view when the medium's page opens, with the time of loss focused, and the
review page's confirm button is wholly in view without scrolling.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.test_browser_story import _t, in_view, sign_in
from tests.support.console import MEDIA, BrowserFactory, ConsoleServer

pytestmark = pytest.mark.slow

# Viewports (not windows): 1366x768 and 1280x800 laptop windows with a browser's chrome.
VIEWPORTS = ((1366, 625), (1280, 650))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_loss_form_and_review_fit_a_laptop_screen(
    console_server: ConsoleServer, browser: BrowserFactory, language: str
) -> None:
    driver = browser(language)
    sign_in(driver, console_server.url, console_server.tokens["tanaka"], language)
    medium, _ = MEDIA[language]
    for width, height in VIEWPORTS:
        # The page's own size (the viewport), as the newcomer's browser window shows it.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(f"{console_server.url}/console/medium?name={medium}")
        assert driver.execute_script("return window.innerHeight") == height
        button = driver.find_element(By.CSS_SELECTOR, "main button.primary")
        assert button.text == _t(language, "Review what this will affect")
        button_id = "review-loss"
        assert button.get_attribute("id") == button_id
        assert in_view(driver, button_id), (language, width, height)
        assert in_view(driver, "lost_at"), (language, width, height)
        tops = {
            label.location["y"]
            for label in driver.find_elements(By.CSS_SELECTOR, "#reasons label.check")
        }
        assert len(tops) == 1, f"the common reasons wrap at {width}x{height} ({language})"
        # The review page (nothing happens on it): its confirm button in view at once.
        driver.find_element(By.ID, "lost_at").clear()
        driver.find_element(By.ID, "lost_at").send_keys("2026-12-01 18:30")
        driver.find_element(By.CSS_SELECTOR, "#reasons input[value='stolen']").click()
        button.click()
        # The review page is a new document: wait for it, never for a fixed time.
        confirm = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "confirm-loss"))
        assert confirm.get_attribute("type") == "submit"
        assert in_view(driver, "confirm-loss"), ("review", language, width, height)
        assert driver.find_elements(By.CSS_SELECTOR, "#affected tbody tr")  # still listed
        assert in_view(driver, "undo-hint"), ("review", language, width, height)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
