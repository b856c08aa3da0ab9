"""The press statement: one A4 page from the medium report, with no one's name and no id
(issue 12, twentieth session).

A Japanese newcomer official: the report handed to the press printed the staff's and the
contractor's e-mail addresses and internal ids, against the Details field's own rule, and
a press version of one page was asked for. The statement is reached from the report
(its secondary action), says the report's answer with its two cases when it depends on
the time of loss (the opener said by role only), and prints on one A4 page for a medium
of eight. Over a real socket (SQLite, real VOPRF), printed by headless Chromium, read back
with pdftotext; the three answers over plain HTTP.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from keyserver._domain import people
from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver.testing import running_server
from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf, signed_in_session
from tests.support.console_pages import click_and_wait, shoot, sign_in_by_cookie
from tests.support.loss_form import MEDIUM
from tests.support.openings import OPENINGS, opened
from tests.support.world import World

TOLD = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)  # "around 17:41", the clerk's opening 17:40:15
# Real people's principals, as a city names them: none may reach the statement.
NAMES = {
    "reader": "clerk@city.example",
    "writer": "vendor@contractor.example",
    "official": "security@city.example",
}
ROLE = "an authorised city account"
# A file as a case of "depends on the time of loss" names it, under its own answer.
OPENED_FILE = "“%(label)s” (opened by an authorised city account at %(at)s)"
RELEASED_FILE = (
    "“%(label)s” (its key given to an authorised city account at %(at)s; opening not confirmed)"
)


def _said(language: str, message: str, **values: str) -> str:
    """A catalogue message as the page says it, white space dropped (pdftotext wraps)."""
    return "".join(translate(language, message, values).split())


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _report_lost(world: World, lost_at: datetime, told_at: datetime | None = None) -> None:
    body = {"reason": "stolen", "public_reason": "stolen", "lost_at": lost_at.isoformat()}
    if told_at is not None:
        body["told_at"] = told_at.isoformat()
    reported = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert reported.status_code == 200, reported.text


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_statement_of_eight_files_is_one_page_with_both_cases_and_no_name_or_id(
    language: str,
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    screenshot_dir: Path | None,
    tmp_path: Path,
) -> None:
    # The clerk's opening and another key given out just before the time told, and monthly
    # reports each opened that morning (tests/console/test_report_print_many.py's medium).
    monthly = {f"月次報告-{n + 1:02d}": datetime(2026, 12, 3, 1, n, tzinfo=UTC) for n in range(6)}
    openings = {"late": OPENINGS["late"], **monthly}
    unconfirmed = {"tried": OPENINGS["late"]}
    # Each declares how many people's data it holds: the statement says "up to" their sum.
    with opened(settings, console_url, openings, unconfirmed, people=57_565, names=NAMES) as world:
        _report_lost(world, OPENINGS["late"], TOLD)
        driver = browser(language)
        sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
        driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
        # The report's secondary action; Print stays its primary.
        link = driver.find_element(By.ID, "press-statement")
        assert "primary" not in str(link.get_attribute("class"))
        printing = driver.find_element(By.ID, "print")
        assert printing.get_attribute("class") == "button primary noprint"
        click_and_wait(driver, link)
        shoot(driver, screenshot_dir, f"press-statement-{language}")
        screen = str(driver.find_element(By.TAG_NAME, "main").text)
        pages = pdf_pages(print_to_pdf(driver), tmp_path)
        doc = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    print("\n\f".join(pages))  # what the official printed, for pytest -s
    assert len(pages) == 1, len(pages)
    printed = "".join(pages[0].split())
    # No one's name or address, no container id, on paper or on screen.
    ids = [c["container_id"] for c in doc["containers"]]
    assert len(ids) == 8
    for text in (printed, "".join(screen.split())):
        assert "@" not in text
        assert not any(word in text for word in ("clerk", "vendor", "security")), text
        assert not any(cid in text for cid in ids)
    # Every file by its label, how many people (as the report says it), the time told, and
    # the answer with its two cases.
    assert all(label in printed for label in ["late", "tried", *monthly])
    (up_to,) = people.up_to_said(doc)
    assert "".join(up_to.text(language).split()) in printed, up_to
    # The answer for the time told first, as the report's box says it (twenty-third
    # session, the lead's decision), then the other case.
    after = _said(
        language,
        "For the time told, around %(told)s: %(answer)s",
        told="17:41",
        answer=translate(language, "Not opened", {}),
    )
    late = _said(language, OPENED_FILE, label="late", at="17:40:15")
    tried = _said(language, RELEASED_FILE, label="tried", at="17:40:15")
    assert after in printed and late in printed and tried in printed, printed
    # The case of the time told first, as the report says them.
    assert printed.index(after) < printed.index(late)
    if language == "ja":
        assert "市の権限のある職員アカウント" in printed


@pytest.mark.parametrize("language", ["ja", "en"])
def test_each_file_is_said_under_its_own_answer(
    settings: Settings, console_url: str, language: str
) -> None:
    """Issue 12, twenty-first session: "If it was lost before 17:40:15: Opened — … opened
    “late” … and the key of “tried” was given …, its opening not confirmed." A journalist
    reads every file after "Opened" as opened. Each case now names its files grouped under
    their own answers: "late" opened (its opening confirmed), "tried" possibly opened (its
    key given, the opening never confirmed), and "kept", whose key was given after the time
    told, possibly opened in the case of the time told, which still comes first."""
    late = OPENINGS["late"]
    released = {"tried": late, "kept": OPENINGS["after"]}
    with opened(settings, console_url, {"late": late}, released, names=NAMES) as world:
        _report_lost(world, late, TOLD)
        session = signed_in_session(console_url, world.tokens["official"], language)
        page = session.get(f"{console_url}/console/medium/press?name={MEDIUM}", timeout=30)
    assert page.status_code == 200, page.text
    found = re.findall(r'<p class="[^"]*depends-line[^"]*">(.*?)</p>', page.text, re.S)
    lines = [_plain(m) for m in found]

    def answer(key: str) -> str:
        return translate(language, key, {})

    def file(msgid: str, label: str, at: str) -> str:
        return translate(language, msgid, {"label": label, "at": at})

    def group(key: str, files: str) -> str:
        return translate(
            language, "%(answer)s: %(files)s.", {"answer": answer(key), "files": files}
        )

    told = translate(
        language,
        "For the time told, around %(told)s — %(answers)s",
        {
            "told": "17:41",
            "answers": group("Possibly opened", file(RELEASED_FILE, "kept", "19:00:00")),
        },
    )
    groups = [
        group("Opened", file(OPENED_FILE, "late", "17:40:15")),
        group("Possibly opened", file(RELEASED_FILE, "tried", "17:40:15")),
    ]
    before = translate(
        language,
        "If it was lost at or before %(at)s — %(answers)s",
        # Sentence after sentence, as the language writes them (no space after 。).
        {"at": "17:40:15", "answers": ("" if language == "ja" else " ").join(groups)},
    )
    assert lines == [told, before]
    for line in lines:
        _each_under_its_own_answer(language, line, opened=["late"], unconfirmed=["tried", "kept"])


def _each_under_its_own_answer(
    language: str, line: str, opened: list[str], unconfirmed: list[str]
) -> None:
    """The rule, whatever the words: a sentence that says "Opened" (not as part of
    "Possibly opened") names no file whose opening was not confirmed, and each file's
    sentence says its own answer."""
    said_opened, possibly = (translate(language, a, {}) for a in ("Opened", "Possibly opened"))
    quoted = "「%s」" if language == "ja" else "“%s”"
    for sentence in re.split(r"(?<=[.。])\s*", line):
        alone = sentence.replace(possibly, "")
        for label in opened:
            if quoted % label in sentence:
                assert said_opened in alone, sentence
        for label in unconfirmed:
            if quoted % label in sentence:
                assert possibly in sentence, sentence
                assert said_opened not in alone, sentence


ANSWERS = {
    # Opened after the time of loss (17:40:15), its opening confirmed.
    "Opened": ({"after": OPENINGS["after"]}, {}),
    # A key given out after it, its opening never confirmed.
    "Possibly opened": ({}, {"after": OPENINGS["after"]}),
    # Opened only before it.
    "Not opened": ({"early": OPENINGS["early"]}, {}),
}
SENTENCES = {
    "Opened": "After the loss the key of at least one file was given out, and its opening"
    " was confirmed.",
    "Possibly opened": "After the loss a key was given out, but its opening was not"
    " confirmed: the data is treated as possibly opened.",
    "Not opened": "After the loss the key server gave out no key: without one the data"
    " cannot be read.",
}


@pytest.mark.parametrize("answer", sorted(ANSWERS))
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_statement_gives_the_reports_answer(
    settings: Settings, console_url: str, language: str, answer: str
) -> None:
    openings, released = ANSWERS[answer]
    with opened(settings, console_url, openings, released, names=NAMES) as world:
        _report_lost(world, OPENINGS["late"])
        session = signed_in_session(console_url, world.tokens["official"], language)
        report = session.get(f"{console_url}/console/medium/report?name={MEDIUM}", timeout=30)
        page = session.get(f"{console_url}/console/medium/press?name={MEDIUM}", timeout=30)
    assert f'href="/console/medium/press?name={MEDIUM}"' in report.text
    assert page.status_code == 200, page.text
    box = page.text.split('id="press-answer">', 1)[1].split("</div>", 1)[0]
    said = _plain(box)
    assert translate(language, answer, {}) in said
    assert translate(language, SENTENCES[answer], {}) in said
    main = _plain(page.text.split("<main", 1)[1].split("</main>", 1)[0])
    assert "@" not in main
    # The time of loss as reported, with its offset; the deadline; no contact line when
    # the city set none (the default sentence is for refused readers).
    lost = "2026/12/03 17:40:15 (UTC+09:00)" if language == "ja" else "3 Dec 2026, 17:40:15"
    assert lost in main
    assert translate(language, "Contact: %(contact)s", {"contact": ""}).strip() not in main


def test_a_medium_not_reported_lost_has_no_statement(settings: Settings, console_url: str) -> None:
    with opened(settings, console_url, {"early": OPENINGS["early"]}) as world:
        session = signed_in_session(console_url, world.tokens["official"], "en")
        report = session.get(f"{console_url}/console/medium/report?name={MEDIUM}", timeout=30)
        page = session.get(f"{console_url}/console/medium/press?name={MEDIUM}", timeout=30)
    assert "/console/medium/press" not in report.text
    assert page.status_code == 400
    assert "No loss has been reported for this medium: there is no statement to print." in page.text


def test_the_contact_the_city_set_is_on_the_statement(settings: Settings, console_url: str) -> None:
    # A server of the test's own on the same database, with the city's contact set.
    contact = "広報課 06-0000-0000"
    with opened(settings, console_url, {"early": OPENINGS["early"]}, None, names=NAMES) as world:
        _report_lost(world, OPENINGS["late"])
        with running_server(dataclasses.replace(settings, contact=contact)) as url:
            session = signed_in_session(url, world.tokens["official"], "ja")
            page = session.get(f"{url}/console/medium/press?name={MEDIUM}", timeout=30)
    said = _plain(page.text.split('id="press-next">', 1)[1].split("</p>", 1)[0])
    assert translate("ja", "Contact: %(contact)s", {"contact": contact}) in said, said


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_statement_gives_the_reports_caution_each_file_under_its_own_answer(
    settings: Settings, console_url: str, language: str
) -> None:
    """The clerk's opening of "late" and a key of "tried" given (its opening never
    confirmed) 30 s before the time of loss reported, none after: "Not opened", and the
    report's caution (had it been lost before then: "Opened"), by role only.

    Issue 12, twenty-first session: the caution said "Just before the time of loss an
    authorised city account opened “late” … and the key of “tried” was given …: had it
    been lost before then, the answer would be Opened", the unconfirmed key in the clause
    of the opening before "Opened", as the depends lines did: each file under its own
    answer now, as they say it."""
    late = OPENINGS["late"]
    with opened(settings, console_url, {"late": late}, {"tried": late}, names=NAMES) as world:
        _report_lost(world, late + timedelta(seconds=30))
        session = signed_in_session(console_url, world.tokens["official"], language)
        page = session.get(f"{console_url}/console/medium/press?name={MEDIUM}", timeout=30)
    caution = _plain(page.text.split('id="press-caution">', 1)[1].split("</p>", 1)[0])
    groups = [
        translate(
            language,
            "%(answer)s: %(files)s.",
            {"answer": translate(language, key, {}), "files": translate(language, msgid, values)},
        )
        for key, msgid, values in (
            ("Opened", OPENED_FILE, {"label": "late", "at": "17:40:15"}),
            ("Possibly opened", RELEASED_FILE, {"label": "tried", "at": "17:40:15"}),
        )
    ]
    assert caution == translate(
        language,
        "Had it been lost before %(at)s, just before the time of loss, the answer would be"
        " %(answer)s — %(answers)s",
        {
            "at": "17:40:15",
            "answer": translate(language, "Opened", {}),
            "answers": ("" if language == "ja" else " ").join(groups),
        },
    )
    _each_under_its_own_answer(language, caution, opened=["late"], unconfirmed=["tried"])
    assert "@" not in _plain(page.text.split("<main", 1)[1].split("</main>", 1)[0])
