"""The medium page's loss form first and alone, and its time said back as the server reads
it (issue 12, console43), in a real browser, in Japanese and in English.

Newcomers (README and a token, told "the stick fell out of a bag on the train around
04:19, not sure") hesitated at the red "Destroy now" under the form, and four of four
relied on README's "a time alone is today". Before a report the form is the page's one
action, the other actions one closed fold after its button; while the official types the
time, a line beside the box "approximate" says how the server will read it (its own
reading: GET /console/loss-time), or that it cannot. Headless Chromium at a 1366x625
laptop viewport against a real server (SQLite), the clock at 4 Dec 2026 10:00 in
Asia/Tokyo (a Friday).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from keyserver._domain.settings import Settings
from tests.support.console import BrowserFactory, official_with_medium
from tests.support.console_pages import LAPTOP, focused, sign_in_by_cookie, translated
from tests.support.loss_form import MEDIUM

pytestmark = pytest.mark.slow

# (typed, the box ticked, what the line says) per language: a time alone is today, a
# full date is that day; the day of the week, the year only when it is not this one.
SAID = {
    "ja": [
        ("04:19", True, "= 12/4 金曜 04:19 (UTC+09:00) 頃"),
        ("2026-12-03 17:41", True, "= 12/3 木曜 17:41 (UTC+09:00) 頃"),
        ("2026-12-03 17:41", False, "= 12/3 木曜 17:41 (UTC+09:00)"),
        ("2025-12-03 17:41", False, "= 2025/12/3 水曜 17:41 (UTC+09:00)"),
    ],
    "en": [
        ("04:19", True, "= around Fri 4 Dec, 04:19 (UTC+09:00)"),
        ("2026-12-03 17:41", True, "= around Thu 3 Dec, 17:41 (UTC+09:00)"),
        ("2026-12-03 17:41", False, "= Thu 3 Dec, 17:41 (UTC+09:00)"),
        ("2025-12-03 17:41", False, "= Wed 3 Dec 2025, 17:41 (UTC+09:00)"),
    ],
}
# The form's own refusal of a time it cannot read, with its example (yesterday, 18:30).
UNREAD = {
    "ja": "紛失日時が日時として読めません。年を先頭に、2026-12-03 18:30 のように入力してください"
    " (Asia/Tokyo の時刻)。",
    "en": "Time of loss is not a date and time: write it year first, for example"
    " 2026-12-03 18:30 (Asia/Tokyo).",
}


def _echo(driver: WebDriver, wanted: str) -> str:
    """The echo's text once it says ``wanted`` (the server answers a moment after the
    last key); what it says otherwise, for the assertion."""
    echo = driver.find_element(By.ID, "lost-at-echo")
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, 20).until(lambda _: echo.text == wanted)
    return echo.text


@contextlib.contextmanager
def _medium_page(
    settings: Settings, url: str, browser: BrowserFactory, language: str
) -> Iterator[WebDriver]:
    """An official on MEDIUM's page (one active container), at the laptop's viewport."""
    token = official_with_medium(settings, MEDIUM)
    driver = browser(language)
    try:
        sign_in_by_cookie(driver, url, token, language, LAPTOP)
        driver.get(f"{url}/console/medium?name={MEDIUM}")
        assert focused(driver, "lost_at")
        yield driver
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_time_typed_is_said_back_as_the_server_reads_it(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    with _medium_page(settings, console_url, browser, language) as driver:
        field = driver.find_element(By.ID, "lost_at")
        box = driver.find_element(By.ID, "approximate")
        echo = driver.find_element(By.ID, "lost-at-echo")
        assert echo.get_attribute("aria-live") == "polite"
        assert echo.text == ""
        for typed, approximate, said in SAID[language]:
            field.clear()
            field.send_keys(typed)
            if box.is_selected() != approximate:
                box.click()
            assert _echo(driver, said) == said, typed
            assert "unread" not in str(echo.get_attribute("class"))
        field.clear()
        field.send_keys("25:99")
        assert _echo(driver, UNREAD[language]) == UNREAD[language]
        assert "unread" in str(echo.get_attribute("class"))
        # Emptied, the line says nothing.
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.BACKSPACE)
        WebDriverWait(driver, 20).until(lambda _: echo.text == "")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_form_is_first_and_destroy_now_is_in_a_closed_fold_after_it(
    settings: Settings, console_url: str, browser: BrowserFactory, language: str
) -> None:
    with _medium_page(settings, console_url, browser, language) as driver:
        destroy = driver.find_element(By.ID, "destroy-now")
        fold = driver.find_element(By.ID, "other-actions")
        # Folded, closed, and not shown: nothing red beside the form.
        assert fold.tag_name == "details" and fold.get_attribute("open") is None
        assert not destroy.is_displayed()
        assert driver.execute_script(
            "return arguments[0].closest('details') === arguments[1]", destroy, fold
        )
        # Tab from the time of loss: the form's button, then (past the form's own fold)
        # the other actions' summary; Destroy now is not reached while it is folded.
        seen = []
        for _ in range(30):
            active = driver.switch_to.active_element
            seen.append(active.get_attribute("id") or active.text)
            active.send_keys(Keys.TAB)
        summary = translated(language, "Other actions")
        assert "review-loss" in seen and summary in seen, seen
        assert seen.index("review-loss") < seen.index(summary)
        assert "destroy-now" not in seen
        # Opened from the keyboard (Enter on its summary), no script needed: Destroy now is
        # the next stop, a link to the page that asks for the medium's name typed.
        opener = fold.find_element(By.TAG_NAME, "summary")
        driver.execute_script("arguments[0].focus()", opener)
        opener.send_keys(Keys.ENTER)
        assert fold.get_attribute("open") is not None and destroy.is_displayed()
        driver.switch_to.active_element.send_keys(Keys.TAB)
        assert driver.switch_to.active_element.get_attribute("id") == "destroy-now"
