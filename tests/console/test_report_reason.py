"""The medium report says on screen the reason the paper prints, and apart from it the
internal note (issue 12, sixteenth session).

The report's column on screen was headed "Internal reason" (内部向けの理由) and showed it,
while on paper the column is the public reason: a Japanese reader was alarmed just before
printing. Since the fifteenth session the console's loss form sends one reason, printed,
and an optional internal note added to the internal reason only ("reason / note"). On
screen the column is now "Reason", the printed one, with the note under it, named as never
printed (never on paper: test_report_print.py); page 1 says the loss report's reason.
Over a real socket (SQLite).
"""

from __future__ import annotations

import html
import re

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._http.console._routes_report import internal_note, reasons_printed, with_note
from tests.support.loss_form import EXAMPLE, MEDIUM, official_browser, post


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_screen_says_the_printed_reason_and_the_note_apart(
    settings: Settings, console_url: str, language: str
) -> None:
    browser = official_browser(settings, console_url, language)
    fields = {"reason_common": "", "reason": "USB lost on the train", "note": "Sato, team B"}
    done = post(browser, console_url, EXAMPLE, path="/confirm", **fields)
    assert done.status_code == 200, done.text[:500]
    page = browser.get(console_url + "/console/medium/report", params={"name": MEDIUM})
    text = page.text
    # Every changes table: its last column is "Reason", on screen as on paper.
    reason = translate(language, "Reason", {})
    heads = re.findall(r'<table class="changes">\s*<thead>(.*?)</thead>', text, re.S)
    assert heads and all(re.findall(r"<th[^>]*>(.*?)</th>", h)[-1] == reason for h in heads)
    internal = translate(language, "Internal reason", {})
    assert internal not in html.unescape(text)
    # Each row: the printed reason, then the note on screen only.
    rows = re.findall(r'<table class="changes">.*?<tbody>(.*?)</tbody>', text, re.S)
    note = translate(language, "Internal note (not printed): %(note)s", {"note": "Sato, team B"})
    for row in rows:
        cell = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[-1]
        printed, _, screen = cell.partition('<span class="noprint muted internal-note">')
        assert _plain(printed) == "USB lost on the train"
        assert _plain(screen) == note
    # Page 1: the loss report's reason, and that internal notes are never printed.
    said = text.split('<dd id="report-reason">', 1)[1].split("</dd>", 1)[0]
    never = translate(language, "(internal notes are never printed)", {})
    assert _plain(said) == f"USB lost on the train {never}"


def test_the_internal_note_is_what_the_internal_reason_adds() -> None:
    """The console's note is read back as it was added (with_note); a command's internal
    reason that is another text is shown whole; the same text, or none, says nothing."""
    assert internal_note(with_note("lost", "Sato"), "lost") == "Sato"
    assert internal_note(with_note("lost", ""), "lost") is None
    assert internal_note("stick lost on the train", "medium lost") == "stick lost on the train"
    assert internal_note("lost on the way home", None) == "lost on the way home"
    assert internal_note(None, "medium lost") is None


def _change(cause: str | None, public_reason: str | None, seq: int) -> dict[str, object]:
    action = "suspend" if cause else "restore"
    return {"seq": seq, "action": action, "cause": cause, "public_reason": public_reason}


def test_the_paper_prints_the_reason_column_only_for_a_reason_page_1_does_not_say() -> None:
    """The loss report's reason is on page 1; on every container's row as well, it was
    read four times (seventeenth session's newcomer runs). A restore's own public reason
    is not on page 1: then the column prints, every row."""
    lost = _change("loss-report", "stolen", 5)
    assert not reasons_printed([{"state_changes": [lost]}, {"state_changes": [lost]}])
    assert not reasons_printed([{"state_changes": [_change("loss-report", None, 5)]}])
    found = _change(None, "found in the office", 9)
    assert reasons_printed([{"state_changes": [lost]}, {"state_changes": [lost, found]}])
    # An official's suspension with its own reason too.
    own = _change("official", "checked by IT", 3)
    assert reasons_printed([{"state_changes": [own, lost]}])
