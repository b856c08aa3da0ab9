"""The language switch on a page that answered a form (thirteenth session, console11's report).

The review of a loss report, the form given back to change its time, and an error said on
the form are answers to a POST: they have no address of their own. Their language link
asked for that address with a GET, which found no page (404), in the middle of a loss
report. It now returns to the page the form stands for, the medium's, in the language
chosen, and carries nothing typed (the internal reason must not travel in a URL).
Over a real socket (SQLite).
"""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pytest

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session
from tests.support.loss_form import MEDIUM
from tests.support.loss_form import post as _post

REASON = "委託先が紛失 <b>"  # what tests.support.loss_form.post types as the internal reason


def _switch_to_ja(text: str) -> str:
    """The href of the page's link to the Japanese console."""
    found = re.search(r'<a class="lang" lang="ja"[^>]*href="([^"]+)"', text)
    assert found is not None, text[:1500]
    return html.unescape(found.group(1))


@pytest.mark.parametrize(
    ("path", "lost_at"),
    [
        ("", "2026-12-03 18:30"),  # the review
        ("/edit", "2026-12-03 18:30"),  # back from the review to change the time
        ("", "yesterday-ish"),  # the form again, with what to fix
    ],
    ids=["review", "change-time", "form-error"],
)
def test_switching_language_on_a_posted_page_returns_to_the_medium(
    settings: Settings, console_url: str, path: str, lost_at: str
) -> None:
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, "en")
    answered = _post(browser, console_url, lost_at, path, reason_common="stolen")
    assert answered.status_code in (200, 400), answered.text[:1500]  # a page, either way
    href = _switch_to_ja(answered.text)
    # Nothing typed travels in the link: not the internal reason, not the time.
    assert "reason" not in unquote(href) and REASON not in unquote(href)
    assert "18:30" not in unquote(href)
    switched = browser.get(console_url + href, timeout=30)
    # Before: 404 for the POST-only address; now the medium's page, in Japanese.
    assert switched.status_code == 200, switched.text[:1500]
    assert switched.url.startswith(console_url + "/console/medium?")
    assert 'lang="ja"' in switched.text.split(">", 2)[1]
    assert MEDIUM in switched.text
    assert "<h2>紛失の届け出</h2>" in switched.text  # its loss form, nothing acted on
