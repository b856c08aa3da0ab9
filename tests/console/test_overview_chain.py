"""The overview says how far the audit chain was verified, incrementally (issue 12).

Over a real socket (SQLite), in Japanese and English: before any full verification the
overview says no full check was made yet; after the full verification (its own action,
linked from the overview) it names the time of that check in the configured zone; entries
appended since are verified on the next load and counted in "up to entry N".
"""

from __future__ import annotations

import html

import pytest

from keyserver.domain.lifecycle import ROLES, Actor
from keyserver.domain.settings import Settings
from keyserver.service import KeyService
from keyserver.testing import running_server
from tests.support.console import official_with_medium, signed_in_session

TEXTS = {
    "en": {
        "none": "Chain verified up to entry {n} (incrementally; no full check yet).",
        "full": "Chain verified up to entry {n} (incrementally, from the last full check at "
        "4 Dec 2026, 10:00:00",
        "action": "Verify the whole chain now",
    },
    "ja": {
        "none": "記録 {n} 件目まで検証済みです(差分検証のみ。全件検証はまだ行われていません)。",
        "full": "記録 {n} 件目まで検証済みです(前回の全件検証 2026/12/04 10:00:00",
        "action": "今すぐ全件を検証",
    },
}


def _head(settings: Settings) -> int:
    service = KeyService(settings)
    try:
        return int(service.audit_verify(Actor(name="t", roles=ROLES, local=True))["head_seq"])
    finally:
        service.close()


def _add_principal(settings: Settings) -> None:
    service = KeyService(settings)
    try:
        service.add_principal(Actor(name="t", roles=ROLES, local=True), "sato", ["reader"])
    finally:
        service.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_overview_says_what_was_verified(settings: Settings, language: str) -> None:
    texts = TEXTS[language]
    token = official_with_medium(settings, "USB-2026-0601")
    with running_server(settings) as url:
        browser = signed_in_session(url, token, language)
        first = html.unescape(browser.get(url + "/console/overview", timeout=30).text)
        head = _head(settings)  # a full verification, as /console/audit/verify runs it
        _add_principal(settings)
        after = html.unescape(browser.get(url + "/console/overview", timeout=30).text)
    # Nothing was appended between the first load and the full verification.
    assert texts["none"].format(n=head) in first
    assert texts["action"] in first and 'href="/console/audit/verify"' in first
    assert texts["full"].format(n=head + 1) in after


def test_full_verification_page_refreshes_the_overview(settings: Settings) -> None:
    token = official_with_medium(settings, "USB-2026-0601")
    with running_server(settings) as url:
        browser = signed_in_session(url, token, "en")
        browser.get(url + "/console/overview", timeout=30)
        verify = browser.get(url + "/console/audit/verify", timeout=30)
        overview = html.unescape(browser.get(url + "/console/overview", timeout=30).text)
    assert verify.status_code == 200 and "The audit log is intact" in verify.text
    assert "from the last full check at 4 Dec 2026, 10:00:00" in overview
