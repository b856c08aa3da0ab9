"""``keyserver reset-budget CONTAINER --reason R`` (issue 12, ops9): the console's reset of an
active container's attempt count (console20), from the command.

spec §receipt (``POST /v1/containers/{id}/reset-budget``), §cli: the container is looked
up first (an id that matches nothing fails with exit 5 before anything is asked or
changed), what the reset affects is said and confirmed once (``--yes`` for scripts), in
the command's language. Over a real server on a loopback socket (SQLite), the command run
in-process as tests/keyserver_cli does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyserver._domain.encoding import b64e
from keyserver._domain.i18n import translate
from keyserver._domain.validation import decode_container_id
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import OPERATOR, TtyInput

REASON = "Sato confirmed the attempts were hers"


def _env(token: str, **extra: str) -> dict[str, str]:
    return h.clean_env(KEYSERVER_TOKEN=token, **extra)


def _spent(data_dir: Any, people: Any, *, attempts: int = 2) -> str:
    """An active container with a budget of 3 and ``attempts`` unconfirmed releases."""
    settings = data_dir.settings()
    cid = str(h.make_container(settings, people.writer, medium="R-1", attempt_budget=3))
    for _ in range(attempts):
        h.reader_evaluates(settings, people.reader, cid)
    return cid


def _count(data_dir: Any, cid: str) -> int:
    return int(h.container_status(data_dir.settings(), cid)["unconfirmed"])


def _resets(data_dir: Any) -> list[dict[str, Any]]:
    return [e for e in h.audit_entries(data_dir.path) if e["action"] == "budget.reset"]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_official_resets_after_confirming(
    cli: Any, data_dir: Any, people: Any, server: str, language: str
) -> None:
    cid = _spent(data_dir, people)
    env = _env(people.official, KEYSERVER_LANG=language)
    argv = ("reset-budget", cid, "--reason", REASON, "--server", server)

    declined = cli(*argv, env=env, stdin=TtyInput("no\n"))
    assert declined.code == 8, declined
    assert _count(data_dir, cid) == 2 and _resets(data_dir) == []

    done = cli(*argv, env=env, stdin=TtyInput("yes\n"))
    assert done.code == 0, done

    def say(msgid: str, **values: object) -> str:
        return translate(language, msgid, values)

    # What it affects, before the question: the container, its count now and after.
    asked = done.err
    assert say("Reset the attempt count of %(label)s", label="export") in asked
    assert cid in asked and "R-1" in asked
    count = f"{say('%(used)s of %(budget)s', used=2, budget=3)} -> "
    assert count + say("%(used)s of %(budget)s", used=0, budget=3) in asked
    assert say("Reset the count to 0?") in asked
    if language == "ja":
        assert "Reset" not in asked  # the whole confirmation from the catalogue
    said = say("The attempt count is reset: it was %(n)s, it is now 0.", n=2)
    assert done.out.strip() == said
    assert _count(data_dir, cid) == 0
    (entry,) = _resets(data_dir)
    assert (entry["actor"], entry["container"], entry["details"]["reason"]) == (
        "official",
        cid,
        REASON,
    )
    assert entry["details"]["unconfirmed_before"] == 2


def test_scripts_say_yes_and_read_json(cli: Any, data_dir: Any, people: Any, server: str) -> None:
    cid = _spent(data_dir, people, attempts=1)
    env = _env(people.official)
    argv = ("reset-budget", cid, "--reason", REASON, "--server", server)
    # No terminal, no --yes: a usage error, nothing changed.
    unasked = cli(*argv, env=env)
    assert unasked.code == 2 and "--yes" in unasked.err, unasked
    assert _count(data_dir, cid) == 1
    done = cli(*argv, "--yes", "--json", env=env)
    assert done.code == 0, done
    assert done.json() == {"container_id": cid, "unconfirmed_before": 1, "unconfirmed": 0}
    # Local mode: the same call on the data directory, audited under the operator.
    h.reader_evaluates(data_dir.settings(), people.reader, cid)
    local = cli("reset-budget", cid, "--reason", REASON, "--yes", "--data-dir", data_dir.path)
    assert local.code == 0, local
    assert [e["actor"] for e in _resets(data_dir)] == ["official", OPERATOR]


@pytest.mark.parametrize("yes", [False, True])
def test_an_unknown_id_changes_nothing(
    cli: Any, data_dir: Any, people: Any, server: str, yes: bool
) -> None:
    cid = _spent(data_dir, people)
    # The same id with another last byte: well formed, matching nothing.
    raw = decode_container_id(cid)
    other = b64e(raw[:-1] + bytes([raw[-1] ^ 1]))
    argv = ["reset-budget", other, "--reason", REASON, "--server", server, "--json"]
    argv += ["--yes"] if yes else []
    result = cli(*argv, env=_env(people.official), stdin=TtyInput("yes\n"))
    assert result.code == 5, result
    assert result.out == ""
    error = json.loads(result.err)
    assert error["ok"] is False and error["warnings"] == []
    assert (error["error"]["exit_code"], error["error"]["kind"]) == (5, "not-found")
    assert "Type 'yes'" not in result.err  # never asked
    assert _count(data_dir, cid) == 2 and _resets(data_dir) == []


def test_other_roles_and_states_are_refused(
    cli: Any, data_dir: Any, people: Any, server: str
) -> None:
    cid = _spent(data_dir, people)
    argv = ("reset-budget", cid, "--reason", REASON, "--server", server)
    # An auditor may read the container, never reset it: refused by the server (audited).
    auditor = cli(*argv, "--yes", env=_env(people.auditor))
    assert auditor.code == 4, auditor
    assert "forbidden" in auditor.err
    refused = [e for e in h.audit_entries(data_dir.path) if e["action"] == "budget.reset"]
    assert [(e["actor"], e["outcome"]) for e in refused] == [("auditor", "refused")]
    # A reader cannot even look it up: refused before anything is asked.
    reader = cli(*argv, env=_env(people.reader), stdin=TtyInput("yes\n"))
    assert reader.code == 4 and "Type 'yes'" not in reader.err, reader
    assert _count(data_dir, cid) == 2
    # A suspended container is restored instead (that resets its count): not asked, exit 6.
    official = _env(people.official)
    suspended = cli("suspend", cid, "--reason", "check", "--server", server, env=official)
    assert suspended.code == 0, suspended
    conflict = cli(*argv, env=official, stdin=TtyInput("yes\n"))
    assert conflict.code == 6, conflict
    assert "restore it" in conflict.err and "Type 'yes'" not in conflict.err
    assert _count(data_dir, cid) == 2
