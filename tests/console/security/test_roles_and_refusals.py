"""What each role may do in the console, audited as the person who did it; refusals in
the page's language with the nearest name suggested.

Over HTTP against a real server, SQLite and PostgreSQL (conftest.py).
"""

from __future__ import annotations

import html
import re

import requests

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.support.console import csrf_of
from tests.support.console_http import (
    MEDIUM,
    audit_entries,
    confirm_loss,
    container_ids,
    loss_form,
    main_of,
    sign_in,
    signed_in,
    states,
)


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
    main = main_of(page.text)
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
    main = main_of(page.text)
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
    main = main_of(resp.text)
    assert "must be between" not in main
    days = {"days": settings.max_waiting_period_days}
    wanted = "the waiting period must be between 0 seconds and %(days)s days"
    assert translate("ja", wanted, days) in html.unescape(main)
    assert states(settings) == {"active"}


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


def test_press_statement_is_the_reports_readers_only(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """The press statement (issue 12, twentieth session) is read through the report's own
    service call: an auditor reads it, an administrator is refused and the refusal audited
    as the report's, and a label is escaped like any other."""
    official, _ = sign_in(console_url, tokens["tanaka"])
    confirm_loss(official, console_url)
    auditor, _ = sign_in(console_url, tokens["suzuki"])
    read = auditor.get(f"{console_url}/console/medium/press", params={"name": MEDIUM}, timeout=30)
    assert read.status_code == 200
    assert "<script>" not in read.text and html.escape("<script>alert(1)</script>") in read.text
    admin, _ = sign_in(console_url, tokens["sato"])
    refused = admin.get(f"{console_url}/console/medium/press", params={"name": MEDIUM}, timeout=30)
    assert refused.status_code == 403
    (entry,) = audit_entries(settings, action="medium.report")
    assert (entry["actor"], entry["outcome"]) == ("sato", "refused")
