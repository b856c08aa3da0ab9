"""Console search matches medium ids as the medium rules do, and says "did you mean".

Issue 12: a newcomer typed ``usb 2026 0502`` for ``USB-2026-0502`` (the README says blanks
and dashes do not matter) and got "Nothing matches". Over a real socket (SQLite).
"""

from __future__ import annotations

import html

import pytest

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session

MEDIUM = "USB-2026-0502"


@pytest.mark.parametrize(
    "typed",
    ["usb 2026 0502", "usb20260502", "2026 0502", "USB\u22122026\u2212", "\uff35\uff33\uff22 2026"],
)
def test_blanks_dashes_and_width_do_not_matter(
    settings: Settings, console_url: str, typed: str
) -> None:
    token = official_with_medium(settings, MEDIUM)
    page = signed_in_session(console_url, token, "en").get(
        console_url + "/console/search", params={"q": typed}, timeout=30
    )
    # The one medium it names, and nothing else: straight to its page (issue 12).
    assert page.status_code == 200
    assert [r.status_code for r in page.history] == [303]
    assert page.url.startswith(f"{console_url}/console/medium?name={MEDIUM}&found=")
    assert "Nothing matches" not in page.text
    # What was searched for, said on the page (issue 12, eighth newcomer run), escaped as
    # text; in three words (console39: "1 medium matches ..." was read before the form).
    said = html.unescape(page.text.split('id="search-note">', 1)[1].split("</span>", 1)[0])
    assert said == f"Search: {typed}"


def test_the_search_note_is_text(settings: Settings, console_url: str) -> None:
    """The search words come back in the medium page's URL: shown as text, never markup."""
    token = official_with_medium(settings, MEDIUM)
    page = signed_in_session(console_url, token, "ja").get(
        console_url + "/console/medium",
        params={"name": MEDIUM, "found": "<script>alert(1)</script>"},
        timeout=30,
    )
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "検索: &lt;script&gt;alert(1)&lt;/script&gt;</span>" in page.text


def test_a_list_when_the_name_did_not_choose(settings: Settings, console_url: str) -> None:
    """A label matched rather than the medium's name, or a state filter: the list."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, "en")
    by_label = browser.get(console_url + "/console/search", params={"q": "ledger"}, timeout=30)
    by_state = browser.get(
        console_url + "/console/search", params={"q": MEDIUM, "state": "active"}, timeout=30
    )
    for page in (by_label, by_state):
        assert page.status_code == 200 and not page.history
        assert "<h1>Search</h1>" in page.text and f">{MEDIUM}</a>" in page.text


def test_no_match_offers_the_nearest_medium(settings: Settings, console_url: str) -> None:
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, "ja")
    page = browser.get(console_url + "/console/search", params={"q": "USB-2026-0503"}, timeout=30)
    unrelated = browser.get(console_url + "/console/search", params={"q": "zzzz"}, timeout=30)
    text = html.unescape(page.text)
    assert "USB-2026-0503" in text and 'id="search-suggestions"' in text
    assert f'<a href="/console/medium?name={MEDIUM}">{MEDIUM}</a>' in text
    assert 'id="search-suggestions"' not in unrelated.text  # nothing near: nothing offered
