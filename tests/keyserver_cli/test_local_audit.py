"""``keyserver audit`` in local mode: list, export, verify, and a truncated log found.

In-process, on SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def test_audit_list_export_verify(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, tmp_path: Path
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    dd = data_dir.path
    listed = cli("audit", "list", "--container", cid, "--json", "--data-dir", dd).json()
    assert [e["action"] for e in listed["entries"]] == ["register", "evaluate", "commit"]
    by_actor = cli("audit", "list", "--actor", "writer", "--json", "--data-dir", dd).json()
    assert {e["actor"] for e in by_actor["entries"]} == {"writer"}
    page = cli("audit", "list", "--limit", "2", "--json", "--data-dir", dd).json()
    assert page["next_after_seq"] == 2
    nxt = cli(
        "audit", "list", "--after-seq", "2", "--limit", "1", "--json", "--data-dir", dd
    ).json()
    assert nxt["entries"][0]["seq"] == 3
    assert "more: --after-seq 2" in cli("audit", "list", "--limit", "2", "--data-dir", dd).err
    assert cli("audit", "list", "--limit", "5000", "--data-dir", dd).code == 2

    out = tmp_path / "audit.jsonl"
    result = cli("audit", "export", "-o", out, "--data-dir", dd)
    assert result.code == 0, result
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert all(len(e["hash"]) == 64 for e in lines)
    assert f"wrote {len(lines)} audit entries" in result.err
    again = cli("audit", "export", "-o", out, "--data-dir", dd)
    assert again.code == 2 and "exists" in again.err
    assert not list(tmp_path.glob(".audit.jsonl.*"))
    stdout_export = cli("audit", "export", "--data-dir", dd)
    assert stdout_export.out == out.read_text()

    ok = cli("audit", "verify", "--data-dir", dd, "--json")
    assert ok.code == 0 and ok.json()["ok"] is True

    # Tamper with one entry the way a database thief without the master key could.
    with sqlite3.connect(dd / "keyserver.db") as db:
        db.execute("update audit_log set actor = 'nobody' where seq = 2")
    bad = cli("audit", "verify", "--data-dir", dd)
    assert bad.code == 1
    assert "keyserver: error: the audit chain does not verify" in bad.err
    assert "First entry that failed  2" in bad.out


def test_audit_verify_with_recorded_head_detects_truncation(
    cli: Any, h: ModuleType, data_dir: Any
) -> None:
    dd = data_dir.path
    h.add_principal(cli, data_dir, "p1", "reader")
    first = cli("audit", "verify", "--json", "--data-dir", dd).json()
    head = f"{first['head_seq']}:{first['head_hash']}"
    h.add_principal(cli, data_dir, "p2", "reader")
    assert cli("audit", "verify", "--expect-head", head, "--data-dir", dd).code == 0

    # Cut the tail and roll the head row back consistently: the chain alone still verifies.
    with sqlite3.connect(dd / "keyserver.db") as db:
        db.execute("delete from audit_log where seq > 1")
        db.execute(
            "update audit_head set seq = 1, hash = (select hash from audit_log where seq = 1)"
        )
    assert cli("audit", "verify", "--data-dir", dd).code == 0
    result = cli("audit", "verify", "--expect-head", head, "--json", "--data-dir", dd)
    assert result.code == 1
    assert result.json()["problem"] == "the recorded head is not in the chain (truncated?)"
    assert result.json()["first_bad_seq"] == first["head_seq"]

    wrong = f"1:{'00' * 32}"
    result = cli("audit", "verify", "--expect-head", wrong, "--json", "--data-dir", dd)
    assert result.code == 1 and "not in the chain" in result.json()["problem"]


@pytest.mark.parametrize(
    "bad",
    # The server's grammar (keyserver._domain.validation.parse_head): decimal ASCII seq >= 1,
    # exactly 64 hex digits. The command used to accept 1_0, +1, spaces and other digits.
    [
        "x",
        "0:" + "00" * 32,
        "1:abcd",
        "1_0:" + "00" * 32,
        "+1:" + "00" * 32,
        " 1:" + "00" * 32,
        "1:" + " ".join(["00"] * 32),
        "\u0663:" + "00" * 32,
    ],
)
def test_expect_head_grammar_is_the_servers(cli: Any, data_dir: Any, bad: str) -> None:
    result = cli("audit", "verify", "--expect-head", bad, "--data-dir", data_dir.path)
    assert result.code == 2, result
    assert "--expect-head" in result.err and "SEQ:HASH" in result.err
