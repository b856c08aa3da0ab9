"""The sign-in page: the token, its field's one line and the button, nothing more (issue 12).

Seventeenth session: the newcomers read every line of a page before acting. The footer
that says in which zone times are shown is on every page that shows a time; the sign-in
page shows none, so it has no footer (the overview, the next page, has it). Over a real
socket (SQLite), in Japanese and English.
"""

from __future__ import annotations

import html

import pytest
import requests

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session
from tests.support.console_pages import translated

ZONE_LINE = "Times are shown in %(zone)s (UTC%(offset)s)."


@pytest.mark.parametrize("language", ["ja", "en"])
def test_sign_in_page_says_no_time_zone(
    settings: Settings, console_url: str, language: str
) -> None:
    zone = translated(language, ZONE_LINE) % {"zone": "Asia/Tokyo", "offset": "+09:00"}
    page = requests.get(
        console_url + "/console/sign-in", headers={"Accept-Language": language}, timeout=30
    )
    assert page.status_code == 200
    assert 'id="token"' in page.text
    assert "<footer" not in page.text and zone not in html.unescape(page.text)
    # Signed in, the overview shows times (the audit log's last full check): it says how.
    token = official_with_medium(settings, "USB-2026-0502")
    overview = signed_in_session(console_url, token, language).get(
        console_url + "/console/overview", timeout=30
    )
    assert overview.status_code == 200 and zone in html.unescape(overview.text)
