"""Stored text with direction controls is shown as code points on every console page (issue 12).

The server now refuses U+202E and the other direction controls in free text (spec
§conventions), but rows an older server wrote, or an old backup restored, still hold them:
a label "evil\u202etxt.exe" read "evilexe.txt" in the search results, on the medium's and
the container's pages, in the report on screen and on paper, and in the audit log (HTML
escaping leaves such characters alone). The rows are written here as that server wrote
them: through the service, with the direction controls taken out of its check again while
they are made (labels, reasons, an organisation, and the audit entries with their chain).
Then read back over a real socket, and the paper printed by headless Chromium and read
with pdftotext. Japanese, Hebrew and Arabic text is shown as stored.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from keyserver._domain import validation
from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._http.console._shown import shown_text
from keyserver._service import KeyService
from pycontainer.client.terminal_text import display_name
from tests.support.clock import FakeClock
from tests.support.console import (
    BrowserFactory,
    committed,
    csrf_of,
    pdf_pages,
    print_to_pdf,
    signed_in_session,
)
from tests.support.console_pages import sign_in_by_cookie

MEDIUM = "USB-2019-OLD"
# What the old server stored, and what every page must show of it.
EVIL = "evil\u202etxt.exe"
ISOLATED = "ledger\u2067 2019"
SCRIPTS = "住民名簿 שלום مرحبا"
REASON = "lost\u200f on the train"
PUBLIC = "medium\u202e lost"
ORGANISATION = "City\u202eHall"
SHOWN = {
    EVIL: "evil<U+202E>txt.exe",
    ISOLATED: "ledger<U+2067> 2019",
    SCRIPTS: SCRIPTS,
    REASON: "lost<U+200F> on the train",
    PUBLIC: "medium<U+202E> lost",
    ORGANISATION: "City<U+202E>Hall",
}
CONTROLS = {"\u202e", "\u2067", "\u200f"}


@pytest.mark.parametrize(
    ("text", "console"),
    [
        ("evil\u202etxt.exe", "evil<U+202E>txt.exe"),
        ("a\u061cb\u200ec\u2069", "a<U+061C>b<U+200E>c<U+2069>"),
        ("zero\u200bwidth\ufeff", "zero<U+200B>width<U+FEFF>"),
        ("c1\x85 esc\x1b[2J", "c1<U+0085> esc<U+001B>[2J"),
        ("line\u2028private\ue000", "line<U+2028>private<U+E000>"),
        ("2022年度 住民税データ", "2022年度 住民税データ"),
        ("שלום مرحبا Café", "שלום مرحبا Café"),
        ("C:\\data <U+202E>", "C:\\data <U+202E>"),
    ],
)
def test_the_console_shows_as_code_points_what_the_commands_do(text: str, console: str) -> None:
    """One policy (rwc_shared/display_text.py): the console writes a character as its code
    point exactly where the commands escape it; each writes it its own way."""
    assert shown_text(text) == console
    on_terminal = display_name(text, escape_backslash=False)
    assert {ch for ch in text if ch not in on_terminal} == {ch for ch in text if ch not in console}


def _old_server_rows(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """MEDIUM's three containers, its loss report and an organisation, written as the
    server did before it refused direction controls; the tokens and EVIL's container id."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    with monkeypatch.context() as old:
        old.setattr(validation, "_BIDI", frozenset())
        service = KeyService(settings)
        try:
            boot = Actor(name="bootstrap", roles=ROLES, local=True)
            tokens = {
                name: service.add_principal(boot, name, [role], organisation)["token"]
                for name, role, organisation in (
                    ("tanaka", "official", None),
                    ("sato", "admin", None),
                    ("vendor", "writer", ORGANISATION),
                    ("clerk", "reader", None),
                )
            }
            writer = service.authenticate(tokens["vendor"])
            made = {
                label: committed(service, writer, label, MEDIUM, readers=["clerk"])
                for label in (EVIL, ISOLATED, SCRIPTS)
            }
            lost_at = clock()
            clock.advance(hours=1)
            official = service.authenticate(tokens["tanaka"])
            service.report_loss(
                official, MEDIUM, REASON, PUBLIC, waiting_period=timedelta(days=3), lost_at=lost_at
            )
        finally:
            service.close()
    return {**tokens, "evil": made[EVIL]}


def _read(text: str) -> str:
    """A page as a browser reads it: entities decoded, tags dropped, blanks folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def test_every_page_shows_stored_controls_as_code_points(
    settings: Settings,
    console_url: str,
    monkeypatch: pytest.MonkeyPatch,
    subtests: pytest.Subtests,
) -> None:
    rows = _old_server_rows(settings, monkeypatch)
    official = signed_in_session(console_url, rows["tanaka"], "en")
    admin = signed_in_session(console_url, rows["sato"], "en")
    pages: list[tuple[str, requests.Session, str, dict[str, str], list[str]]] = [
        ("search", official, "/console/search", {"q": "2019-OLD"}, [EVIL, ISOLATED, SCRIPTS]),
        ("medium", official, "/console/medium", {"name": MEDIUM}, [EVIL, ISOLATED, SCRIPTS]),
        ("container", official, f"/console/container/{rows['evil']}", {}, [EVIL, REASON, PUBLIC]),
        ("report", official, "/console/medium/report", {"name": MEDIUM}, [EVIL, SCRIPTS, PUBLIC]),
        ("audit", official, "/console/audit", {"medium": MEDIUM}, [REASON, PUBLIC]),
        ("admin", admin, "/console/admin", {}, [ORGANISATION]),
    ]
    for name, browser, path, params, stored in pages:
        with subtests.test(msg=name):
            page = browser.get(console_url + path, params=params, timeout=30)
            assert page.status_code == 200, page.text[:500]
            read = _read(page.text)
            obeyed = sorted(CONTROLS & set(html.unescape(page.text)))
            assert obeyed == [], name
            for text in stored:
                assert SHOWN[text] in read, (name, SHOWN[text])
    # Display only (spec §conventions): the JSON download keeps the stored text, as the
    # API and the signed reports do; it is evidence.
    download = official.get(
        console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
    )
    labels = {c["label"] for c in json.loads(download.text)["containers"]}
    assert labels == {EVIL, ISOLATED, SCRIPTS}


def test_the_printed_report_shows_stored_controls_as_code_points(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    rows = _old_server_rows(settings, monkeypatch)
    driver = browser("ja")
    sign_in_by_cookie(driver, console_url, rows["tanaka"], "ja")
    driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
    screen = driver.find_element(By.TAG_NAME, "main").text
    paper = "\n".join(pdf_pages(print_to_pdf(driver), tmp_path))
    # pdftotext writes right-to-left text in its own order, between embedding marks of its
    # own: the scripts are read on screen only.
    for where, text, stored in (
        ("screen", screen, (EVIL, SCRIPTS, PUBLIC)),
        ("paper", paper, (EVIL, PUBLIC)),
    ):
        obeyed = sorted(CONTROLS & set(text))
        assert obeyed == [], where
        for one in stored:
            assert SHOWN[one] in text, (where, SHOWN[one])


def test_a_typed_reason_is_shown_with_its_code_points_and_recorded_as_typed(
    settings: Settings, console_url: str
) -> None:
    """A zero-width space is accepted in a reason (spec §conventions): the review shows it
    as <U+200B>, and the confirmation, posted from the review's own fields as a browser
    posts them, records the reason as typed, not as shown."""
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        token = service.add_principal(boot, "tanaka", ["official"])["token"]
        vendor = service.authenticate(service.add_principal(boot, "vendor", ["writer"])["token"])
        cid = committed(service, vendor, "ledger", MEDIUM, readers=["vendor"])
    finally:
        service.close()
    typed = "委託先が\u200b紛失"
    browser = signed_in_session(console_url, token, "en")
    form = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    review = browser.post(
        console_url + "/console/medium/report-lost",
        data={
            "csrf": csrf_of(form),
            "name": MEDIUM,
            "lost_at": "2026-12-03 18:30",
            "waiting_hours": "72",
            "reason_common": "",
            "reason": typed,
            "note": "",
        },
        timeout=30,
    )
    assert review.status_code == 200, review.text[:2000]
    shown = review.text.split('id="review-reason">', 1)[1].split("<", 1)[0]
    assert html.unescape(shown).strip() == "委託先が<U+200B>紛失"
    confirm = review.text.split('action="/console/medium/report-lost/confirm"', 1)[1]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', confirm.split("</form>", 1)[0]))
    posted = {k: html.unescape(v) for k, v in fields.items()}
    assert posted["reason"] == typed
    done = browser.post(
        console_url + "/console/medium/report-lost/confirm", data=posted, timeout=30
    )
    assert done.status_code == 200, done.text[:2000]
    service = KeyService(settings)
    try:
        status = service.status(Actor(name="check", roles=ROLES, local=True), cid)
    finally:
        service.close()
    assert status["public_reason"] == typed
