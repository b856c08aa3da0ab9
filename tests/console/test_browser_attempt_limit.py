"""A container one attempt from suspending itself, found on the overview and reset, in a
real browser (issue 12, console20), in Japanese and in English.

spec §receipt: the clerk typed the right password on the last attempt; the receipt lifted
the budget suspension and left the count at the budget minus one, so the clerk's next
mistyped password suspends the container again. The overview lists it with whose
attempts those were; its label leads to the container's page, whose button leads to a
confirmation naming the container, its count and whose attempts; confirmed with a reason,
the count is 0 and the audit log holds ``budget.reset`` with the official as actor.
Headless Chromium against a real server (SQLite, real VOPRF).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain.i18n import translations
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import BrowserFactory
from tests.support.console_pages import (
    click_and_wait,
    heading,
    shoot,
    sign_in_by_cookie,
    translated,
)
from tests.support.world import World, activate, confirm, make_world, oprf

pytestmark = pytest.mark.slow

MEDIUM = "USB-2026-1207"
BUDGET = 4


def _at_the_limit(world: World, clock: FakeClock) -> str:
    """groupie's wrong password, then reader's two, then reader's right one on the last
    attempt: suspended, lifted by the receipt, 3 of 4."""
    reg, key = activate(world, medium=MEDIUM, label="ledger", attempt_budget=BUDGET)
    cid, pk = reg["container_id"], reg["public_key"]
    for who in ("groupie", "reader", "reader"):
        clock.advance(seconds=1)
        oprf(world, who, cid, pk)
    clock.advance(seconds=1)
    last = oprf(world, "reader", cid, pk)
    clock.advance(seconds=1)
    confirm(world, "reader", cid, key, last)
    return str(cid)


def _count(language: str, used: int) -> str:
    return translated(language, "%(used)s of %(budget)s") % {"used": used, "budget": BUDGET}


def _whose(language: str) -> str:
    def one(who: str, n: int) -> str:
        form = translations(language).ngettext(
            "%(who)s (%(n)s attempt)", "%(who)s (%(n)s attempts)", n
        )
        return form % {"who": who, "n": n}

    joiner = {"ja": "、", "en": " and "}[language]
    return joiner.join([one("reader", 2), one("groupie", 1)])


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_container_at_its_limit_is_found_and_reset(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    screenshot_dir: Path | None,
    language: str,
) -> None:
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    clock.t = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    world = make_world(settings, console_url)
    driver = browser(language)
    try:
        cid = _at_the_limit(world, clock)
        sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
        driver.get(f"{console_url}/console/overview")
        section = driver.find_element(By.ID, "at-limit")
        assert section.text == translated(language, "One attempt from suspending themselves")
        row = driver.find_element(By.ID, f"at-limit-{cid}")
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells == ["ledger", MEDIUM, _count(language, BUDGET - 1), _whose(language)]
        if language == "ja":  # the checked-in picture (docs/console)
            shoot(driver, screenshot_dir, "16-at-limit")

        click_and_wait(driver, row.find_element(By.LINK_TEXT, "ledger"))
        assert "ledger" in heading(driver)
        warning = translated(
            language, "One more attempt without the right password suspends this container."
        )
        form = driver.find_element(By.ID, "reset-budget")
        assert warning in form.text
        click_and_wait(driver, form.find_element(By.TAG_NAME, "button"))

        # The confirmation names the container, its count now and after, and whose
        # attempts; nothing has changed yet.
        title = translated(language, "Reset the attempt count of %(label)s") % {"label": "ledger"}
        assert heading(driver) == title
        facts = driver.find_element(By.ID, "reset-facts").text
        assert cid in facts and MEDIUM in facts
        assert f"{_count(language, BUDGET - 1)} → {_count(language, 0)}" in facts
        assert driver.find_element(By.ID, "reset-whose").text == _whose(language)
        assert _unconfirmed(settings, cid) == BUDGET - 1
        if language == "ja":
            shoot(driver, screenshot_dir, "17-reset")
        driver.find_element(By.ID, "reason").send_keys("reader mistyped; checked by phone")
        buttons = driver.find_elements(By.CSS_SELECTOR, "main button")
        assert [b.text for b in buttons] == [title]
        click_and_wait(driver, buttons[0])

        done = translated(language, "The attempt count is reset: it was %(n)s, it is now 0.")
        assert driver.find_element(By.ID, "reset-done").text == done % {"n": BUDGET - 1}
        assert _count(language, 0) in driver.find_element(By.TAG_NAME, "main").text
        assert not driver.find_elements(By.ID, "reset-budget")  # nothing left to reset
        assert _unconfirmed(settings, cid) == 0

        driver.get(f"{console_url}/console/overview")
        assert not driver.find_elements(By.ID, f"at-limit-{cid}")
        entry = _last_entry(settings, cid)
        assert entry == ("official", "budget.reset", "ok", "reader mistyped; checked by phone")
    finally:
        world.close()


def _unconfirmed(settings: Settings, cid: str) -> int:
    service = KeyService(settings)
    try:
        return int(service.status(service.local_actor("auditor"), cid)["unconfirmed"])
    finally:
        service.close()


def _last_entry(settings: Settings, cid: str) -> tuple[str, str, str, str]:
    service = KeyService(settings)
    try:
        entries = service.audit_list(service.local_actor("auditor"), container=cid)["entries"]
        last = entries[-1]
        return (last["actor"], last["action"], last["outcome"], last["details"]["reason"])
    finally:
        service.close()
