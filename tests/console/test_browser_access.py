"""Who gets into the console and how it is used without a mouse, in a real browser: a
reader refused, a label that is text and not markup, the language switch, the keyboard.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.console import (
    MEDIA,
    BrowserFactory,
    ConsoleServer,
)
from tests.support.console_pages import (
    click_and_wait,
    focused,
    heading,
    loaded,
    replaced,
    sign_in,
)

pytestmark = pytest.mark.slow


def test_script_label_is_text(console_server: ConsoleServer, browser: BrowserFactory) -> None:
    """A label containing <script> is shown as text and never runs."""
    driver = browser("en")
    sign_in(driver, console_server.url, console_server.tokens["tanaka"], "en")
    evil = MEDIA["ja"][1][2]
    driver.get(f"{console_server.url}/console/search?q=script")
    cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "tbody td a")]
    assert evil in cells
    # Nothing ran: no alert is open and the page's scripts are only the console's own.
    assert driver.execute_script("return typeof window.alert") == "function"
    scripts = [s.get_attribute("src") for s in driver.find_elements(By.TAG_NAME, "script")]
    assert scripts == [console_server.url + "/console/static/console.js"]
    # Several media: the list, each medium's name once, on its first row (issue 12).
    driver.get(f"{console_server.url}/console/search?q=usb-2022")
    rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
    named = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "tbody td:nth-child(2) a")]
    assert len(named) == len(set(named)) >= 2 and len(rows) > len(named)


def test_reader_cannot_sign_in(console_server: ConsoleServer, browser: BrowserFactory) -> None:
    driver = browser("en")
    sign_in(driver, console_server.url, console_server.tokens["clerk"], "en")
    assert heading(driver) == "Sign in"
    alert = driver.find_element(By.CSS_SELECTOR, "p.alert").text
    assert "reader or a writer" in alert
    driver.get(console_server.url + "/console/overview")
    assert heading(driver) == "Sign in"


def test_language_switch(console_server: ConsoleServer, browser: BrowserFactory) -> None:
    driver = browser("ja")
    sign_in(driver, console_server.url, console_server.tokens["suzuki"], "ja")
    assert heading(driver) == "概要"
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, "English"))
    assert heading(driver) == "Overview"
    # An auditor sees no action that only officials may take.
    medium = MEDIA["en"][0]
    driver.get(f"{console_server.url}/console/medium?name={medium}")
    assert not driver.find_elements(By.ID, "reason")


def tab_through(driver: WebDriver, presses: int) -> list[str]:
    """Press Tab ``presses`` times; what got the focus each time (its id, else its text)."""
    seen = []
    for _ in range(presses):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        seen.append(active.get_attribute("id") or active.text)
    return seen


def test_keyboard_only(console_server: ConsoleServer, browser: BrowserFactory) -> None:
    """Sign in and reach every control of a medium's page with the keyboard alone."""
    driver = browser("en")
    driver.get(console_server.url + "/console/sign-in")
    assert focused(driver, "token")  # the field has the focus at once
    token = driver.switch_to.active_element
    old = driver.find_element(By.TAG_NAME, "html")
    token.send_keys(console_server.tokens["suzuki"] + Keys.ENTER)
    WebDriverWait(driver, 60).until(replaced(old))
    WebDriverWait(driver, 60).until(loaded)
    assert heading(driver) == "Overview"
    # The overview's next step is a search: the cursor waits in the box (issue 12).
    assert focused(driver, "q")

    # An official's medium page: every field and action is reachable in order.
    official = browser("en")
    sign_in(official, console_server.url, console_server.tokens["tanaka"], "en")
    medium = MEDIA["en"][0]
    official.get(f"{console_server.url}/console/medium?name={medium}")
    # The page's main action: its first field has the focus at once (issue 12).
    assert focused(official, "lost_at")
    seen = tab_through(official, 40)
    advanced = official.find_element(By.CSS_SELECTOR, "#advanced summary").text
    # The button before the folded settings most reports keep (issue 12, fourth newcomer
    # run: it must be above the fold in a 1366x625 viewport).
    others = official.find_element(By.CSS_SELECTOR, "#other-actions > summary")
    wanted = ["reason_common_outside", "reason", "review-loss", advanced, others.text]
    positions = [seen.index(w) for w in wanted]
    assert positions == sorted(positions)
    # Destroy now in the closed fold of the other actions, after the form (console43):
    # not reached until the fold is opened from the keyboard, then the next stop.
    assert "destroy-now" not in seen
    others.send_keys(Keys.ENTER)
    assert tab_through(official, 1) == ["destroy-now"]
    # The folded settings open from the keyboard, and their fields come next.
    official.find_element(By.CSS_SELECTOR, "#advanced summary").send_keys(Keys.ENTER)
    assert official.find_element(By.ID, "waiting_hours").is_displayed()
    official.find_element(By.ID, "reason").click()
    seen = tab_through(official, 6)
    assert seen[:4] == ["review-loss", advanced, "note", "waiting_hours"]
