"""What the console sends a browser and what it accepts from one: CSRF tokens, origin,
cookie flags, security headers, escaping; an unknown page is a page.

Over HTTP against a real server, SQLite and PostgreSQL (conftest.py).
"""

from __future__ import annotations

import pytest
import requests
from starlette.requests import Request
from starlette.responses import Response

from keyserver._domain.settings import Settings
from keyserver._http.console import _security
from keyserver.testing import new_master_key_b64, running_server
from tests.support.console import csrf_of
from tests.support.console_http import (
    MEDIUM,
    audit_entries,
    loss_form,
    sign_in,
    signed_in,
    states,
)


def test_csrf_and_origin_refused(
    settings: Settings, tokens: dict[str, str], console_url: str, subtests: pytest.Subtests
) -> None:
    browser, resp = sign_in(console_url, tokens["tanaka"])
    assert signed_in(resp)
    csrf = csrf_of(
        browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    )
    confirm = console_url + "/console/medium/report-lost/confirm"
    for form, headers in (
        ({**loss_form(csrf), "csrf": "x" * len(csrf)}, {}),  # a wrong token
        ({k: v for k, v in loss_form(csrf).items() if k != "csrf"}, {}),  # none
        (loss_form(csrf), {"Origin": "http://attacker.example"}),  # another origin
    ):
        with subtests.test(msg=f"{sorted(form)} {headers}"):
            refused = browser.post(confirm, data=form, headers=headers, timeout=30)
            assert refused.status_code == 403
            assert states(settings) == {"active"}
    # Another session's token does not work in this one either.
    other, _ = sign_in(console_url, tokens["tanaka"])
    other_csrf = csrf_of(other.get(console_url + "/console/overview", timeout=30))
    assert other_csrf != csrf
    assert browser.post(confirm, data=loss_form(other_csrf), timeout=30).status_code == 403
    assert states(settings) == {"active"}
    assert audit_entries(settings, action="suspend") == []
    # The right token from this console acts.
    done = browser.post(confirm, data=loss_form(csrf), timeout=30)
    assert done.status_code == 200
    assert states(settings) == {"suspended"}


def test_cookie_flags_and_headers(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser = requests.Session()
    form = browser.get(console_url + "/console/sign-in", timeout=30)
    resp = browser.post(
        console_url + "/console/sign-in",
        data={"csrf": csrf_of(form), "token": tokens["tanaka"]},
        timeout=30,
        allow_redirects=False,
    )
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"].lower()
    assert "rwc_console=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    page = browser.get(console_url + "/console/overview", timeout=30)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    # The console's script asks this server alone (the loss form's echo, console43).
    assert "connect-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    # Escaped: the label is text, not markup.
    found = browser.get(console_url + "/console/search", params={"q": "script"}, timeout=30)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in found.text
    assert "<script>alert" not in found.text


def test_cookies_over_tls_are_secure_and_host_only() -> None:
    scope = {
        "type": "http",
        "scheme": "https",
        "method": "GET",
        "path": "/console/sign-in",
        "headers": [(b"host", b"keys.city.example")],
        "server": ("keys.city.example", 443),
    }
    request = Request(scope)
    response = Response()
    name = _security.session_cookie_name(request)
    assert name == "__Host-rwc_console"
    _security.set_cookie(response, request, name, "x", 60)
    header = response.headers["set-cookie"].lower()
    assert "secure" in header
    assert "httponly" in header
    assert "samesite=strict" in header
    assert "domain=" not in header


def test_unknown_console_page_is_a_page() -> None:
    from keyserver._http.app import create_app  # noqa: PLC0415

    settings = Settings(database_url="sqlite://", master_key_b64=new_master_key_b64())
    with running_server(settings, app=create_app(settings)) as url:
        resp = requests.get(url + "/console/no-such-page", headers={"Accept-Language": "en"})
        css = requests.get(url + "/console/static/console.css")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Nothing matched" in resp.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
