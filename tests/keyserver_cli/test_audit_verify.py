"""``keyserver audit verify``: incremental from a kept head, and in pages over ``--server``.

spec §audit: an operator keeps the last verified head (``--state FILE``, or ``--from-head``
by hand) and the next run checks only what follows it; remotely the chain is verified in
pages, each a short request continuing from the head the previous page returned.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyserver._cli import audit as cli_audit


def _as(h: ModuleType, token: str) -> dict[str, str]:
    return dict(h.clean_env(KEYSERVER_TOKEN=token))


def test_state_file_makes_the_next_run_incremental(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, tmp_path: Path
) -> None:
    dd = data_dir.path
    state = tmp_path / "audit-head"
    first = cli("audit", "verify", "--state", state, "--json", "--data-dir", dd)
    assert first.code == 0, first
    doc = first.json()
    assert doc["from_seq"] == 0 and doc["entries"] == doc["head_seq"] > 0
    assert state.read_text() == f"{doc['head_seq']}:{doc['head_hash']}\n"
    assert state.stat().st_mode & 0o777 == 0o600

    h.make_container(data_dir.settings(), people.writer)  # three more entries
    second = cli("audit", "verify", "--state", state, "--data-dir", dd)
    assert second.code == 0, second
    kept = state.read_text().strip()
    seq = int(kept.split(":")[0])
    assert seq == doc["head_seq"] + 3
    assert f"verified head kept in {state}: {kept}" in second.err
    again = cli("audit", "verify", "--state", state, "--json", "--data-dir", dd).json()
    assert again["from_seq"] == seq and again["entries"] == 0 and again["ok"] is True

    # An entry after the kept head is edited: caught, and the state file keeps its head.
    h.make_container(data_dir.settings(), people.writer)
    with sqlite3.connect(dd / "keyserver.db") as db:
        db.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = ?", (seq + 2,))
    bad = cli("audit", "verify", "--state", state, "--json", "--data-dir", dd)
    assert bad.code == 1
    assert bad.json()["first_bad_seq"] == seq + 2
    assert state.read_text().strip() == kept

    # Without the kept head, --from-head names it; a head not in the chain is refused.
    frm = cli("audit", "verify", "--from-head", kept, "--json", "--data-dir", dd)
    assert frm.code == 1 and frm.json()["first_bad_seq"] == seq + 2
    wrong = kept[:-1] + ("0" if kept[-1] != "0" else "1")
    frm = cli("audit", "verify", "--from-head", wrong, "--json", "--data-dir", dd)
    assert frm.code == 1
    assert frm.json()["problem"] == "the verified head to resume from is not in the chain"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from-head", "1:00", "--state", "x"], "--from-head and --state"),
        (["--from-head", "0:" + "0" * 64], "is not SEQ:HASH"),
        (["--state", "GARBAGE"], "does not hold SEQ:HASH"),
    ],
)
def test_bad_start_is_a_usage_error(
    cli: Any, data_dir: Any, tmp_path: Path, argv: list[str], message: str
) -> None:
    if "GARBAGE" in argv:
        garbage = tmp_path / "state"
        garbage.write_text("not a head\n")
        argv = ["--state", str(garbage)]
    result = cli("audit", "verify", *argv, "--data-dir", data_dir.path)
    assert result.code == 2, result
    assert message in result.err


def test_remote_verify_in_pages(
    cli: Any,
    h: ModuleType,
    data_dir: Any,
    people: Any,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pages of 4 entries: the same loop that verifies a million entries in pages of 50,000.
    monkeypatch.setattr(cli_audit, "REMOTE_PAGE", 4)
    for _ in range(3):
        h.make_container(data_dir.settings(), people.writer)
    aud = _as(h, people.auditor)
    whole = cli("audit", "verify", "--json", "--server", server, env=aud)
    assert whole.code == 0, whole
    doc = whole.json()
    local = cli("audit", "verify", "--json", "--data-dir", data_dir.path).json()
    assert doc["complete"] is True and doc["from_seq"] == 0
    # The local run happened after the remote one (and appended nothing).
    assert (doc["entries"], doc["head_seq"], doc["head_hash"]) == (
        local["entries"],
        local["head_seq"],
        local["head_hash"],
    )
    assert doc["entries"] > 3 * 4

    middle = 5
    with sqlite3.connect(data_dir.path / "keyserver.db") as db:
        row = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (middle,)).fetchone()
    start = f"{middle}:{bytes(row[0]).hex()}"
    rest = cli("audit", "verify", "--from-head", start, "--json", "--server", server, env=aud)
    assert rest.code == 0, rest
    assert rest.json()["from_seq"] == middle
    assert rest.json()["entries"] == doc["head_seq"] - middle

    with sqlite3.connect(data_dir.path / "keyserver.db") as db:
        db.execute("UPDATE audit_log SET remote = 'elsewhere' WHERE seq = 11")
    bad = cli("audit", "verify", "--json", "--server", server, env=aud)
    assert bad.code == 1
    assert bad.json()["first_bad_seq"] == 11 and bad.json()["entries"] == 10
