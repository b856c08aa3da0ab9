"""The loss form fits a laptop's screen (issue 12, third newcomer run).

At 1366x768 and 1280x800 the English common reasons wrapped onto a second line and pushed
the form's button ("Review what this will affect") below the fold: the newcomer scrolled
to find it. In both languages, at both sizes, the reasons stay on one line and the button
is in view when the medium's page opens, with the time of loss focused.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.console.test_browser_story import _t, in_view, sign_in
from tests.support.console import MEDIA, BrowserFactory, ConsoleServer

pytestmark = pytest.mark.slow

SIZES = ((1366, 768), (1280, 800))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_loss_form_fits_a_laptop_screen(
    console_server: ConsoleServer, browser: BrowserFactory, language: str
) -> None:
    driver = browser(language)
    sign_in(driver, console_server.url, console_server.tokens["tanaka"], language)
    medium, _ = MEDIA[language]
    for width, height in SIZES:
        # The page's own size (the viewport), as the newcomer's browser window shows it.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(f"{console_server.url}/console/medium?name={medium}")
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
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
