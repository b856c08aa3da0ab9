"""From the loss review back to the form to change the time, everything typed kept (issue 12).

The thirteenth session's newcomer run: the review page showed a confirmed opening one
minute before the time typed, and the only way back was Cancel, which dropped the time,
the reason and the optional fields. "Change the time of loss" returns to the medium's
form with every field as typed and the cursor in the time; nothing is acted on. In a
real browser against a real ``keyserver serve``, in Japanese and in English.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.support.console import BrowserFactory, ConsoleServer
from tests.support.console_pages import (
    click_and_wait,
    focused,
    heading,
    official_on_medium,
    states,
    translated,
)

pytestmark = pytest.mark.slow

PUBLIC = {"ja": "委託先の職員が電車内で紛失", "en": "Lost on a train by a contractor"}
OWN_WORDS = {"ja": "電話で連絡 <b>あり</b>", "en": "Phoned in <b>by</b> the contractor"}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_change_the_time_of_loss_keeps_everything_typed(
    console_server: ConsoleServer, browser: BrowserFactory, language: str
) -> None:
    driver = browser(language)
    medium = official_on_medium(driver, console_server, language)
    driver.find_element(By.ID, "lost_at").send_keys("2026-12-01 18:30")
    driver.find_element(By.ID, "reason_common_office").click()
    driver.find_element(By.ID, "reason").send_keys(OWN_WORDS[language])
    driver.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    driver.find_element(By.ID, "note").send_keys(PUBLIC[language])
    driver.find_element(By.ID, "waiting_hours").clear()
    driver.find_element(By.ID, "waiting_hours").send_keys("48")
    click_and_wait(driver, driver.find_element(By.ID, "review-loss"))

    # The review: the confirm button keeps the cursor (the one primary action); the way
    # back to the form is a plain button beside it, in the page's language.
    assert focused(driver, "confirm-loss")
    change = driver.find_element(By.ID, "change-time")
    assert change.text == translated(language, "Change the time of loss")
    assert "primary" not in (change.get_attribute("class") or "")
    assert len(driver.find_elements(By.CSS_SELECTOR, "main .button.primary")) == 1
    click_and_wait(driver, change)

    # Back on the medium's form: every field as typed, the cursor in the time of loss.
    assert medium in heading(driver)
    assert focused(driver, "lost_at")
    value = driver.find_element(By.ID, "lost_at").get_attribute("value")
    assert value == "2026-12-01 18:30"
    assert driver.find_element(By.ID, "reason_common_office").is_selected()
    assert driver.find_element(By.ID, "reason").get_attribute("value") == OWN_WORDS[language]
    assert driver.find_element(By.ID, "advanced").get_attribute("open") is not None
    assert driver.find_element(By.ID, "waiting_hours").get_attribute("value") == "48"
    assert driver.find_element(By.ID, "note").get_attribute("value") == PUBLIC[language]
    assert not driver.find_elements(By.ID, "loss-error")  # nothing to fix was said
    assert states(console_server, medium) == {"active"}, "going back must not act"

    # The time changed, the review again: the new time, the rest as typed before.
    driver.find_element(By.ID, "lost_at").clear()
    driver.find_element(By.ID, "lost_at").send_keys("2026-12-01 17:00")
    click_and_wait(driver, driver.find_element(By.ID, "review-loss"))
    assert "17:00" in driver.find_element(By.ID, "lost-at").text
    rule = driver.find_element(By.ID, "deadline-rule").text
    assert rule == translated(language, "%(hours)s hours after you confirm") % {"hours": "48"}
    assert PUBLIC[language] in driver.find_element(By.ID, "facts-after").text
    # The details typed are added to the reason chosen (issue 12, fifteenth session), and
    # the review shows the reason so recorded.
    reason = translated(language, "%(reason)s: %(details)s") % {
        "reason": translated(language, "Lost in a city office"),
        "details": OWN_WORDS[language],
    }
    shown = driver.find_element(By.ID, "review-reason").text
    assert shown == f"{reason} {translated(language, '(printed, shown to readers)')}", shown
    assert states(console_server, medium) == {"active"}
