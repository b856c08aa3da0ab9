"""The command says states, causes, actions and outcomes in the console's words (issue 12, cli48).

An official reads the console, then a colleague's ``keyserver`` output, or the press
statement beside a ``keyserver report``: one word for one thing. The command said
"suspended" and "ok" (停止中, 正常) where the console says "Suspended" and "Succeeded"
(利用停止中, 成功), each from message ids of its own. Here, on a real database, a medium
reported lost is read as an official would, with ``status``, ``media list``, ``media
show``, ``audit list`` and ``report``, in Japanese and English; each word is compared with
what the console's own templates render for the same value; ``--json`` keeps the
protocol's values.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from keyserver._domain.errors import KeyServerError
from keyserver._domain.i18n import translate
from keyserver._http.console._page import environment
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, People

MEDIUM = "USB-WORDS"


def _console(language: str, macro: str, value: str) -> str:
    """What the console's page says for ``value`` (its macro in _macros.html), as text."""
    template = environment(language).from_string(
        f'{{% from "_macros.html" import {macro} with context %}}{{{{ {macro}(value) }}}}'
    )
    return re.sub(r"<[^>]+>", "", template.render(value=value))


def _world(cli: Any, data_dir: DataDir, people: People) -> tuple[str, list[str]]:
    """Two containers on MEDIUM, one key given to its reader, the medium reported lost, then
    that reader's request refused: the container is suspended."""
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium=MEDIUM)
    h.make_container(settings, people.writer, medium=MEDIUM)
    h.reader_evaluates(settings, people.reader, cid)
    where = ["--data-dir", str(data_dir.path)]
    lost = cli("report-loss", "--medium", MEDIUM, "--reason", "lost", *where)
    assert lost.code == 0, lost
    with pytest.raises(KeyServerError):
        h.reader_evaluates(settings, people.reader, cid)
    return cid, where


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ja", ("利用停止中", "紛失届", "成功", "鍵の要求 (evaluate)", "利用停止中 2 件")),
        (
            "en",
            ("Suspended", "Loss report", "Succeeded", "Key requested (evaluate)", "2 suspended"),
        ),
    ],
)
def test_states_and_outcomes_read_as_on_the_console(
    cli: Any, data_dir: DataDir, people: People, language: str, words: tuple[str, ...]
) -> None:
    cid, where = _world(cli, data_dir, people)
    suspended, loss_report, succeeded, requested, counted = words
    # The words are the console's own, as its pages render them.
    assert _console(language, "state_label", "suspended") == suspended
    assert _console(language, "cause_label", "loss-report") == loss_report
    assert _console(language, "outcome_label", "ok") == succeeded
    assert requested.startswith(_console(language, "action_label", "evaluate") + " (")
    env = h.clean_env(KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")

    def run(*argv: str) -> str:
        result = cli(*argv, *where, env=env)
        assert result.code == 0, result
        return str(result.out)

    def row(out: str, name: str) -> list[str]:
        """The values of the record rows named ``name`` (two columns, two blanks apart)."""
        return [
            line.split(None, 1)[1].strip()
            for line in out.splitlines()
            if line.startswith(name + "  ") and len(line.split(None, 1)) == 2
        ]

    label = (translate(language, "State"), translate(language, "Cause"))
    status = run("status", cid)
    assert row(status, label[0]) == [suspended], status
    assert row(status, label[1]) == [loss_report], status
    report = run("report", "--medium", MEDIUM)
    assert row(report, label[0]) == [suspended, suspended], report
    assert row(report, label[1]) == [loss_report, loss_report], report
    # The refused request's why, as the console's report says it after "Refused".
    refused = [
        line
        for line in report.splitlines()
        if _console(language, "outcome_label", "refused") in line
    ]
    assert refused and f"│ {_console(language, 'refusal_label', 'suspended')} " in refused[0]
    for out in (run("media", "list"), run("media", "show", MEDIUM)):
        assert counted in out, out
    audit = run("audit", "list", "--container", cid)
    assert requested in audit and succeeded in audit, audit
    # The command's own words are gone: 停止中 alone, 正常, "ok"; no slug in Japanese.
    old = r"(?<!利用)停止中|正常|suspended|\bok\b" if language == "ja" else r"│ ok "
    for out in (status, report, audit):
        assert not re.search(old, out), out


def test_json_keeps_the_protocols_values(cli: Any, data_dir: DataDir, people: People) -> None:
    cid, where = _world(cli, data_dir, people)
    env = h.clean_env(KEYSERVER_LANG="ja")

    def doc(*argv: str) -> Any:
        result = cli(*argv, "--json", *where, env=env)
        assert result.code == 0, result
        return result.json()

    status = doc("status", cid)
    assert (status["state"], status["suspend_cause"]) == ("suspended", "loss-report")
    assert doc("media", "show", MEDIUM)["states"] == {"suspended": 2}
    assert doc("media", "list")["media"][0]["states"] == {"suspended": 2}
    entries = doc("audit", "list", "--container", cid)
    entries = entries if isinstance(entries, list) else entries["entries"]
    assert {(e["action"], e["outcome"]) for e in entries} >= {("evaluate", "ok")}, entries
    report = doc("report", "--medium", MEDIUM)
    assert {c["state"] for c in report["containers"]} == {"suspended"}
    refused = [a for c in report["containers"] for a in c["attempts"] if a["outcome"] == "refused"]
    assert [a["reason"] for a in refused] == ["suspended"], refused


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_restore_says_what_it_left_by_the_consoles_cause(
    cli: Any, data_dir: DataDir, people: People, language: str
) -> None:
    """``restore --medium`` lifts the loss report's suspensions and says which it left, with
    their cause as the console's result page names it (it said the slug: 原因 official)."""
    settings = data_dir.settings()
    held = h.make_container(settings, people.writer, medium=MEDIUM)
    h.make_container(settings, people.writer, medium=MEDIUM)
    where = ["--data-dir", str(data_dir.path)]
    assert cli("suspend", held, "--reason", "vendor audit", *where).code == 0
    assert cli("report-loss", "--medium", MEDIUM, "--reason", "lost", *where).code == 0
    env = h.clean_env(KEYSERVER_LANG=language)
    restored = cli("restore", "--medium", MEDIUM, "--reason", "found", *where, env=env)
    assert restored.code == 0, restored
    left = restored.out.splitlines()[-1]  # after the count and the ids changed
    cause = _console(language, "cause_label", "official")
    assert cause in left and "cause official" not in left and "原因 official" not in left, left
