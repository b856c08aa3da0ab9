"""The clerk's right password on the container's last attempt (spec/protocol.md §receipt).

Against the live key server on a loopback socket, `rwc cat` as the clerk: with an attempt
budget of N, N-1 wrong passwords and then the right one open the file (exit 0), the
container stays active and its history shows the budget's suspension and its lift by the
receipt; N wrong ones suspend it, and then the right one is refused as suspended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycontainer.cli import texts
from pycontainer.cli.exits import ExitCode
from tests.support.live import LiveServer
from tests.support.rwc_args import seal_args
from tests.support.rwc_run import Result, run_rwc

# A reader of its own: its wrong passwords count in its window (spec §receipt), which the
# other tests' clerk must not share.
WHO = "outsider"
READER = "intern@city.example"
BUDGET = 3
CONTENT = "id,name\n1,Tanaka\n"


def _seal(server: LiveServer, home: Path, tmp_path: Path, medium: str) -> tuple[Path, str]:
    src = tmp_path / "register.csv"
    src.write_text(CONTENT)
    out = tmp_path / "export.rwc"
    argv = seal_args(src, out, server.url, medium=medium, reader=READER)
    env = {"RWC_TOKEN": server.tokens["writer"], "RWC_PASSWORD": "correct horse"}
    r = run_rwc(home, "--json", *argv, "--attempt-budget", str(BUDGET), env=env)
    assert r.code == 0, r.err
    return out, str(r.json()["container_id"])


def _cat(server: LiveServer, home: Path, out: Path, password: str, lang: str) -> Result:
    env = {
        "RWC_TOKEN": server.tokens[WHO],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": password,
        "RWC_LANG": lang,
    }
    return run_rwc(home, "cat", str(out), "register.csv", env=env)


def _history(server: LiveServer, cid: str) -> list[dict[str, Any]]:
    entries = server.official_get("/v1/audit", container=cid)["entries"]
    assert isinstance(entries, list)
    return entries


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_right_password_on_the_last_attempt_opens_and_keeps_the_container(
    server: LiveServer, home: Path, tmp_path: Path, lang: str
) -> None:
    out, cid = _seal(server, home, tmp_path, f"USB-LAST-{lang}")
    for _ in range(BUDGET - 1):
        assert _cat(server, home, out, "wrong", lang).code == ExitCode.WRONG_PASSWORD
    r = _cat(server, home, out, "correct horse", lang)
    assert r.code == 0, r.err
    assert r.text == CONTENT
    # Calm words, in the clerk's language: opened; one more wrong password locks it.
    assert r.err == f"rwc: {texts.say('last_attempt_opened', lang)}\n"
    status = server.official_get(f"/v1/containers/{cid}")
    assert (status["state"], status["unconfirmed"]) == ("active", BUDGET - 1)
    changes = [
        (e["actor"], e["action"], e["details"].get("cause"))
        for e in _history(server, cid)
        if e["action"] in {"suspend", "restore"}
    ]
    assert changes == [("system", "suspend", "budget"), ("system", "restore", "budget")]
    # The wrong ones stay counted (only an official's restore resets them): each open with
    # the right password is the last attempt again, and opens; one more wrong one locks.
    again = _cat(server, home, out, "correct horse", lang)
    assert (again.code, again.err, again.text) == (0, r.err, CONTENT)
    assert _cat(server, home, out, "wrong", lang).code == ExitCode.WRONG_PASSWORD
    locked = _cat(server, home, out, "correct horse", lang)
    assert (locked.code, locked.out) == (ExitCode.SUSPENDED, b""), locked.err


def test_right_password_after_the_last_attempt_is_refused(
    server: LiveServer, home: Path, tmp_path: Path
) -> None:
    out, cid = _seal(server, home, tmp_path, "USB-LAST-OVER")
    for _ in range(BUDGET):
        assert _cat(server, home, out, "wrong", "en").code == ExitCode.WRONG_PASSWORD
    r = _cat(server, home, out, "correct horse", "en")
    assert r.code == ExitCode.SUSPENDED, r.err
    assert r.out == b""
    status = server.official_get(f"/v1/containers/{cid}")
    assert (status["state"], status["suspend_cause"]) == ("suspended", "budget")
    assert [e["action"] for e in _history(server, cid) if e["action"] == "restore"] == []
