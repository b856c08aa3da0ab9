"""The overview says how far the audit chain was verified, incrementally (issue 12).

Over a real socket (SQLite), in Japanese and English. With a slice of one entry, a load says
"up to N of M"; the load that reaches the head says no full check was made yet, as no
single run went from the first entry to the head. After the full
verification (its own action, linked from the overview) the page names the time of that
check in the configured zone, and entries appended since count in "up to entry N".
"""

from __future__ import annotations

import html
import re

import pytest

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService, reports
from keyserver._store.audit import read_head
from tests.support.console import official_with_medium, signed_in_session

TEXTS = {
    "en": {
        "part": "Chain verified up to entry {n} of {m} so far; the rest is checked when this "
        "page is loaded again.",
        "none": "Chain verified up to entry {n} (incrementally; no full check yet).",
        "full": "Chain verified up to entry {n} (incrementally, from the last full check at "
        "4 Dec 2026, 10:00:00",
        "action": "Verify the chain",
    },
    "ja": {
        "part": "記録 {n} 件目まで検証済みです(全 {m} 件中)。残りはこのページを再読み込みしたときに"
        "検証します。",
        "none": "記録 {n} 件目まで検証済みです(差分検証のみ。全件検証はまだ行われていません)。",
        "full": "記録 {n} 件目まで検証済みです(前回の全件検証 2026/12/04 10:00:00",
        "action": "ログの完全性を検証",
    },
}
ADMIN = Actor(name="t", roles=ROLES, local=True)


def _head(settings: Settings) -> int:
    service = KeyService(settings)
    try:
        return int(service.audit_verify(ADMIN)["head_seq"])
    finally:
        service.close()


def _chain_head(settings: Settings) -> int:
    service = KeyService(settings)
    try:
        with service.ledger.reads() as session:
            head = read_head(session)
    finally:
        service.close()
    assert head is not None
    return head[0]


def _add_principal(settings: Settings) -> None:
    service = KeyService(settings)
    try:
        service.add_principal(ADMIN, "sato", ["reader"])
    finally:
        service.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_overview_says_what_was_verified(
    settings: Settings, console_url: str, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = TEXTS[language]
    token = official_with_medium(settings, "USB-2026-0601")
    # One entry per load: the sign-in's redirect to the overview verifies entry 1.
    monkeypatch.setattr(reports, "OVERVIEW_VERIFY_SLICE", 1)
    browser = signed_in_session(console_url, token, language)
    head = _chain_head(settings)  # with the sign-in's entry
    pages = [
        html.unescape(browser.get(console_url + "/console/overview", timeout=30).text)
        for _ in range(head - 1)
    ]
    _head(settings)  # the full verification, as /console/audit/verify runs it
    _add_principal(settings)
    after = html.unescape(browser.get(console_url + "/console/overview", timeout=30).text)
    first, last = pages[0], pages[-1]
    assert texts["part"].format(n=2, m=head) in first
    assert texts["none"].format(n=head) in last
    assert texts["action"] in first and 'href="/console/audit/verify"' in first
    assert texts["full"].format(n=head + 1) in after


def test_full_verification_page_refreshes_the_overview(
    settings: Settings, console_url: str
) -> None:
    token = official_with_medium(settings, "USB-2026-0601")
    browser = signed_in_session(console_url, token, "en")
    verify = browser.get(console_url + "/console/audit/verify", timeout=30)
    overview = html.unescape(browser.get(console_url + "/console/overview", timeout=30).text)
    assert verify.status_code == 200 and "The audit log is intact" in verify.text
    assert "(incrementally, from the last full check at 4 Dec 2026, 10:00:00" in overview
    # No loss report: the section's heading and "None.", as the next section says it (issue
    # 12, tenth newcomer runs: a sentence restating the heading).
    assert re.search(r"<h2>Loss reports</h2>\s*<p>None\.</p>", overview), overview
