"""The reasons the system writes, in the ``keyserver`` command's language (issue 12, ops9).

A budget suspension records the English sentence "attempt budget exhausted" as its reason
and public reason (spec §receipt). The console shows it through the catalogue
(keyserver/_domain/system_reasons.py); ``keyserver status`` and ``keyserver report``
printed it in English to a Japanese official. They now show it as the console does, in the
command's language (KEYSERVER_LANG, else LC_ALL / LC_MESSAGES / LANG); ``--json`` keeps
the stored text. Over a real server on a loopback socket (SQLite) and in local mode.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.lifecycle import BUDGET_REASON
from keyserver._domain.system_reasons import SYSTEM_REASONS
from tests.support import keyserver_cli as h

MEDIUM = "R-7"


def _suspended_by_budget(data_dir: Any, people: Any) -> str:
    settings = data_dir.settings()
    cid = str(h.make_container(settings, people.writer, medium=MEDIUM, attempt_budget=1))
    h.reader_evaluates(settings, people.reader, cid)
    assert h.container_status(settings, cid)["suspend_cause"] == "budget"
    return cid


@pytest.mark.parametrize(
    ("language", "env"),
    [("ja", {"KEYSERVER_LANG": "ja"}), ("ja", {"LANG": "ja_JP.UTF-8"}), ("en", {})],
)
def test_status_and_report_say_the_system_reason_in_the_command_language(
    cli: Any, data_dir: Any, people: Any, server: str, language: str, env: dict[str, str]
) -> None:
    cid = _suspended_by_budget(data_dir, people)
    shown = translate(language, SYSTEM_REASONS[BUDGET_REASON].msgid, {})
    assert shown != BUDGET_REASON
    remote = h.clean_env(KEYSERVER_TOKEN=people.official, **env)
    runs = {
        "status (remote)": cli("status", cid, "--server", server, env=remote),
        "status (local)": cli("status", cid, "--data-dir", data_dir.path, env=h.clean_env(**env)),
        "report": cli("report", "--medium", MEDIUM, "--server", server, env=remote),
    }
    for name, result in runs.items():
        assert result.code == 0, (name, result)
        assert shown in result.out, (name, result.out)
        assert BUDGET_REASON not in result.out, (name, result.out)
    # The status says it twice: the reason and the public reason.
    assert runs["status (remote)"].out.count(shown) == 2


def test_json_keeps_the_stored_reason(cli: Any, data_dir: Any, people: Any, server: str) -> None:
    cid = _suspended_by_budget(data_dir, people)
    env = h.clean_env(KEYSERVER_TOKEN=people.official, KEYSERVER_LANG="ja")
    status = cli("status", cid, "--json", "--server", server, env=env)
    assert status.code == 0, status
    doc = json.loads(status.out)
    assert (doc["reason"], doc["public_reason"]) == (BUDGET_REASON, BUDGET_REASON)


def test_a_typed_reason_is_shown_as_typed(
    cli: Any, data_dir: Any, people: Any, server: str
) -> None:
    """Only the system's whole sentences are looked up: an official's text is theirs."""
    cid = str(h.make_container(data_dir.settings(), people.writer, medium=MEDIUM))
    env = h.clean_env(KEYSERVER_TOKEN=people.official, KEYSERVER_LANG="ja")
    typed = "attempt budget exhausted? checked with Sato"
    done = cli("suspend", cid, "--reason", typed, "--server", server, env=env)
    assert done.code == 0, done
    status = cli("status", cid, "--server", server, env=env)
    assert typed in status.out, status
