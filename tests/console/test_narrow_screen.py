"""The loss form on a narrow screen (issue 12, sixteenth session).

Looked at 768 px (a tablet, a half-screen window) and 390 px wide (a phone): at 768 px the
form is one column, the errors above the fields and the medium's containers under them, nothing
broken; at 390 px the header's links ran off the right edge and the whole page scrolled
sideways. Every part of the page now stays within the width, in both languages.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.support.console import MEDIA, BrowserFactory, ConsoleServer
from tests.support.console_pages import sign_in

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_loss_form_fits_a_narrow_screen(
    console_server: ConsoleServer, browser: BrowserFactory, language: str
) -> None:
    driver = browser(language)
    sign_in(driver, console_server.url, console_server.tokens["tanaka"], language)
    medium, _ = MEDIA[language]
    try:
        for width in (768, 390):
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
            driver.get(f"{console_server.url}/console/medium?name={medium}")
            inner = driver.execute_script("return document.documentElement.clientWidth")
            # No sideways scrolling: nothing is wider than the page.
            wide = driver.execute_script("return document.documentElement.scrollWidth")
            assert wide <= inner, (language, width, wide, inner)
            # The header's links, the form's fields and its button all within the width.
            for css in ("nav a", "#lost_at", "#reason", "#review-loss", "#reasons label"):
                for element in driver.find_elements(By.CSS_SELECTOR, css):
                    right = driver.execute_script(
                        "return arguments[0].getBoundingClientRect().right;", element
                    )
                    assert right <= inner, (language, width, css, element.text, right)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
