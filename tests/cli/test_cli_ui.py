"""Output policy: progress only on a terminal, receipts that fail are warnings."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pycontainer.cli.exits import ExitCode, exit_code_for
from pycontainer.cli.main import run
from pycontainer.cli.read import _send_receipt
from pycontainer.cli.ui import Ui
from pycontainer.client.keyserver import KeyServerClient, Policy
from pycontainer.errors import (
    HeaderAuthError,
    KeyServerRevokedError,
    PayloadError,
    UnsafePathError,
    WrongPasswordError,
)
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import SlotInfo
from pycontainer.reader import open_container
from pycontainer.writer import seal_paths


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    quiet = Ui(stdout=io.StringIO(), stderr=io.StringIO())
    with quiet.progress("sealing") as cb:
        assert cb is None
    tty = Tty()
    ui = Ui(stdout=io.StringIO(), stderr=tty)
    with ui.progress("sealing") as cb:
        assert cb is not None
        cb(512, 1024)
        cb(1024, 1024)
    as_json = Ui(stdout=io.StringIO(), stderr=Tty(), json_mode=True)
    with as_json.progress("sealing") as cb:
        assert cb is None


def test_exit_code_table() -> None:
    assert exit_code_for(UnsafePathError("x")) == ExitCode.CORRUPT
    assert exit_code_for(HeaderAuthError("x")) == ExitCode.CORRUPT
    assert exit_code_for(PayloadError()) == ExitCode.CORRUPT
    assert exit_code_for(WrongPasswordError("x")) == ExitCode.WRONG_PASSWORD
    assert exit_code_for(KeyServerRevokedError("x")) == ExitCode.REVOKED
    assert exit_code_for(ValueError("x")) == ExitCode.ERROR


def test_failed_receipt_is_a_warning(server: Any, tmp_path: Path, closed_port: int) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hello")
    writer = KeyServerClient(server.url, server.tokens["writer"], retries=0)
    reg = writer.register(Policy(readers=("clerk@city.example",), label="l", medium="m"))
    slot = SlotInfo(server.url, reg.container_id, reg.public_key)
    out = tmp_path / "c.rwc"
    fast = Argon2Params(m=8192, t=1, p=1)
    res = seal_paths([src], out, slot=slot, key_server=writer, password="pw", argon2=fast)
    writer.commit(res.container_id, res.header_digest, res.receipt_key)

    reader = KeyServerClient(server.url, server.tokens["reader"], retries=0)
    gone = KeyServerClient(f"http://127.0.0.1:{closed_port}", "rwc_" + "A" * 43, retries=0)
    stdout, stderr = io.StringIO(), io.StringIO()
    ui = Ui(stdout=stdout, stderr=stderr)
    with open_container(out, key_server=reader, password="pw") as c:
        challenge = c.evaluation.challenge
        assert challenge is not None
        mac = c.receipt_mac()
        assert _send_receipt(gone, ui, c.container_id, challenge, mac)() == "failed"
        assert _send_receipt(reader, ui, c.container_id, challenge, mac)() == "sent"
    assert stderr.getvalue().startswith("rwc: warning: could not confirm")
    ui.json_mode = True
    ui.result("ls", {}, None)
    assert json.loads(stdout.getvalue())["warnings"][0].startswith("could not confirm")


def test_listing_survives_extreme_mtimes() -> None:
    from pycontainer.cli.read import _entry_json, _entry_line  # noqa: PLC0415
    from pycontainer.format.archive import Entry  # noqa: PLC0415

    e = Entry("far.txt", 1, 0o644, 2**62, 0, 3)
    assert _entry_json(e)["mtime"] == f"@{2**62}"
    assert _entry_line(e, long=True).endswith("far.txt")
    ok = Entry("a.txt", 1, 0o640, 0, 0, 3)
    assert _entry_json(ok)["mtime"] == "1970-01-01T00:00:00+00:00"
    assert _entry_line(ok, long=True).startswith("-rw-r-----")


def test_main_entry_point_returns_exit_codes(capsys: Any) -> None:
    from pycontainer.cli.main import main  # noqa: PLC0415

    assert main(["--help"]) == 0
    assert "exit codes:" in capsys.readouterr().out
    assert main(["info", "/nonexistent/c.rwc"]) == ExitCode.USAGE
    assert capsys.readouterr().err.startswith("rwc: error: ")


def test_result_with_a_non_utf8_file_name_is_printed_escaped() -> None:
    # "\udcff" is how Python keeps the byte 0xff of a POSIX file name that is not UTF-8.
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    ui = Ui(stdout=out, stderr=io.StringIO())
    ui.result("seal", {"output": "\udcff.rwc"}, "sealed 1 entry into \udcff.rwc")
    ui.data("container:    \udcff.rwc")
    assert raw.getvalue() == b"sealed 1 entry into \\udcff.rwc\ncontainer:    \\udcff.rwc\n"
    ui.json_mode = True
    ui.result("seal", {"output": "\udcff.rwc"}, None)
    # JSON escapes the surrogate (\\udcff), which a JSON reader turns back into it.
    assert json.loads(raw.getvalue().splitlines()[-1])["output"] == "\udcff.rwc"


def test_login_token_stdin_that_is_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"rwc_\xff\xfe\n")))
    err = io.StringIO()
    code = run(
        ["login", "https://keys.city.example", "--token-stdin"],
        env={"XDG_CONFIG_HOME": str(tmp_path)},
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == ExitCode.ERROR
    assert err.getvalue().startswith("rwc: error: that is not a valid token\nrwc: hint: ")
    assert not (tmp_path / "rwc" / "tokens.json").exists()
