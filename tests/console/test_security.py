"""Console security over HTTP (a real server on a socket, no browser needed).

CSRF, origin, sign-in roles, session expiry with a moved clock, sign-out, revocation,
sessions shared by two instances on one database, cookie flags, headers, escaping, and
console actions audited with the official as actor. SQLite and PostgreSQL.

Length: the security cases (CSRF, roles, expiry, cookies, headers, escaping, audit) share one
server fixture per database and the sign-in and form helpers at the top.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.requests import Request
from starlette.responses import Response

from keyserver.cli.tlog import create_log_key
from keyserver.domain.i18n import translate
from keyserver.domain.lifecycle import ROLES, Actor
from keyserver.domain.settings import Settings
from keyserver.domain.transparency.note import COSIGNATURE_V1, SignerKey
from keyserver.http.console import _security
from keyserver.service import KeyService
from keyserver.store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support import postgres
from tests.support.clock import FakeClock
from tests.support.console import committed, csrf_of
from tests.support.database import Pristine, Snapshot

MEDIUM = "USB-2022-06-AMA"


# Every test's clock starts here (2026-12-04 10:00 in Asia/Tokyo).
START = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_template: str | None,
) -> Iterator[tuple[Settings, Pristine]]:
    """One migrated database per module and backend: its settings and fresh state.

    A PostgreSQL database per test (a template copy, then a drop) cost the server 0.4-1.3 s
    each on a loaded machine, the SQLite migrations ~0.05 CPU-s; each test now starts from
    the same rows through ``Pristine.reset`` (tests/support/database.py).
    """
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("console-security") / "keyserver.db"
            url = f"sqlite:///{path}"
        else:
            # A copy of the migrated template (tests/conftest.py): these tests are about the
            # console.
            name = stack.enter_context(postgres.fresh_database("console", template=pg_template))
            url = postgres.database_url(name)
        settings = Settings(
            database_url=url,
            master_key_b64=new_master_key_b64(),
            sweep_interval=timedelta(0),
            display_timezone="Asia/Tokyo",
            clock=FakeClock(START),
        )
        init_database(settings)
        pristine = Pristine(url)
        stack.callback(pristine.close)
        yield settings, pristine


@pytest.fixture
def settings(database: tuple[Settings, Pristine]) -> Settings:
    """Settings of the module's database back at its migrated state, the clock at START."""
    settings, pristine = database
    pristine.reset()
    clock_of(settings).t = START
    return settings


@pytest.fixture(scope="module")
def _server(database: tuple[Settings, Pristine]) -> Iterator[str]:
    with running_server(database[0]) as url:
        yield url


@pytest.fixture
def console_url(settings: Settings, _server: str) -> str:
    """The module's key server over ``settings`` (one per backend, as in tests/keyserver:
    a server per test cost its start and a cold engine, most of a test's CPU time here)."""
    del settings  # asked for its reset before the test
    return _server


@pytest.fixture(scope="module")
def _seeded(database: tuple[Settings, Pristine]) -> tuple[dict[str, str], Snapshot]:
    """``seed``'s tokens and the rows it wrote, made once per module and backend."""
    settings, pristine = database
    pristine.reset()
    clock_of(settings).t = START
    return seed(settings), pristine.snapshot()


@pytest.fixture
def tokens(
    settings: Settings,
    database: tuple[Settings, Pristine],
    _seeded: tuple[dict[str, str], Snapshot],
) -> dict[str, str]:
    """The tokens of ``seed``'s principals, in ``settings``'s database: ``seed`` ran once
    per module and backend (five audited principals and two containers, ~0.04 CPU-s per
    test) and each test gets its rows written back, as it got them from ``seed``."""
    del settings  # asked for first: the reset to the migrated rows and the clock's start
    database[1].reset(_seeded[1])
    return dict(_seeded[0])


def clock_of(settings: Settings) -> FakeClock:
    assert isinstance(settings.clock, FakeClock)
    return settings.clock


def seed(settings: Settings) -> dict[str, str]:
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        tokens = {
            name: service.add_principal(boot, name, [role])["token"]
            for name, role in (
                ("tanaka", "official"),
                ("suzuki", "auditor"),
                ("sato", "admin"),
                ("vendor", "writer"),
                ("clerk", "reader"),
            )
        }
        writer = service.authenticate(tokens["vendor"])
        for label in ("residents", "<script>alert(1)</script>"):
            committed(service, writer, label, MEDIUM, readers=["clerk"])
        return tokens
    finally:
        service.close()


def sign_in(url: str, token: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    form = browser.get(url + "/console/sign-in", timeout=30)
    resp = browser.post(
        url + "/console/sign-in",
        data={"csrf": csrf_of(form), "token": token, "next": "/console/overview"},
        timeout=30,
    )
    return browser, resp


def signed_in(resp: requests.Response) -> bool:
    """The response is a console page of a signed-in principal (not the sign-in form)."""
    return resp.status_code == 200 and 'action="/console/sign-out"' in resp.text


def states(settings: Settings) -> set[str]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return {c["state"] for c in service.console_medium(actor, MEDIUM)["containers"]}
    finally:
        service.close()


def audit_entries(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return list(service.console_audit(actor, **filters)["entries"])
    finally:
        service.close()


def loss_form(csrf: str, lost_at: str = "2026-12-04 09:30") -> dict[str, str]:
    return {
        "csrf": csrf,
        "name": MEDIUM,
        "lost_at": lost_at,
        "waiting_hours": "72",
        "reason": "lost",
        "public_reason": "",
    }


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

        from keyserver.store.models import ConsoleSession  # noqa: PLC0415

        with service.engine.connect() as conn:
            stored = conn.execute(select(ConsoleSession.id_hash)).scalars().all()
    finally:
        service.close()
    assert stored == [hashlib.sha256(cookie.encode()).digest()]


def test_console_action_is_audited_as_the_official(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["tanaka"])
    confirm_loss(browser, console_url)
    (entry,) = audit_entries(settings, action="suspend")
    assert entry["actor"] == "tanaka"
    assert entry["outcome"] == "ok"
    assert entry["remote"] == "127.0.0.1"
    assert entry["details"]["scope"] == "medium"
    assert entry["details"]["target"] == MEDIUM
    assert entry["details"]["affected"] == 2


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


def test_report_downloads_as_json(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["suzuki"])  # an auditor reads reports too
    resp = browser.get(
        console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["content-disposition"].startswith("attachment;")
    doc = resp.json()
    assert doc["medium"] == MEDIUM
    assert len(doc["containers"]) == 2


def test_auditor_cannot_act(settings: Settings, tokens: dict[str, str], console_url: str) -> None:
    browser, resp = sign_in(console_url, tokens["suzuki"])
    assert signed_in(resp)
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    assert 'action="/console/medium/report-lost"' not in page.text
    refused = browser.post(
        console_url + "/console/medium/report-lost/confirm",
        data=loss_form(csrf_of(page)),
        timeout=30,
    )
    assert refused.status_code == 403
    assert states(settings) == {"active"}
    (entry,) = audit_entries(settings, action="suspend")
    assert (entry["actor"], entry["outcome"]) == ("suzuki", "refused")


def test_unknown_medium_suggests_the_nearest(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(
        f"{console_url}/console/medium", params={"name": "usb-2022-06-amx"}, timeout=30
    )
    assert page.status_code == 404
    assert f'href="/console/medium?name={MEDIUM}"' in page.text
    # Case and blanks do not matter (spec §media): the medium's own page, its own name.
    page = browser.get(
        f"{console_url}/console/medium", params={"name": "usb-2022-06-ama "}, timeout=30
    )
    assert page.status_code == 200
    assert f'<span class="name">{MEDIUM}</span>' in page.text


def _main_of(html_text: str) -> str:
    return html_text.split("<main", 1)[1].split("</main>", 1)[0]


def test_refusals_are_all_in_the_page_language(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """Lead AND detail in Japanese (the API keeps English); each suggestion by its kind."""
    browser, _ = sign_in(console_url, tokens["tanaka"])
    browser.headers["Accept-Language"] = "ja"
    page = browser.get(
        f"{console_url}/console/medium", params={"name": "usb-2022-06-amx"}, timeout=30
    )
    assert page.status_code == 404
    main = _main_of(page.text)
    detail = translate("ja", "no medium %(medium)s", {"medium": "'usb-2022-06-amx'"})
    assert detail in html.unescape(main)
    assert "no medium" not in main
    assert f'href="/console/medium?name={MEDIUM}"' in main
    api = requests.get(
        f"{console_url}/v1/media/usb-2022-06-amx",
        headers={"Authorization": f"Bearer {tokens['tanaka']}"},
        timeout=30,
    )
    assert api.json()["detail"] == "no medium 'usb-2022-06-amx'"
    # A container id one character off: the suggestion opens the CONTAINER's page.
    cid = container_ids(settings)[0]
    typo = cid[:-2] + ("A" if cid[-2] != "A" else "B") + cid[-1]
    page = browser.get(f"{console_url}/console/container/{typo}", timeout=30)
    assert page.status_code == 404
    main = _main_of(page.text)
    assert f'href="/console/container/{cid}"' in main
    assert "/console/medium?name=" not in main
    # A refusal of the service itself: a waiting period beyond the longest allowed.
    medium_page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    form = loss_form(csrf_of(medium_page)) | {"waiting_hours": "999999"}
    resp = browser.post(
        f"{console_url}/console/medium/report-lost/confirm",
        data=form,
        headers={"Origin": console_url},
        timeout=30,
    )
    assert resp.status_code == 400
    main = _main_of(resp.text)
    assert "must be between" not in main
    days = {"days": settings.max_waiting_period_days}
    wanted = "the waiting period must be between 0 seconds and %(days)s days"
    assert translate("ja", wanted, days) in html.unescape(main)
    assert states(settings) == {"active"}


def container_ids(settings: Settings) -> list[str]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return [c["container_id"] for c in service.console_medium(actor, MEDIUM)["containers"]]
    finally:
        service.close()


def test_unknown_console_page_is_a_page() -> None:
    from keyserver.http.app import create_app  # noqa: PLC0415

    settings = Settings(database_url="sqlite://", master_key_b64=new_master_key_b64())
    with running_server(settings, app=create_app(settings)) as url:
        resp = requests.get(url + "/console/no-such-page", headers={"Accept-Language": "en"})
        css = requests.get(url + "/console/static/console.css")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Nothing matched" in resp.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_revoking_a_token_asks_first(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    admin, resp = sign_in(console_url, tokens["sato"])
    assert signed_in(resp)
    page = admin.get(console_url + "/console/admin", timeout=30)
    token_id = re.findall(r'name="token_id" value="(tk_[A-Za-z0-9_-]{16})"', page.text)
    listed = requests.get(
        console_url + "/v1/tokens",
        headers={"Authorization": f"Bearer {tokens['sato']}"},
        timeout=30,
    ).json()["tokens"]
    clerk_id = next(t["token_id"] for t in listed if t["name"] == "clerk")
    assert clerk_id in token_id
    revoke = console_url + "/console/admin/tokens/revoke"
    asked = admin.post(revoke, data={"csrf": csrf_of(page), "token_id": clerk_id}, timeout=30)
    assert asked.status_code == 200
    assert 'name="confirmed" value="yes"' in asked.text
    whoami = console_url + "/v1/whoami"
    clerk = {"Authorization": f"Bearer {tokens['clerk']}"}
    assert requests.get(whoami, headers=clerk, timeout=30).status_code == 200
    done = admin.post(
        revoke,
        data={"csrf": csrf_of(asked), "token_id": clerk_id, "confirmed": "yes"},
        timeout=30,
    )
    assert done.status_code == 200
    assert requests.get(whoami, headers=clerk, timeout=30).status_code == 401
    (entry,) = audit_entries(settings, action="token.revoke")
    assert (entry["actor"], entry["details"]["token_id"]) == ("sato", clerk_id)


def get_in_english(browser: requests.Session, url: str, **params: str) -> requests.Response:
    return browser.get(url, params=params, headers={"Accept-Language": "en"}, timeout=30)


def confirm_loss(browser: requests.Session, url: str) -> requests.Response:
    """Report MEDIUM lost through the console's confirmation form."""
    page = browser.get(f"{url}/console/medium", params={"name": MEDIUM}, timeout=30)
    return browser.post(
        url + "/console/medium/report-lost/confirm", data=loss_form(csrf_of(page)), timeout=30
    )


def medium_doc(settings: Settings) -> dict[str, Any]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return service.console_medium(actor, MEDIUM)
    finally:
        service.close()


def test_time_of_loss_is_read_in_the_display_zone(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """The official types the time as the pages show it (Asia/Tokyo); UTC is stored."""
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    assert "Asia/Tokyo" in page.text
    assert "UTC+09:00" in page.text
    review = browser.post(
        console_url + "/console/medium/report-lost", data=loss_form(csrf_of(page)), timeout=30
    )
    assert review.status_code == 200
    assert "2026/12/04 09:30:00 (UTC+09:00)" in review.text  # the time of loss, as typed
    assert medium_doc(settings)["lost_at"] is None  # the review acts on nothing
    hidden = re.search(r'name="lost_at" value="([^"]+)"', review.text)
    assert hidden is not None
    form = {**loss_form(csrf_of(review)), "lost_at": hidden.group(1)}
    done = browser.post(console_url + "/console/medium/report-lost/confirm", data=form, timeout=30)
    assert done.status_code == 200, done.text[:2000]
    doc = medium_doc(settings)
    assert doc["lost_at"] == "2026-12-04T00:30:00.000000Z"
    assert doc["loss_reported_at"] == "2026-12-04T01:00:00.000000Z"


@pytest.mark.parametrize(
    ("lost_at", "problem"),
    [
        ("", "time of loss is required"),
        ("yesterday", "is not a date and time"),
        ("2026-12-04 11:00", "in the future"),  # 02:00 UTC; the clock says 01:00 UTC
    ],
)
def test_bad_time_of_loss_changes_nothing(
    settings: Settings, tokens: dict[str, str], console_url: str, lost_at: str, problem: str
) -> None:
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    for step in ("/console/medium/report-lost", "/console/medium/report-lost/confirm"):
        refused = browser.post(
            console_url + step,
            data=loss_form(csrf_of(page), lost_at),
            headers={"Accept-Language": "en"},
            timeout=30,
        )
        assert refused.status_code == 400, refused.text[:2000]
        assert problem in refused.text
    assert states(settings) == {"active"}
    assert medium_doc(settings)["lost_at"] is None


def test_restore_lifts_only_the_loss_report(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """A container an official suspended for another reason stays suspended, and the page
    says so and why (spec §lifecycle: a bulk restore lifts only the cause it names)."""
    service = KeyService(settings)
    try:
        official = service.authenticate(tokens["tanaka"])
        held = medium_doc(settings)["containers"][0]["container_id"]
        service.change_state(official, "suspend", "container", held, "vendor audit")
    finally:
        service.close()
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    review = browser.post(
        console_url + "/console/medium/report-lost", data=loss_form(csrf_of(page)), timeout=30
    )
    # The confirmation says the held container is already suspended, and why.
    assert review.text.count("effect-already_suspended") == 1
    assert review.text.count("effect-suspended") == 1
    confirm_loss(browser, console_url)
    page = get_in_english(browser, f"{console_url}/console/medium", name=MEDIUM)
    assert 'option value="loss-report"' in page.text
    done = browser.post(
        console_url + "/console/medium/restore",
        data={"csrf": csrf_of(page), "name": MEDIUM, "reason": "found", "cause": "loss-report"},
        headers={"Accept-Language": "en"},
        timeout=30,
    )
    assert done.status_code == 200
    assert "1 container of USB-2022-06-AMA is restored" in done.text  # not "1 containers"
    assert "Suspended by an official: 1" in done.text
    by_id = {c["container_id"]: c for c in medium_doc(settings)["containers"]}
    assert by_id[held]["state"] == "suspended"
    assert by_id[held]["suspend_cause"] == "official"
    assert {c["state"] for i, c in by_id.items() if i != held} == {"active"}
    (entry,) = audit_entries(settings, action="restore")
    assert (entry["actor"], entry["details"]["cause"]) == ("tanaka", "loss-report")


def test_report_page_shows_the_services_answer(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """The three-way answer and the state changes come from the service's report."""
    browser, _ = sign_in(console_url, tokens["tanaka"])
    confirm_loss(browser, console_url)
    report = get_in_english(browser, f"{console_url}/console/medium/report", name=MEDIUM)
    unsigned = browser.get(
        console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
    ).json()
    assert unsigned["answer"] == "not opened"
    assert 'class="answer answer-not_opened"' in report.text
    assert report.text.count('class="changes"') == 2  # each container's suspension is listed
    assert "Loss report" in report.text  # its cause


def test_media_page_lists_counts_per_state(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["suzuki"])
    page = browser.get(
        console_url + "/console/media", headers={"Accept-Language": "en"}, timeout=30
    )
    assert page.status_code == 200
    row = re.search(
        r"<tr><td><a href=\"/console/medium\?name=USB-2022-06-AMA\">.*?</tr>", page.text
    )
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    assert cells == ["0", "2", "0", "0"]  # pending, active, suspended, destroyed


def test_typo_in_the_audit_medium_filter_suggests(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    browser, _ = sign_in(console_url, tokens["suzuki"])
    page = browser.get(
        console_url + "/console/audit", params={"medium": "USB-2022-06-AMX"}, timeout=30
    )
    assert page.status_code == 404
    assert f'href="/console/medium?name={MEDIUM}"' in page.text


def test_signed_report_names_the_witnesses_and_waits_for_them(
    settings: Settings, tmp_path: Path
) -> None:
    """With witnesses configured, the page's verify line names each and the cosignatures the
    server asks for; before any witness has cosigned, the download is a page that says so
    (no half-signed document, no 500)."""
    log_key = tmp_path / "log.key"
    create_log_key(log_key, "city.example/rwc")
    witnesses = [SignerKey.generate(f"w{i}.example/witness", COSIGNATURE_V1) for i in (1, 2)]
    settings = settings.replace(
        log_key_file=log_key,
        witness_keys=" ".join(w.verifier().encode() for w in witnesses),
    )
    tokens = seed(settings)
    with running_server(settings) as url:
        browser, _ = sign_in(url, tokens["suzuki"])
        report = get_in_english(browser, f"{url}/console/medium/report", name=MEDIUM)
        command = re.search(r'<pre class="command" id="verify-command">([^<]+)</pre>', report.text)
        assert command is not None
        words = shlex.split(html.unescape(command.group(1)))
        assert words[:3] == ["keyserver", "verify-report", f"medium-report-{MEDIUM}.json"]
        assert words[words.index("--log-key") + 1].startswith("city.example/rwc+")
        named = [words[i + 1] for i, w in enumerate(words) if w == "--witness-key"]
        assert named == [w.verifier().encode() for w in witnesses]
        assert words[-2:] == ["--min-cosignatures", "1"]
        signed = get_in_english(browser, f"{url}/console/medium/signed/medium-report", name=MEDIUM)
        assert signed.status_code == 409
        assert signed.headers["content-type"].startswith("text/html")
        assert "keyserver witness run" in signed.text
        unknown = get_in_english(browser, f"{url}/console/medium/signed/other", name=MEDIUM)
        assert unknown.status_code == 400
        assert "There is no such document." in unknown.text
