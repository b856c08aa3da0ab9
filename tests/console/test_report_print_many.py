"""The printed report of a medium of four and of eight containers (issue 12, seventeenth
session), after the review's "Not sure" answer.

A section (a container's facts, its attempts and its changes) is kept on one page, so a
medium of four printed on three A4 pages, the last third of page 2 empty, and one of eight
on five, page 1 half empty: each section took a third of a page. On paper a section kept
whole no longer repeats its container's name in each table's header (it is the heading
just above), and its facts are in the tables' size: four containers print on two pages,
eight on four, no section split; page 1 says the time told beside the time of loss, that
the answer depends on the time of loss and what it is either side (who, when), and the
manager's line (eighteenth session). Over a real socket (SQLite, real VOPRF), printed by headless
Chromium, read back with pdftotext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyserver._domain import people, report_words
from keyserver._domain.i18n import ngettext, translate
from keyserver._domain.settings import Settings
from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf
from tests.support.console_pages import sign_in_by_cookie
from tests.support.loss_form import MEDIUM
from tests.support.openings import OPENINGS, opened

pytestmark = pytest.mark.slow

TOLD = datetime(2026, 12, 3, 8, 41, tzinfo=UTC)  # "around 17:41", the clerk's opening 17:40:15
# The most pages each medium may take.
PAGES = {4: 2, 8: 4}
PEOPLE = 460_517


def _sections_whole(pages: list[str], labels: list[str], changes: str) -> dict[str, int]:
    """The page of each container's section, checked to be one: its heading (the label,
    then its answer; page 1's answer list and the attempts heading say "label:") and the
    heading of its changes, with the table's row under it, on the same page."""
    at: dict[str, int] = {}
    current = None
    for number, text in enumerate(pages, start=1):
        lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        for i, line in enumerate(lines):
            heading = [
                label
                for label in labels
                if line.startswith(label) and line[len(label) : len(label) + 1] != ":"
            ]
            if heading:
                current = max(heading, key=len)
                at[current] = number
            elif line.startswith(changes):
                assert current is not None and at[current] == number, (current, number)
                assert "official" in lines[i + 1] or "official" in lines[i + 2], lines[i : i + 3]
    assert sorted(at) == sorted(labels), at
    return at


@pytest.mark.parametrize("declared", [False, True], ids=["", "people"])
@pytest.mark.parametrize("containers", sorted(PAGES))
@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_medium_of_many_containers_prints_short_with_no_section_split(
    settings: Settings,
    console_url: str,
    browser: BrowserFactory,
    tmp_path: Path,
    language: str,
    containers: int,
    declared: bool,
) -> None:
    # Besides the clerk's opening and the other key just before the time told, monthly
    # reports each opened that morning, long before it.
    monthly = {
        f"月次報告-{n + 1:02d}": datetime(2026, 12, 3, 1, n, tzinfo=UTC)
        for n in range(containers - 2)
    }
    openings = {"late": OPENINGS["late"], **monthly}
    # ``declared``: each container declares how many people's data it holds (spec §report,
    # issue 12): a line in each section and one on page 1, within the same pages.
    tried = {"tried": OPENINGS["late"]}
    count = PEOPLE if declared else None
    with opened(settings, console_url, openings, tried, people=count) as world:
        body = {
            "reason": "stolen",
            "public_reason": "stolen",
            "lost_at": OPENINGS["late"].isoformat(),
            "told_at": TOLD.isoformat(),
        }
        reported = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
        assert reported.status_code == 200, reported.text
        driver = browser(language)
        sign_in_by_cookie(driver, console_url, world.tokens["official"], language)
        driver.get(f"{console_url}/console/medium/report?name={MEDIUM}")
        pages = pdf_pages(print_to_pdf(driver), tmp_path)
        doc = world.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    print("\n\f".join(pages))  # what the official printed, for pytest -s
    assert len(pages) <= PAGES[containers], len(pages)
    changes = translate(language, "Suspensions, restores and destroys since the loss", {})
    placed = _sections_whole(pages, ["late", "tried", *monthly], changes)
    # Page 1 is not left half empty. With eight declared counts in English, page 1 is
    # full to its last line with the medium's bound (one line more than without), and the
    # first section, kept whole, starts page 2: the pages stay four.
    if not (declared and containers == 8):
        assert placed["late"] == 1
    # Page 1: the manager's line, the time told beside the time of loss, and the answer
    # either side of the time told (issue 12, eighteenth session), who and when.
    first = "".join(pages[0].split())
    at = ("2026/12/03 17:41" if language == "ja" else "3 Dec 2026, 17:41") + " (UTC+09:00)"
    told = translate(language, "around %(at)s (as told)", {"at": at})
    assert "".join(f"{translate(language, 'Lost at', {})} {told}".split()) in first
    # To the second, as each container's box says it (nineteenth session).
    deadline = (
        "2026/12/07 10:00:00" if language == "ja" else "7 Dec 2026, 10:00:00"
    ) + " (UTC+09:00)"
    manager = ngettext(
        "%(n)s container suspended: nobody can open it now. Unless it is restored, its server"
        " keys (not the city's data) are destroyed after %(at)s.",
        "%(n)s containers suspended: nobody can open them now. Unless they are restored, their"
        " server keys (not the city's data) are destroyed after %(at)s.",
        containers,
        n=str(containers),
        at=deadline,
    ).text(language)
    assert "".join(manager.split()) in first
    # Each container named with its own answer (nineteenth session: "tried", whose opening
    # was never confirmed, read as Opened under the medium's "Opened"), its reader by role
    # and name in its case's line (twenty-third session, the lead's decision), what the
    # role means in the legend.
    for label, answer in (("late", "Opened"), ("tried", "Possibly opened")):
        event = translate(
            language,
            "%(label)s: %(answer)s",
            {"label": label, "answer": translate(language, answer, {})},
        )
        assert "".join(event.split()) in first, event
    meant = report_words.READER_MEANT.text(language)
    assert "".join(meant.split()) in "".join("".join(pages).split())
    # The answer at the time told, said in the sentence under its word with the time told
    # (console46), before the other case (nineteenth session).
    when = translate(
        language,
        "the time told (around %(at)s)",
        {"at": "12月3日 17:41" if language == "ja" else "3 Dec 17:41"},
    )
    after = translate(
        language, "Nobody opened any data on this medium after %(when)s.", {"when": when}
    )
    assert "".join(after.split()) in first
    assert first.index("".join(after.split())) < first.index("".join(event.split()))
    # The question first, then its answer (nineteenth session: in Japanese pdftotext read
    # the large answer before the small question above it).
    question = "".join(translate(language, "Was the data opened after the loss?", {}).split())
    assert first.index(question) < first.index("".join(after.split())), pages[0]
    # Each container by its label; its id once, at the end, for an auditor (nineteenth
    # session: a 22-character id in every box, and the address "127.0.0.1" of every
    # attempt, were noise to the manager and the press).
    printed = "\n".join(pages)
    assert "127.0.0.1" not in printed
    ids = [c["container_id"] for c in doc["containers"]]
    assert [printed.count(cid) for cid in ids] == [1] * len(ids), printed
    assert all(cid in pages[-1] for cid in ids)
    if not declared:  # nothing declared: nothing said, never "0 people"
        assert translate(language, "Personal data", {}) not in printed
        return
    # How many people, on paper too: the medium's bound on page 1, each section's count.
    n = len(ids)
    bound = "".join(people.up_to_said(doc)[0].text(language).split())
    assert bound in first and str(f"{PEOPLE * n:,}") in bound
    each = "".join(people.said(PEOPLE).text(language).split())
    assert "".join(printed.split()).count(each) == n
