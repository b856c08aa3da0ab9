"""The tables an official reads after a loss, in Japanese, with no English left (issue 12, ops10).

Run as an official would (KEYSERVER_LANG=ja): ``status CONTAINER``, ``report-loss``,
``report``, ``audit list``, ``audit verify``, ``whoami``. Before, the status showed
``pending_expires_at``, ``last_confirmed_at``, ``public_key``, ``header_digest`` and
``last_audit_seq`` as the protocol names them, the loss report ``told_at``, a yes/no as
``yes``, the report's and the audit log's actions and outcomes as ``evaluate``, ``suspend``
and ``ok``, and the titles in English. In both languages an action keeps, after its words,
the word ``audit list --action`` takes (cli48: the console's words, "Succeeded" for ``ok``).
"""

from __future__ import annotations

from typing import Any

import pytest

from keyserver._cli.labels import FIELDS
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, People


def _world(cli: Any, data_dir: DataDir, people: People) -> tuple[str, list[str]]:
    """A container released once to its reader, its medium reported lost."""
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="USB-JA", attempt_budget=3)
    h.reader_evaluates(settings, people.reader, cid)
    where = ["--data-dir", str(data_dir.path)]
    lost = cli("report-loss", "--medium", "USB-JA", "--reason", "lost", *where)
    assert lost.code == 0, lost
    return cid, where


def _labels(out: str) -> list[str]:
    """The first column of a two-column record (the field names as shown)."""
    return [line.split("  ")[0].strip() for line in out.splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_what_an_official_reads_is_in_their_language(
    cli: Any, data_dir: DataDir, people: People, language: str
) -> None:
    cid, where = _world(cli, data_dir, people)
    env = h.clean_env(KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")

    def run(*argv: str) -> str:
        result = cli(*argv, *where, env=env)
        assert result.code == 0, result
        return str(result.out)

    status = run("status", cid)
    documents = [
        cli("status", cid, "--json", *where).json(),
        cli("audit", "verify", "--json", *where).json(),
        cli("whoami", "--json", *where).json(),
    ]
    shown = _labels(status) + _labels(run("audit", "verify")) + _labels(run("whoami"))
    said = [run("report-loss", "--medium", "USB-JA", "--reason", "again")]
    keys = {key for doc in documents for key in doc}
    assert keys <= set(FIELDS), keys - set(FIELDS)  # every member has its name for people
    audit = run("audit", "list", "--container", cid)
    report = run("report", "--medium", "USB-JA")
    # No protocol name left, in English too (issue 12, console45: "pending_expires_at",
    # "last_audit_seq", "head_seq" were left in English).
    assert not [k for k in keys if k in shown], shown
    if language == "en":
        assert "Pending until" in shown and "Last change's audit entry" in shown
        assert "yes" in status.split("Password required")[1].splitlines()[0]
        assert "Key requested (evaluate)" in audit and "│ Succeeded " in audit
        assert "audit entries" in audit
        assert "suspend" in report
        assert "told_at" not in said[0] and "Time of loss as told" in said[0]
        return
    assert "told_at" not in said[0] and "連絡された紛失時刻" in said[0]
    assert "はい" in status and " yes " not in status
    assert "鍵の要求 (evaluate)" in audit and "成功" in audit
    assert "│ ok " not in audit and "│ evaluate " not in audit
    assert "停止 (suspend)" in report and "監査ログ" in audit and "audit entries" not in audit
    assert "コンテナ" in status.splitlines()[0] and "container" not in status.splitlines()[0]
