"""``keyserver report`` says what the console's report says, in the same words (issue 12,
twenty-first session).

An official at a terminal, or a script mailing the text, reads the same medium's report as
the one on the console: the answer's name, the lines of "Depends on the time of loss" (the
time told's case first, a line per container under each case, who by role), the time told,
each container's counts and its tables' headings. The command kept the older words
("depends on the time of loss (the answer either side…)", "the city's reader NAME"): two
texts for one fact. Here both read one report of the review's "Not sure" stories
(tests/console/test_report_told.py), over a real socket, in Japanese and English: the
command's lines are the console's, the dates and offsets a terminal writes in full aside.
"""

from __future__ import annotations

import html
import io
import re

import pytest

from keyserver._cli.main import main
from keyserver._domain.i18n import translate
from keyserver._domain.report_words import READER_MEANT
from keyserver._domain.settings import Settings
from tests.console.test_report_told import (
    LOST,
    TOLD,
    TOLD_SAID,
    _answer_box,
    _pages,
    _report_loss,
)
from tests.support.loss_form import MEDIUM
from tests.support.loss_review import facts, text_of
from tests.support.openings import OPENINGS, box_rows, opened
from tests.support.processes import clean_env

# The clerk's opening of "late" just before the time told, and with it: nothing else; a
# key of "tried" given out at the same second, unconfirmed; a key of "kept" given out at
# 19:00, after the time told, unconfirmed (the told case names a container too).
STORIES = {
    "late": ({"late": OPENINGS["late"]}, {}),
    "late and tried": ({"late": LOST}, {"tried": LOST}),
    "late and kept": ({"late": LOST}, {"kept": OPENINGS["after"]}),
}


def _command(url: str, token: str, language: str) -> list[str]:
    """``keyserver report --medium MEDIUM --server URL``'s lines, in ``language``."""
    out, err = io.StringIO(), io.StringIO()
    env = clean_env(
        KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo", KEYSERVER_TOKEN=token
    )
    argv = ["report", "--medium", MEDIUM, "--server", url]
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err, env=env)
    assert code == 0, err.getvalue()
    return out.getvalue().splitlines()


def _as_on_the_page(line: str, language: str | None = None) -> str:
    """A command's line with its times as the page writes a time on the loss's day (the
    clock alone: every time of these stories is on 3 Dec in Tokyo); with ``language``, as
    the answer box writes them: the time told with its date, short (twenty-second
    session)."""
    if language is not None:
        line = line.replace("2026-12-03 17:41 +09:00", TOLD_SAID[language])
    return re.sub(r"2026-12-03 (\d\d:\d\d(?::\d\d)?) \+09:00", r"\1", line)


def _depends_lines(page: str) -> list[tuple[int, str]]:
    """The answer box's "depends" lines, each with its indent as the command lays it out:
    a case's line (0), a line per container under it (2)."""
    box = page.split('<div class="answer answer-', 1)[1].split("</div>", 1)[0]
    said: list[tuple[int, str]] = []
    for case, events in re.findall(
        r'<p class="depends-line[^"]*">(.*?)</p>|<ul class="depends-events">(.*?)</ul>', box, re.S
    ):
        if case:  # its answer's word marked in bold: part of the line
            said.append((0, text_of(re.sub(r"</?strong\b[^>]*>", "", case))))
        # A container's line as read: its label in bold is part of it ("late: Opened").
        lines = re.findall(r"<li\b[^>]*>(.*?)</li>", events, re.S)
        said += [(2, text_of(re.sub(r"</?strong>", "", e))) for e in lines]
    return said


def _records(lines: list[str], language: str) -> dict[str, dict[str, str]]:
    """Each container's record in the command's text, by its label: its rows, name to
    value (a two-column table: the name, then two blanks or more, then the value)."""
    label = translate(language, "Label", {})
    found: dict[str, dict[str, str]] = {}
    rows: dict[str, str] = {}
    for line in lines:
        row = re.match(r"^(\S.*?)\s{2,}(\S.*?)\s*$", line)
        if row is None:
            continue
        if row[1] == label:
            rows = found.setdefault(row[2], {})
        rows[row[1]] = row[2]
    return found


# The counts of a container's box, under a time told and without one (report.html).
COUNTS = (
    "Keys given to readers",
    "Openings confirmed",
    "Keys given to readers after the loss",
    "Openings confirmed after the loss",
)


@pytest.mark.parametrize("story", list(STORIES))
def test_the_command_says_the_console_reports_lines(
    settings: Settings, console_url: str, story: str
) -> None:
    openings, released = STORIES[story]
    with opened(settings, console_url, openings, released) as world:
        _report_loss(world, lost_at=LOST, told_at=TOLD)
        token = world.tokens["official"]
        for language in ("ja", "en"):
            page, _ = _pages(console_url, token, language)
            lines = _command(console_url, token, language)
            shown = [_as_on_the_page(line, language) for line in lines]
            box = _answer_box(page)
            # The command's headline: the page's sentence under the question, the answer
            # for the time told in words (console46: it said "Depends on the time of loss"
            # where the page leads with the answer for the time told); the page's answer
            # is the first of the lines under it (twenty-third session, the lead's decision).
            depends = _depends_lines(page)
            sentence = re.search(r'<p class="answer-said" id="headline">(.*?)</p>', page, re.S)
            assert sentence is not None, page
            assert shown[0] == translate(
                language,
                "Medium %(medium)s: %(answer)s",
                {"medium": MEDIUM, "answer": text_of(sentence[1])},
            ), lines
            assert box[1] == depends[0][1], (box, depends)
            # Under it the page's lines, in its order (the time told's case first), each
            # container a line of its own under its case, who the reader is said once.
            assert len(depends) >= 3, depends
            said = [(len(line) - len(line.lstrip(" ")), line.strip()) for line in shown]
            # The page says the time told's case by its answer's word alone, the sentence
            # above saying the rest (console46); the command by its line, after that
            # sentence on its first line.
            assert depends[0] == (0, box[1]), (depends, box)
            assert said[2 : 1 + len(depends)] == depends[1:], (story, language, lines)
            # Who "the city's reader" of the lines is, said once by each (the page's
            # printed legend).
            meant = READER_MEANT.text(language)
            assert lines.count(meant) == 1 == page.count(meant), lines
            # The time told, as the page's first fact says it, with its date: the page's
            # "around 3 Dec 2026, 17:41 (UTC+09:00) (as told)", the terminal's own way of
            # writing a date and offset (twenty-first session: "00:10" named no day).
            name, value = facts(page)[0]
            told = "2026-12-03 17:41 +09:00"
            assert (
                f"{name}: {translate(language, 'around %(at)s (as told)', {'at': told})}" in lines
            )
            assert value == translate(
                language,
                "around %(at)s (as told)",
                {
                    "at": ("2026/12/03 17:41" if language == "ja" else "3 Dec 2026, 17:41")
                    + " (UTC+09:00)"
                },
            ), value
            # Each container's answer by the name its section's heading gives it, and its
            # counts in its box's words (twentieth session: "after the loss 1" under a time
            # told was reported as "opened after the loss").
            headings = {
                label: html.unescape(answer)
                for label, answer in re.findall(
                    r"<h2>(\S+) <span class=\"answer-tag[^\"]*\">(.*?)</span></h2>", page
                )
            }
            records = _records(lines, language)
            answer = translate(language, "Was the data opened after the loss?", {})
            assert {k: r[answer] for k, r in records.items()} == headings, (story, lines)
            counts = {translate(language, name, {}) for name in COUNTS}
            for label, rows in box_rows(page).items():
                counted = [(name, value) for name, value in rows if name in counts]
                assert len(counted) == 2, rows
                said_counts = [
                    (name, _as_on_the_page(records[label].get(name, ""))) for name, _ in counted
                ]
                assert said_counts == counted, (story, language, lines)
                # Its tables under the page's headings: key requests, not "attempts".
                since = "2026-12-03 17:40:15 +09:00"
                for msgid, values in (
                    ("Key requests for %(label)s since %(at)s", {"label": label, "at": since}),
                    ("Suspensions, restores and destroys since the loss", {}),
                ):
                    assert translate(language, msgid, values) in [x.strip() for x in lines]
            # Each key request row's kind by the name the page's tables give it, as many
            # times (twenty-first session: the command said "key released to a reader"
            # where the page says "Key given to a reader", two names for one row).
            kinds = [
                html.unescape(cell)
                for cell in re.findall(r'<td class="kind-(?!refused)[^"]*">(.*?)</td>', page)
            ]
            assert translate(language, "Key given to a reader", {}) in kinds, kinds
            cells = [
                cell.strip() for line in lines if line.startswith("│") for cell in line.split("│")
            ]
            for kind in set(kinds):
                assert cells.count(kind) == kinds.count(kind), (kind, story, language, lines)
