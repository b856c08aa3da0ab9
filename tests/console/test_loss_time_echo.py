"""The loss form's time said back (issue 12, console43), over a real socket (SQLite), the
clock at 2026-12-04 10:00 in Asia/Tokyo: ``GET /console/loss-time`` answers how the form
will read a time with the form's own reading (the review's, its refusals word for word),
signed in only, changing and auditing nothing; and the medium page as it is without the
script: the echo's line hidden and empty, the form's button before the other actions,
which are one closed fold holding Destroy now.
"""

from __future__ import annotations

import html

import pytest
import requests

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session
from tests.support.console_http import audit_entries
from tests.support.loss_form import MEDIUM
from tests.support.loss_form import post as _post


def _echo(browser: requests.Session, url: str, at: str, approximate: str = "1") -> object:
    answer = browser.get(
        url + "/console/loss-time", params={"at": at, "approximate": approximate}, timeout=30
    )
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def _refusal(page: str) -> str:
    """The loss form's refusal of its time, as the page says it."""
    alert = page.split('id="loss-error"', 1)[1].split("</p>", 1)[0]
    return html.unescape(alert.split('href="#lost_at">', 1)[1].split("</a>", 1)[0])


def test_without_a_session_the_echo_is_refused_and_says_nothing(
    settings: Settings, console_url: str
) -> None:
    """A script's question: 401 as the API refuses (no redirect to the sign-in page, which
    the script would take for an answer), nothing read; a session that is not one alike."""
    official_with_medium(settings, MEDIUM)
    for cookies in ({}, {"rwc_console": "not-a-session"}):
        answer = requests.get(
            console_url + "/console/loss-time",
            params={"at": "04:19"},
            cookies=cookies,
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 401, (cookies, answer.status_code)
        assert answer.headers["content-type"] == "application/problem+json"
        assert "said" not in answer.json() and "2026" not in answer.text


@pytest.mark.parametrize(
    ("language", "at", "approximate", "said", "read"),
    [
        ("en", "04:19", "1", "= around Fri 4 Dec, 04:19 (UTC+09:00)", "2026-12-04T04:19:00"),
        ("ja", "04:19", "1", "= 12/4 金曜 04:19 (UTC+09:00) 頃", "2026-12-04T04:19:00"),
        ("en", "2026/12/03 17:41", "", "= Thu 3 Dec, 17:41 (UTC+09:00)", "2026-12-03T17:41:00"),
        (
            "ja",
            "２０２６年１２月３日 午後５時４１分",
            "",
            "= 12/3 木曜 17:41 (UTC+09:00)",
            "2026-12-03T17:41:00",
        ),
        (
            "en",
            "2026-12-03 17:41:30",
            "1",
            "= around Thu 3 Dec, 17:41:30 (UTC+09:00)",
            "2026-12-03T17:41:30",
        ),
        # Not this year: said with its year (a year mistyped shows).
        ("ja", "2025-12-03 17:41", "", "= 2025/12/3 水曜 17:41 (UTC+09:00)", "2025-12-03T17:41:00"),
        # An explicit offset is honoured and said in the zone, as every time.
        (
            "en",
            "2026-12-03T08:41:00+00:00",
            "",
            "= Thu 3 Dec, 17:41 (UTC+09:00)",
            "2026-12-03T08:41:00",
        ),
    ],
)
def test_the_echo_says_the_time_the_review_reads(
    settings: Settings,
    console_url: str,
    language: str,
    at: str,
    approximate: str,
    said: str,
    read: str,
) -> None:
    """The instant the review posts on (its hidden ``lost_at``: ``read``), with the day of
    the week; "around" as the review says it when the box is ticked. Nothing is audited."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, language)
    before = len(audit_entries(settings))
    assert _echo(browser, console_url, at, approximate) == {"understood": True, "said": said}
    assert len(audit_entries(settings)) == before
    review = _post(browser, console_url, at)
    assert review.status_code == 200, review.text[:2000]
    assert f'name="lost_at" value="{read}' in review.text


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("at", ["25:99", "18:30", "12/03/2026 17:41", "2026-12-05 09:00"])
def test_a_time_the_form_refuses_is_said_as_the_form_refuses_it(
    settings: Settings, console_url: str, language: str, at: str
) -> None:
    """Unreadable, a time alone later than now (never yesterday), an ambiguous date, the
    future: the echo's words are the form's refusal, in the page's language."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, language)
    refused = _post(browser, console_url, at)
    assert refused.status_code == 400
    assert _echo(browser, console_url, at) == {"understood": False, "said": _refusal(refused.text)}


def test_an_empty_time_says_nothing(settings: Settings, console_url: str) -> None:
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, "en")
    assert _echo(browser, console_url, "  ") == {"understood": False, "said": ""}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_without_the_script_the_form_comes_first_and_destroy_now_is_folded(
    settings: Settings, console_url: str, language: str
) -> None:
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, language)
    page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    main = page.text.split("<main", 1)[1]
    # The echo's line: hidden and empty until the script says something in it.
    assert (
        '<span class="echo" id="lost-at-echo" data-from="/console/loss-time"'
        ' aria-live="polite" hidden></span></p>'
    ) in main
    # The form's button, then one closed fold of the other actions, Destroy now inside it
    # (a link to the page that asks for the medium's name typed).
    button = main.index('id="review-loss"')
    fold = main.index('<details class="action secondary" id="other-actions">')
    destroy = main.index('id="destroy-now"')
    assert button < fold < destroy < main.index("</details>", fold + 1)
    assert main.count('class="button danger"') == 1
    assert 'class="button danger"' not in main[:fold]
    within = main[fold:destroy]
    assert within.count("<details") > within.count("</details>")  # still inside the fold
    link = main[main.rindex("<a", 0, destroy) : main.index(">", destroy)]
    assert f"/console/medium/destroy?name={MEDIUM}" in html.unescape(link)
