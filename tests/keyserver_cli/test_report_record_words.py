"""``keyserver report`` names its rows and columns in the console's words (issue 12, ops14).

An official reads the medium report at a terminal after a loss, or pastes it into a mail.
In English its record said the protocol's names (``container_id``, ``suspend_cause``,
``loss_reported_at``, ``destroy_after``, ``releases_after_loss``...) beside the console's
"Keys given to readers after the loss"; in Japanese names of their own ("コンテナID",
"回答") where the console's report says "コンテナ", "紛失後にデータは開かれたか". Run as an
official would, on a real database, in both languages: each row and column is named by the
console's message, no protocol name is left; ``status``, ``audit list`` and a loss report's
record name the same members the same way; ``--json`` keeps the protocol's names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from keyserver._domain.i18n import translate
from tests.keyserver_cli.test_japanese_tables import _world
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, People

# The medium of _world: a container whose key its reader was given before it was lost.
MEDIUM = "USB-JA"
# A container's record in the report, row by row, as the console's report names each fact.
RECORD = (
    "Container",
    "Label",
    "Made by",
    "State",
    "Cause",
    "Was the data opened after the loss?",
    "Reported at",
    "Keys will be destroyed after",
    "Keys given to readers after the loss",
    "Openings confirmed after the loss",
    "Last confirmed opening before the loss",
)
# Its key requests' columns and its suspensions' columns (report.html, audit.html).
REQUESTS = ("#", "Time", "Who", "Action", "What", "Result", "Reason", "Address")
CHANGES = ("#", "Time", "Who", "Action", "Cause", "Reason")
# Protocol names: words joined by "_" (``container_id``), as --json keeps them.
_JOINED = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _record_names(out: str) -> list[str]:
    """The first column of the two-column record (rows: a name, two blanks, a value)."""
    rows = [re.match(r"^(\S.*?)\s{2,}\S", line) for line in out.splitlines()]
    return [row[1] for row in rows if row is not None and not row[1].startswith("│")]


def _headers(out: str) -> list[list[str]]:
    """Each table's header cells (the first row of cells under its top border)."""
    lines = out.splitlines()
    return [
        [cell.strip() for cell in lines[i + 1].strip("┃").split("┃")]
        for i, line in enumerate(lines[:-1])
        if line.startswith("┏")
    ]


def _runner(cli: Any, where: list[str], language: str) -> Callable[..., str]:
    """The command as an official runs it in ``language`` (zone Asia/Tokyo): its output."""

    def run(*argv: str) -> str:
        env = {"KEYSERVER_LANG": language, "KEYSERVER_DISPLAY_TIMEZONE": "Asia/Tokyo"}
        shown = cli(*argv, *where, env=h.clean_env(**env))
        assert shown.code == 0, shown
        return str(shown.out)

    return run


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_report_names_its_facts_as_the_console_does(
    cli: Any, data_dir: DataDir, people: People, language: str
) -> None:
    cid, where = _world(cli, data_dir, people)
    run = _runner(cli, where, language)

    def said(msgids: tuple[str, ...]) -> list[str]:
        return [translate(language, msgid, {}) for msgid in msgids]

    # From before the loss: the reader's key request is in the report's first table.
    report = run("report", "--medium", MEDIUM, "--since", "2000-01-01T00:00:00Z")
    assert _JOINED.findall(report) == [], report  # no protocol name left
    names = _record_names(report)
    assert [n for n in said(RECORD) if n not in names] == [], names
    # Each table by the console's column names (the key requests, then the suspension).
    assert _headers(report)[:2] == [said(REQUESTS), said(CHANGES)], report
    # The container's status and its audit entries name the same members the same way.
    status = run("status", cid)
    for msgid in ("Container", "Made by", "State", "Keys will be destroyed after"):
        assert translate(language, msgid, {}) in _record_names(status), status
    assert not {"container_id", "issuer", "destroy_after"} & set(_record_names(status))
    # What a loss report did, read right after it, as the console's banner says it.
    loss = _record_names(run("report-loss", "--medium", MEDIUM, "--reason", "again"))
    assert said(("Containers", "Suspended now", "Already suspended")) == [
        n for n in loss if n in said(("Containers", "Suspended now", "Already suspended"))
    ], loss
    audit = _headers(run("audit", "list", "--container", cid))
    assert audit and all(not _JOINED.search(h) for h in audit[0]), audit
    assert said(("Time", "Who", "Action", "Result"))[:2] == audit[0][1:3], audit


@pytest.mark.parametrize("language", ["en", "ja"])
def test_media_principals_and_causes_in_words(
    cli: Any, data_dir: DataDir, people: People, language: str
) -> None:
    """Issue 12, console45: ``media list`` headed ``containers`` and ``states``, ``principal
    list`` ``name`` and ``roles``, and a suspension's cause said ``loss-report`` in English
    (紛失報告 in Japanese, where the console's report says 紛失届): the console's words now,
    in both languages."""
    cid, where = _world(cli, data_dir, people)
    run = _runner(cli, where, language)

    def said(*msgids: str) -> list[str]:
        return [translate(language, msgid, {}) for msgid in msgids]

    media = ("Medium", "Containers", "Containers by state", "Lost at", "Reported at", "Created")
    assert _headers(run("media", "list"))[0] == said(*media)
    assert said("Containers", "Containers by state") == [
        n for n in _record_names(run("media", "show", MEDIUM)) if n in said(*media)[1:3]
    ]
    principals = _headers(run("principal", "list"))[0]
    assert principals[:4] == said("Name", "Roles", "Groups", "Organisation"), principals
    status = run("status", cid)
    (cause,) = [line for line in status.splitlines() if line.startswith(said("Cause")[0])]
    assert cause.split()[-1] == said("Loss report")[0].split()[-1], cause
    report = run("report", "--medium", MEDIUM)
    assert said("Loss report")[0] in report and "loss-report" not in report, report


def test_scripts_read_the_protocols_names(cli: Any, data_dir: DataDir, people: People) -> None:
    _, where = _world(cli, data_dir, people)
    for language in ("en", "ja"):
        env = h.clean_env(KEYSERVER_LANG=language)
        argv = ("report", "--medium", MEDIUM, "--since", "2000-01-01T00:00:00Z", "--json")
        doc = cli(*argv, *where, env=env).json()
        container = doc["containers"][0]
        for key in ("container_id", "suspend_cause", "releases_after_loss", "destroy_after"):
            assert key in container, container
        assert {"seq", "at", "actor", "action", "kind", "outcome"} <= set(container["attempts"][0])
