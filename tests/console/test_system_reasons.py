"""The reasons the system writes are shown in the page's language (issue 12, console20).

A container's budget suspension, its lift by the reader's receipt and the sweep's destroy
record English sentences as their reason (spec §receipt, §lifecycle). The audit log keeps
them as written; the container page, the medium report (on screen and on paper) and the
console's audit page show them through the catalogue: a Japanese page never shows the
English sentence.

Over a real socket (SQLite, real VOPRF, real audit log), in Japanese and English.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._domain.system_reasons import SYSTEM_REASONS
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import signed_in_session
from tests.support.world import World, activate, confirm, make_world, oprf

MEDIUM = "USB-2026-1207"


def _page(url: str, world: World, path: str, language: str, **params: str) -> str:
    browser = signed_in_session(url, world.tokens["official"], language)
    page = browser.get(url + path, params=params, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return html.unescape(page.text)


def _says(page: str, language: str, stored: str) -> None:
    """The page shows the system's reason ``stored`` in ``language``, never in English on a
    Japanese page."""
    shown = translate(language, SYSTEM_REASONS[stored].msgid)
    assert shown in page
    if language == "ja":
        assert shown != stored
        assert stored not in page


@pytest.mark.parametrize("language", ["ja", "en"])
def test_system_reasons_in_the_page_language(
    settings: Settings, console_url: str, language: str
) -> None:
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    clock.t = datetime(2026, 12, 1, tzinfo=UTC)
    world = make_world(settings, console_url)
    try:
        reg, key = activate(world, medium=MEDIUM, label="ledger", attempt_budget=2)
        cid = reg["container_id"]
        lost_at = clock() + timedelta(minutes=1)
        clock.advance(minutes=5)
        oprf(world, "reader", cid, reg["public_key"])  # a wrong password: never confirmed
        clock.advance(minutes=1)
        last = oprf(world, "reader", cid, reg["public_key"])  # the budget runs out
        container = f"/console/container/{cid}"
        _says(_page(console_url, world, container, language), language, "attempt budget exhausted")

        clock.advance(seconds=10)
        confirm(world, "reader", cid, key, last)  # the right password, on the last attempt
        lifted = "confirmed by the reader's receipt"
        _says(_page(console_url, world, container, language), language, lifted)

        clock.advance(hours=1)
        body = {"reason": "stick lost on the train", "lost_at": lost_at.isoformat()}
        reported = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
        assert reported.is_success, reported.text
        clock.advance(days=4)  # past the waiting period: the sweep destroys the keys
        service = KeyService(settings)
        try:
            assert service.sweep()["loss_waiting_period"] == 1
        finally:
            service.close()
        swept = "loss report waiting period over"
        _says(_page(console_url, world, container, language), language, swept)

        report = _page(console_url, world, "/console/medium/report", language, name=MEDIUM)
        audit = _page(console_url, world, "/console/audit", language)  # every entry: a few
        for stored in ("attempt budget exhausted", lifted, swept):
            _says(report, language, stored)
            _says(audit, language, stored)
    finally:
        world.close()


def test_the_audit_log_keeps_what_the_system_wrote(settings: Settings, console_url: str) -> None:
    """The stored text is the record: its JSON export is not translated."""
    world = make_world(settings, console_url)
    try:
        reg, _ = activate(world, medium=MEDIUM, label="ledger", attempt_budget=1)
        oprf(world, "reader", reg["container_id"], reg["public_key"])
        entries = world.call(
            "auditor", "GET", "/v1/audit", params={"container": reg["container_id"]}
        )
        assert entries.status_code == 200, entries.text
        suspended = [e for e in entries.json()["entries"] if e["action"] == "suspend"]
        assert [e["details"]["reason"] for e in suspended] == ["attempt budget exhausted"]
    finally:
        world.close()
