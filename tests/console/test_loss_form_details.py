"""The loss form asks for a time and a reason chosen, nothing else (issue 12, eighteenth session).

This session's newcomer runs spent the most time on the medium's page: "Details" (詳細)
did not say whether it was required, so both typed a sentence, worried about personal
names (the warning was on the legend, not at the box); the folded "Keys destroyed 72 hours
after you confirm" made them wonder whether to open it, and the Japanese reader feared
the city's data would be destroyed. Now the box says it is optional and that no personal
names go in it, the fold says the destruction is automatic and of the server's keys only,
and a loss reported with the box left empty prints the chosen reason alone (the lead's
decision: a complete public reason). In a real browser against a real ``keyserver serve``,
in Japanese and in English.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.support.console import BrowserFactory, ConsoleServer
from tests.support.console_pages import (
    click_and_wait,
    heading,
    official_on_medium,
    states,
    translated,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_reason_chosen_and_details_left_empty_is_the_printed_reason(
    console_server: ConsoleServer, browser: BrowserFactory, language: str
) -> None:
    driver = browser(language)
    medium = official_on_medium(driver, console_server, language)

    # The box says, beside it, that it is optional and what never goes in it.
    box = driver.find_element(By.ID, "reason")
    label = driver.find_element(By.CSS_SELECTOR, "label[for=reason]")
    rule = label.find_element(By.ID, "reason_rule")
    assert rule.text == translated(language, "(optional, printed; no personal names)")
    assert label.text == f"{translated(language, 'Details')} {rule.text}"
    # At the box: on its line, just before it (not on the legend above the choices).
    assert abs(_middle(rule) - _middle(box)) < box.size["height"] / 2
    assert 0 <= box.location["x"] - (rule.location["x"] + rule.size["width"]) < 40
    legend = driver.find_element(By.CSS_SELECTOR, "#reasons legend").text
    assert legend == translated(language, "Reason (printed, shown to readers)")

    # The fold: automatic, the server's keys, not the city's data; nothing to do, so
    # closed. Inside, by the waiting period, what the wait is for.
    summary = driver.find_element(By.CSS_SELECTOR, "#advanced summary")
    said = translated(
        language,
        "Automatic: server keys (not the city's data) destroyed %(hours)s hours"
        " after you confirm. Open for an internal note.",
    )
    assert summary.text == said % {"hours": "72"}
    hint = driver.find_element(By.ID, "waiting_hint")
    assert not hint.is_displayed()
    summary.click()
    assert hint.text == translated(
        language,
        "Until then a found medium can be restored; after that, no one can open these"
        " containers again.",
    )
    summary.click()  # folded again, as the official found it

    # A time and a reason chosen, the box left empty: reviewed, then reported.
    driver.find_element(By.ID, "lost_at").send_keys("2026-12-01 18:30")
    driver.find_element(By.ID, "reason_common_stolen").click()
    assert box.get_attribute("value") == ""
    click_and_wait(driver, driver.find_element(By.ID, "review-loss"))
    assert not driver.find_elements(By.ID, "loss-error"), driver.page_source[:3000]
    chosen = translated(language, "Stolen")
    shown = driver.find_element(By.ID, "review-reason").text
    assert shown == f"{chosen} {translated(language, '(printed, shown to readers)')}", shown
    click_and_wait(driver, driver.find_element(By.ID, "confirm-loss"))

    # The report says the chosen reason alone, as the paper prints it.
    assert medium in heading(driver)
    assert states(console_server, medium) == {"suspended"}
    reason = driver.find_element(By.ID, "report-reason").text
    never = translated(language, "(internal notes are never printed)")
    assert reason == f"{chosen} {never}", reason


def _middle(element: WebElement) -> float:
    """The vertical middle of an element on the page."""
    return float(element.location["y"] + element.size["height"] / 2)
