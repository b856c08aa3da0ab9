"""The printed medium report (issue 12): the answer first, page breaks, page margins.

A newcomer printed a report for the press: page 1 held the summary alone (each container's
section was kept in one piece, so Chromium moved the first one to page 2), the pages had no
numbers, and the containers came in id order, the opened one anywhere among them. Over a
real socket (SQLite, real VOPRF), printed by headless Chromium, read back with pdftotext.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from keyserver._domain.i18n import translate
from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings, display_zone
from keyserver._http.console._i18n import Formats
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import (
    BrowserFactory,
    note_alone,
    pdf_pages,
    print_to_pdf,
    signed_in_session,
)
from tests.support.console_pages import LAPTOP, sign_in_by_cookie
from tests.support.world import (
    World,
    activate,
    confirm,
    make_world,
    oprf,
    refused_as_suspended,
    unb64,
)

MEDIUM = "USB-2026-PRESS"
LOSS = {"reason": "stick lost on the train", "public_reason": "medium lost"}
# Labels in alphabetical order, answers not: the page must follow neither the labels nor
# the ids (random), but the answers, worst first, then the labels.
ANSWERS = {
    "a-untouched": "not opened",
    "b-guessed": "possibly opened",
    "c-untouched": "not opened",
    "d-opened": "opened",
}
SHOWN_ORDER = ["d-opened", "b-guessed", "a-untouched", "c-untouched"]
# Refused attempts on the opened container after the loss report: its section is longer
# than what the summary leaves of page 1, and its table runs on to page 2 (34, not 40,
# since the answer's sentence and the next steps on page 1, console46: 40 rows then ran
# on to a third page, the point here being a table that runs on, not its length).
REFUSED_ROWS = 34


@contextmanager
def reported(settings: Settings, url: str) -> Iterator[tuple[str, World, datetime]]:
    """The server at ``url`` (``console_url``) with MEDIUM's four containers answering
    ANSWERS, the loss reported.

    Yields the server's URL, its principals and the time the report is read.
    """
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    world = make_world(settings, url)
    try:
        made = {label: activate(world, medium=MEDIUM, label=label) for label in ANSWERS}
        lost_at = clock()
        clock.advance(hours=1)
        guessed, _ = made["b-guessed"]
        oprf(world, "reader", guessed["container_id"], guessed["public_key"])
        opened, key = made["d-opened"]
        cid = opened["container_id"]
        confirm(world, "reader", cid, key, oprf(world, "reader", cid, opened["public_key"]))
        clock.advance(hours=1)
        body = {**LOSS, "lost_at": lost_at.isoformat()}
        path = f"/v1/media/{MEDIUM}/loss-report"
        assert world.call("official", "POST", path, json=body).is_success
        for _ in range(REFUSED_ROWS):  # suspended by the loss report: each one refused
            refused_as_suspended(world, "reader", cid)
        yield url, world, clock()
    finally:
        world.close()


def test_the_report_lists_the_answer_first(settings: Settings, console_url: str) -> None:
    with reported(settings, console_url) as (url, world, _):
        browser = signed_in_session(url, world.tokens["official"], "en")
        page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
        assert page.status_code == 200, page.text[:500]
        shown = re.findall(r'<section class="report-container[^"]*">\s*<h2>([^<]+?) <', page.text)
        assert shown == SHOWN_ORDER
        # The JSON keeps the order of the ids (spec §report): only what people read is
        # sorted.
        doc = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
        ids = [c["container_id"] for c in doc["containers"]]
        assert ids == sorted(ids, key=unb64)
        assert {c["label"]: c["answer"] for c in doc["containers"]} == ANSWERS


def test_the_medium_page_answers_as_the_report(settings: Settings, console_url: str) -> None:
    """The medium's page orders its containers by their answers, read without building the
    report (issue 12: KeyService.console_medium with ``answers``): the same answer per
    container as the report's, refused attempts after the loss and the writer's sealing
    in the window included, and the same order on the page."""
    with reported(settings, console_url) as (url, world, _):
        browser = signed_in_session(url, world.tokens["official"], "en")
        page = browser.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
        service = KeyService(settings)
        try:
            boot = Actor(name="bootstrap", roles=ROLES, local=True)
            light = service.console_medium(boot, MEDIUM, answers=True)["containers"]
            full = service.medium_report(boot, MEDIUM)["containers"]
            before = service.console_medium(boot, MEDIUM)["containers"]
        finally:
            service.close()
    assert {c["label"]: c["answer"] for c in light} == ANSWERS
    assert {c["container_id"]: c["answer"] for c in light} == {
        c["container_id"]: c["answer"] for c in full
    }
    assert all("answer" not in c for c in before)  # only when asked for
    assert page.status_code == 200, page.text[:500]
    table = page.text.split('<table id="containers">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<a href="/console/container/[^"]+">([^<]+)</a></td><td><span[^>]*>([^<]+)<', table
    )
    assert rows == [(label, ANSWERS[label].capitalize()) for label in SHOWN_ORDER]


def test_the_answer_box_says_each_container_with_who_and_when(
    settings: Settings, console_url: str
) -> None:
    """The verdict box said only "at least one" (issue 12): it lists every container, worst
    first, with its answer and, for an opened or possibly opened one, who and when."""
    with reported(settings, console_url) as (url, world, now):
        browser = signed_in_session(url, world.tokens["official"], "ja")
        page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
        doc = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    assert page.status_code == 200, page.text[:500]
    box = page.text.split('<ul class="answer-list">', 1)[1].split("</ul>", 1)[0]
    lines = re.findall(r"<li[^>]*>(.*?)</li>", box, re.S)
    assert re.findall(r"<strong>([^<]+)</strong>", box) == SHOWN_ORDER
    fmt = Formats("ja", display_zone(settings.display_timezone), now)
    by_label = {c["label"]: c for c in doc["containers"]}
    for label, li in zip(SHOWN_ORDER, lines, strict=True):
        kind = {"opened": "confirmed", "possibly opened": "release"}.get(ANSWERS[label])
        said = [a for a in by_label[label]["attempts"] if a["kind"] == kind]
        assert bool(said) == (kind is not None), label
        for a in said:
            assert f"{a['actor']} ({fmt.datetime(a['at'])})" in li, (label, li)
        answer = translate("ja", ANSWERS[label].capitalize())
        assert f"</strong>: {answer}" in li
    # No confirmed opening before the loss: nothing said about one (less to read).
    assert 'id="last-before"' not in page.text


def test_the_report_says_the_last_opening_before_the_loss(
    settings: Settings, console_url: str
) -> None:
    """Issue 12, sixth newcomer run: the last confirmed opening before the time of loss, of
    any container, on the report's first screen: one a second before it tells the
    official the time entered may be too late, before the report is printed. The latest
    of them all, to the second, with which container and who opened it. Under the time of
    loss, outside the answer box (thirteenth session: a newcomer read it there as an
    opening after the loss). Twenty minutes before it here: one within
    close_releases.CLOSE_TO_LOSS is said under the answer instead, with what an earlier loss
    would change, and not again here (fourteenth session: test_report_close.py)."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    url = console_url
    world = make_world(settings, url)
    try:
        made = [activate(world, medium=MEDIUM, label=label) for label in ("early", "late")]
        for (reg, key), minutes in zip(made, (10, 19), strict=True):
            clock.advance(minutes=minutes)
            cid = reg["container_id"]
            confirm(world, "reader", cid, key, oprf(world, "reader", cid, reg["public_key"]))
        last = clock()
        clock.advance(minutes=20)
        body = {**LOSS, "lost_at": clock().isoformat()}
        path = f"/v1/media/{MEDIUM}/loss-report"
        assert world.call("official", "POST", path, json=body).is_success
        browser = signed_in_session(url, world.tokens["official"], "en")
        page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
    finally:
        world.close()
    assert page.status_code == 200, page.text[:500]
    box = page.text.split('<div class="answer answer-not_opened">', 1)[1].split("</div>", 1)[0]
    assert "Last confirmed opening" not in box
    facts = page.text.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    fmt = Formats("en", display_zone(settings.display_timezone), last)
    lost = f"<dt>Lost at</dt><dd>{fmt.datetime(clock())}</dd>"
    said = f"{fmt.datetime(last)}: late (reader)"
    opening = f'<dt>Last confirmed opening before the loss</dt><dd id="last-before">{said}</dd>'
    # Right under the time of loss it is measured against.
    assert lost + opening in re.sub(r">\s+<", "><", facts), facts


def _section_pages(pages: list[str], label: str) -> set[int]:
    """The printed pages a container's section is on: its heading (the label, then its
    answer) and its tables' header rows naming it (the label alone on a line)."""
    return {
        number
        for number, text in enumerate(pages, start=1)
        for line in text.splitlines()
        if line.strip() == label or line.strip().startswith(label + " ")
    }


def _answers_on_page_one(pages: list[str], language: str, answers: dict[str, str]) -> None:
    """Page 1 says every container's answer, a line each (issue 12, thirteenth session:
    completeness at a glance), under the answer."""
    lines = [" ".join(line.split()) for line in pages[0].splitlines()]
    question = translate(language, "Was the data opened after the loss?", {})
    start = next(i for i, line in enumerate(lines) if question in line)
    for label, answer in answers.items():
        said = f"{label}: {translate(language, answer.capitalize(), {})}"
        assert any(line.startswith(said) for line in lines[start:]), (said, pages[0])


def _open_report(
    driver: WebDriver, url: str, token: str, language: str, viewport: tuple[int, int] | None = None
) -> None:
    sign_in_by_cookie(driver, url, token, language, viewport)
    driver.get(f"{url}/console/medium/report?name={MEDIUM}")


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ja", "en"])
def test_printed_report_pages(
    settings: Settings, console_url: str, browser: BrowserFactory, tmp_path: Path, language: str
) -> None:
    with reported(settings, console_url) as (url, world, now):
        driver = browser(language)
        _open_report(driver, url, world.tokens["official"], language)
        # On screen each suspension's reason as printed, and apart from it, named as never
        # printed, the internal one (issue 12, sixteenth session: the column on screen was
        # "Internal reason" while the paper's is the public one).
        cells = driver.find_elements(By.CSS_SELECTOR, "table.changes tbody td:last-child")
        note = translate(
            language, "Internal note (not printed): %(note)s", {"note": LOSS["reason"]}
        )
        assert [c.text for c in cells] == [f"{LOSS['public_reason']}\n{note}"] * len(ANSWERS)
        # Page 1 says the loss report's reason, and that internal notes are never printed.
        reason = driver.find_element(By.ID, "report-reason").text
        never = translate(language, "(internal notes are never printed)", {})
        assert reason == f"{LOSS['public_reason']} {never}", reason
        pages = pdf_pages(print_to_pdf(driver), tmp_path)
        doc = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    print("\n\f".join(pages))  # what the official printed, for pytest -s
    assert len(pages) >= 2
    # On paper, handed to the press: the public reason only (issue 12, twelfth newcomer
    # runs: the internal one was printed), under its own column name, in every table.
    printed = " ".join(" ".join(pages).split())
    assert LOSS["reason"] not in printed
    # On page 1 (sixteenth session: a manager reads page 1), once: every table's rows are
    # that loss report's (seventeenth session's newcomer runs: printed four times).
    assert printed.count(LOSS["public_reason"]) == 1
    assert LOSS["public_reason"] in " ".join(pages[0].split())
    assert translate(language, "Reason", {}) in printed
    # That the internal note is left off on purpose is said on screen, for the official,
    # not on paper (sixteenth session's English newcomer); the column's long name wrapped
    # oddly on paper (sixteenth session): "Reason".
    never = "".join(translate(language, "(internal notes are never printed)", {}).split())
    assert never not in "".join(printed.split())
    assert translate(language, "Internal note (not printed): %(note)s", {"note": ""}) not in printed
    # Some public reason given: not "none given" on page 1 (issue 12, fourteenth session);
    # the tables' rows each said it (the count above).
    none_given = translate(language, "Reason", {}) + translate(language, "none given", {})
    assert "".join(none_given.split()) not in "".join(printed.split())
    # What each answer means, once, on paper (a reader of the printed page never saw the
    # console; issue 12, fourteenth session's newcomer runs).
    legend = [
        translate(language, msgid, {"answer": translate(language, answer, {})})
        for msgid, answer in LEGEND
    ]
    # (Blanks left out: a Japanese line wraps between any two characters.)
    bare = "".join(printed.split())
    assert all(bare.count("".join(line.split())) == 1 for line in legend), legend
    # The destroy deadline is said as a plan (the English reader took "Keys destroyed
    # after" for done).
    assert translate(language, "Keys will be destroyed after", {}) in printed

    def say(msgid: str, **values: object) -> str:
        return translate(language, msgid, values)

    # Page 1: the summary and the start of the containers, the opened one first.
    assert say("Was the data opened after the loss?") in pages[0]
    assert "d-opened" in pages[0]
    _answers_on_page_one(pages, language, ANSWERS)
    # The question, then its answer (issue 12, nineteenth session: in Japanese pdftotext
    # read the large answer first, above the small question).
    first = [" ".join(line.split()) for line in pages[0].splitlines() if line.strip()]
    assert first.index(say("Was the data opened after the loss?")) < first.index(say("Opened"))
    # Each container by its label, its id once, at the end (nineteenth session: an id in
    # every box and the address of every attempt were noise to the manager and the press).
    ids = [c["container_id"] for c in doc["containers"]]
    assert [printed.count(cid) for cid in ids] == [1] * len(ids), printed
    assert all(cid in pages[-1] for cid in ids) and "127.0.0.1" not in printed
    # A section that fits on a page is never split across two (issue 12, thirteenth
    # session); the long one (REFUSED_ROWS) runs on, as said below.
    for label in SHOWN_ORDER[1:]:
        assert len(_section_pages(pages, label)) == 1, (label, _section_pages(pages, label))
    assert _section_pages(pages, "d-opened") == {1, 2}
    # A table that runs on repeats its header row on the next page, under its container's
    # name (issue 12, eighth newcomer run: page 2 started with attempts of no named
    # container): the first line after the page's margin.
    lines = [line.strip() for line in pages[1].splitlines() if line.strip()]
    assert lines[1] == "d-opened", pages[1]
    assert say("Result") in pages[1]
    # Every page says what it is, when it was prepared (zone, offset) and which page.
    formats = Formats(language, display_zone(settings.display_timezone), now)
    title = say("Medium report: %(medium)s", medium=MEDIUM)
    prepared = say("Prepared %(at)s", at=formats.datetime(now))
    assert "(UTC+09:00)" in prepared
    zone = say("Times are shown in %(zone)s (UTC%(offset)s).", zone="Asia/Tokyo", offset="+09:00")
    for number, text in enumerate(pages, start=1):
        numbering = say("Page %(page)s of %(pages)s", page=number, pages=len(pages))
        assert numbering in text, f"page {number}:\n{text}"
        assert title in text and prepared in text, f"page {number}:\n{text}"
        # Once a page: page 1's margin leaves them to its heading and "Prepared ... by ..."
        # (issue 12, fifteenth session: the title read twice on page 1).
        assert text.count(title) == 1 and text.count(prepared) == 1, f"page {number}:\n{text}"
        # The zone in every page's margin, never a page of its own (issue 12).
        assert zone in text, f"page {number}:\n{text}"
    assert not note_alone(pages, zone)


# The printed legend of the three answers (report.html): its sentences and the answer each
# one names.
LEGEND = (
    ("%(answer)s: after the loss a key was given out and its opening confirmed.", "Opened"),
    (
        "%(answer)s: after the loss a key was given out, its opening not confirmed.",
        "Possibly opened",
    ),
    ("%(answer)s: after the loss no key was given out to open the data.", "Not opened"),
)


# Three containers as the stories' medium has (one opened before the loss, a long reason,
# a refused attempt after it): the report prints on two A4 pages (issue 12).
THREE = ("residents-register", "tax-ledger", "health-insurance")
LONG_REASON = (
    "委託先が紛失 (incident 2022-06)。"
    + "担当者が電車内で紛失したと電話で連絡があり、警察に遺失届を提出済み。" * 2
)


@contextmanager
def three_reported(settings: Settings, url: str) -> Iterator[World]:
    """THREE on MEDIUM, the first opened (confirmed) an hour before the loss; reported lost
    with LONG_REASON, then a refused attempt on the first."""
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    world = make_world(settings, url)
    try:
        made = [activate(world, medium=MEDIUM, label=label) for label in THREE]
        reg, key = made[0]
        cid = reg["container_id"]
        confirm(world, "reader", cid, key, oprf(world, "reader", cid, reg["public_key"]))
        clock.advance(hours=1)
        body = {"reason": LONG_REASON, "lost_at": clock().isoformat()}
        assert world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
        clock.advance(hours=1)
        refused_as_suspended(world, "reader", cid)
        yield world
    finally:
        world.close()


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ja", "en"])
def test_three_containers_print_on_two_pages_print_first(
    settings: Settings, console_url: str, browser: BrowserFactory, tmp_path: Path, language: str
) -> None:
    """Issue 12, seventh newcomer run: at 1366x768 (a 625 px viewport) the Print button and
    the whole answer box are in view when the report opens (Print first, left of the heading, no
    breadcrumb line repeating it), and the report of three containers prints on two A4
    pages, none of them the time-zone note alone (it printed as page 3)."""
    with three_reported(settings, console_url) as world:
        driver = browser(language)
        try:
            _open_report(driver, console_url, world.tokens["official"], language, LAPTOP)
            assert driver.execute_script("return window.innerHeight") == 625
            # Print takes the cursor only on the report reached by confirming a loss (its
            # banner's page, test_browser_story): opened later, the page takes none.
            assert driver.switch_to.active_element.tag_name == "body"
            heading, button, box = driver.execute_script(
                "return ['h1', '#print', '.answer'].map(function (s) {"
                " var r = document.querySelector(s).getBoundingClientRect();"
                " return [r.top, r.bottom, r.right, r.left]; });"
            )
            assert button[0] >= 0 and button[1] <= 625, button
            # First on the heading's line (their heights overlap), left of it: the first
            # thing read (issue 12, fifteenth session).
            assert button[0] < heading[1] and heading[0] < button[1], (heading, button)
            assert button[2] <= heading[3], (heading, button)
            # And the first stop of Tab in the page's content, before the heading's link.
            first = driver.execute_script(
                "return Array.from(document.querySelectorAll('main a[href], main button,"
                " main summary, main input')).filter(function (e) {"
                " return e.offsetParent !== null; })[0].id;"
            )
            assert first == "print", first
            assert box[1] <= 625, box
            assert not driver.find_elements(By.CSS_SELECTOR, "main .crumb")
            pages = pdf_pages(print_to_pdf(driver), tmp_path)
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print("\n\f".join(pages))
    zone = translate(
        language,
        "Times are shown in %(zone)s (UTC%(offset)s).",
        {"zone": "Asia/Tokyo", "offset": "+09:00"},
    )
    assert len(pages) == 2
    # No public reason given: said so in words (a dash was read as missing data, issue 12,
    # twelfth session's second newcomer runs), and never the internal one. Said once, on
    # page 1, with no reason column in the tables (fourteenth session: "none given" on every
    # row read as "suspended for no reason"); each row still names its cause.
    printed = "".join("".join(pages).split())
    assert "委託先が紛失" not in printed and "電車内" not in printed
    reason = translate(language, "Reason", {})
    none_given = "".join((reason + translate(language, "none given", {})).split())
    assert printed.count(none_given) == 1
    assert none_given in "".join(pages[0].split())
    never = "".join(translate(language, "(internal notes are never printed)", {}).split())
    assert never not in printed
    loss_report = "".join(translate(language, "Loss report", {}).split())
    assert printed.count(loss_report) >= len(THREE)
    assert all(zone in text for text in pages)
    assert not note_alone(pages, zone)
    assert all(label in "".join(pages) for label in THREE)
    # Every container's answer on page 1, though they are all the same (issue 12, thirteenth
    # session: the one sentence for all said how many, not which); no section split.
    _answers_on_page_one(pages, language, dict.fromkeys(THREE, "not opened"))
    for label in THREE:
        assert len(_section_pages(pages, label)) == 1, (label, _section_pages(pages, label))
