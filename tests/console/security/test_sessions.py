"""Console sessions: who may sign in, expiry with a moved clock, sign-out and revocation.

Over HTTP against a real server, SQLite and PostgreSQL (conftest.py).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import requests

from keyserver._domain.settings import Settings
from keyserver._http.console import _security
from keyserver._service import KeyService
from keyserver.testing import running_server
from tests.support.console import csrf_of
from tests.support.console_http import (
    audit_entries,
    clock_of,
    sign_in,
    signed_in,
)


def test_sign_in_form_needs_its_cookie(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    # A foreign page posting a token (login CSRF) has no double-submit cookie.
    resp = requests.post(
        console_url + "/console/sign-in",
        data={"csrf": "forged", "token": tokens["tanaka"]},
        timeout=30,
        allow_redirects=False,
    )
    assert resp.status_code == 403
    assert _security.session_cookie_name_plain() not in resp.cookies


@pytest.mark.parametrize("who", ["clerk", "vendor"])
def test_readers_and_writers_cannot_sign_in(
    settings: Settings, tokens: dict[str, str], console_url: str, who: str
) -> None:
    browser, resp = sign_in(console_url, tokens[who])
    assert resp.status_code == 403
    assert not signed_in(resp)
    assert _security.session_cookie_name_plain() not in browser.cookies
    assert not signed_in(browser.get(console_url + "/console/overview", timeout=30))
    refusals = audit_entries(settings, action="console.signin")
    assert [(e["actor"], e["outcome"]) for e in refusals] == [(who, "refused")]


def test_bad_token_cannot_sign_in(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    del tokens  # asked for the principals in the database: none of them has this token
    _, resp = sign_in(console_url, "rwc_" + "A" * 43)
    assert resp.status_code == 401
    assert not signed_in(resp)


def test_idle_and_absolute_expiry(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    clock = clock_of(settings)
    browser, resp = sign_in(console_url, tokens["tanaka"])
    assert signed_in(resp)
    overview = console_url + "/console/overview"
    # Used every 29 minutes: the idle timeout (30 min) never strikes...
    for _ in range(24):
        clock.advance(minutes=29)
        assert signed_in(browser.get(overview, timeout=30))
    # ...but 12 hours after sign-in the session is over, used or not.
    clock.advance(minutes=29)
    assert clock.t - datetime(2026, 12, 4, 1, 0, tzinfo=UTC) >= timedelta(hours=12)
    expired = browser.get(overview, timeout=30)
    assert not signed_in(expired)
    assert expired.url.startswith(console_url + "/console/sign-in")

    browser, resp = sign_in(console_url, tokens["tanaka"])
    assert signed_in(resp)
    clock.advance(minutes=30)  # idle for the whole timeout
    assert not signed_in(browser.get(overview, timeout=30))


def test_sign_out_ends_the_session_everywhere(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """Two app instances on one database: a session opened on one works on the other, and
    a sign-out on either ends it on both."""
    url_a = console_url  # the module's server; the second instance is the test's own
    with running_server(settings) as url_b:
        browser, resp = sign_in(url_a, tokens["tanaka"])
        assert signed_in(resp)
        cookie = browser.cookies.get(_security.session_cookie_name_plain())
        assert cookie is not None
        other = requests.Session()
        other.cookies.set(_security.session_cookie_name_plain(), cookie)
        page_b = other.get(url_b + "/console/overview", timeout=30)
        assert signed_in(page_b)
        out = other.post(url_b + "/console/sign-out", data={"csrf": csrf_of(page_b)}, timeout=30)
        assert out.url.startswith(url_b + "/console/sign-in")
        # The old cookie, replayed on the first instance, opens nothing.
        replay = requests.Session()
        replay.cookies.set(_security.session_cookie_name_plain(), cookie)
        assert not signed_in(replay.get(url_a + "/console/overview", timeout=30))
    assert [e["actor"] for e in audit_entries(settings, action="console.signout")] == ["tanaka"]


def test_revoked_token_ends_its_sessions(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, resp = sign_in(console_url, tokens["tanaka"])
    assert signed_in(resp)
    token_id = next(
        t["token_id"]
        for t in requests.get(
            console_url + "/v1/tokens",
            headers={"Authorization": f"Bearer {tokens['sato']}"},
            timeout=30,
        ).json()["tokens"]
        if t["name"] == "tanaka"
    )
    revoked = requests.post(
        f"{console_url}/v1/tokens/{token_id}/revoke",
        headers={"Authorization": f"Bearer {tokens['sato']}"},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    assert not signed_in(browser.get(console_url + "/console/overview", timeout=30))


def test_session_id_is_stored_as_a_hash(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["tanaka"])
    cookie = browser.cookies.get(_security.session_cookie_name_plain())
    assert cookie is not None
    service = KeyService(settings)
    try:
        from sqlalchemy import select  # noqa: PLC0415

        from keyserver._store.models import ConsoleSession  # noqa: PLC0415

        with service.engine.connect() as conn:
            stored = conn.execute(select(ConsoleSession.id_hash)).scalars().all()
    finally:
        service.close()
    assert stored == [hashlib.sha256(cookie.encode()).digest()]
