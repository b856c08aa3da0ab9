"""A budget suspension's public reason on the printed medium report (issue 12, ops9).

Someone tried a lost stick's container until its attempt budget ran out, before the loss was
reported. Readers refused since were told the fixed reason (the row's public reason, spec
§receipt), but the audit entry recorded none, so the report printed "none given" (なし) on
that row, and the internal-note line said the system's sentence on screen only. The entry
now carries its public reason; the paper prints it in the report's language, and an
entry written before (no ``public_reason``) is read the same way (public_reason_of).

Over a real socket (SQLite, real VOPRF, real audit log); the paper through headless
Chromium's print media.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain.i18n import translate
from keyserver._domain.lifecycle import BUDGET_REASON
from keyserver._domain.settings import Settings
from keyserver._domain.system_reasons import SYSTEM_REASONS, public_reason_of
from tests.support.clock import FakeClock
from tests.support.console import BrowserFactory, signed_in_session
from tests.support.console_pages import shoot, sign_in_by_cookie
from tests.support.world import World, activate, make_world, oprf

MEDIUM = "USB-2026-BUDGET"
LOSS = {"reason": "stick lost on the train", "public_reason": "medium lost"}


def _budget_spent_then_lost(settings: Settings, url: str) -> tuple[World, str]:
    """A container whose budget a thief used up after the loss, before its report."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    world = make_world(settings, url)
    reg, _ = activate(world, medium=MEDIUM, label="ledger", attempt_budget=2)
    cid = reg["container_id"]
    lost_at = clock() + timedelta(minutes=1)
    clock.advance(minutes=5)
    oprf(world, "reader", cid, reg["public_key"])  # wrong passwords, never confirmed
    clock.advance(minutes=1)
    oprf(world, "reader", cid, reg["public_key"])  # the budget runs out
    clock.advance(hours=1)
    body = {**LOSS, "lost_at": lost_at.isoformat()}
    reported = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert reported.is_success, reported.text
    return world, cid


def test_the_report_api_says_what_refused_readers_were_told(
    settings: Settings, console_url: str
) -> None:
    world, _ = _budget_spent_then_lost(settings, console_url)
    try:
        report = world.call("auditor", "GET", f"/v1/media/{MEDIUM}/report")
        assert report.status_code == 200, report.text
        (container,) = report.json()["containers"]
        budget = [ch for ch in container["state_changes"] if ch["cause"] == "budget"]
        assert [(ch["actor"], ch["reason"], ch["public_reason"]) for ch in budget] == [
            ("system", BUDGET_REASON, BUDGET_REASON)
        ]
    finally:
        world.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_paper_prints_the_budget_reason(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    screenshot_dir: Path | None,
    language: str,
) -> None:
    world, _ = _budget_spent_then_lost(settings, console_url)
    shown = translate(language, SYSTEM_REASONS[BUDGET_REASON].msgid, {})
    none_given = translate(language, "none given", {})
    try:
        # On screen: the budget row's Reason cell says it, with no internal note beside.
        session = signed_in_session(console_url, world.tokens["official"], language)
        page = session.get(console_url + "/console/medium/report", params={"name": MEDIUM})
        assert page.status_code == 200, page.text[:500]
        rows = re.findall(r"<tr>(<td>.*?)</tr>", page.text, re.S)
        budget_rows = [r for r in rows if shown in html.unescape(r)]
        assert len(budget_rows) == 1, rows
        last = re.findall(r"<td([^>]*)>(.*?)</td>", budget_rows[0], re.S)[-1]
        assert "noprint" not in last[0]  # the column is printed
        assert html.unescape(last[1]) == shown

        # On paper (print media): the cell as printed.
        driver = browser(language)
        sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
        driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
        shoot(driver, screenshot_dir, f"report-budget-reason-{language}")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            cells = driver.find_elements(By.CSS_SELECTOR, "table.changes tbody td:last-child")
            printed = [c.text for c in cells if c.is_displayed()]
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        assert shown in printed, printed
        assert none_given not in printed, printed
        if language == "ja":
            assert BUDGET_REASON not in driver.page_source
    finally:
        world.close()


def test_an_older_entry_is_read_as_what_readers_were_told() -> None:
    """Entries written before this session: the budget suspension's fixed sentence was the
    row's public reason; anything a person typed is never taken as public."""
    older = {"reason": BUDGET_REASON, "cause": "budget", "trigger": "reader", "unconfirmed": 2}
    assert public_reason_of(older) == BUDGET_REASON
    assert public_reason_of({**older, "public_reason": None}) is None
    typed = {"reason": "checked by IT", "cause": "official", "scope": "container"}
    assert public_reason_of(typed) is None
    # An official who typed the system's sentence as an internal reason: not public.
    assert public_reason_of({**typed, "reason": BUDGET_REASON}) is None
    assert public_reason_of({**typed, "public_reason": "medium lost"}) == "medium lost"
