"""``keyserver --json`` speaks like ``rwc --json``: warnings as JSON, errors with ``warnings``.

spec §cli: with ``--json`` an error is ``{"ok": false, "error": {...}, "warnings": [...]}`` on
stderr, and a warning is one JSON line ``{"warnings": [...]}`` when it happens, in English
whatever the locale; ``serve``'s start-up warning too, between uvicorn's own log lines.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from keyserver.cli.output import Output
from keyserver.domain.i18n import N_
from tests.support.keyserver_cli import KEYSERVER_BIN, TIMEOUT, clean_env, free_port

PLAIN_HTTP = (
    "serving plain HTTP on a non-loopback address; clients refuse http:// except to "
    "loopback - put a TLS proxy in front or pass --tls-cert/--tls-key"
)
# A loopback address that is not 127.0.0.1: `serve` warns as for any other address (it
# checks the name given, not the route), while the test binds nothing outside this host.
HOST = "127.0.0.2"


def _json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_serve_json_warns_in_json_lines(data_dir: Any, tmp_path: Path, lang: str) -> None:
    port = free_port()
    out, err = tmp_path / "out", tmp_path / "err"
    argv = [KEYSERVER_BIN, "serve", "--json", "--data-dir", data_dir.path]
    argv += ["--host", HOST, "--port", str(port)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            env=clean_env(KEYSERVER_LANG=lang),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(f"http://{HOST}:{port}/healthz", timeout=2).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        assert proc.poll() is None, err.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = err.read_text()
    # The warning is one JSON line in English, whatever KEYSERVER_LANG says ...
    assert _json_lines(shown) == [{"warnings": [PLAIN_HTTP]}], shown
    assert "keyserver: " not in shown and "警告" not in shown
    # ... before uvicorn's log, which stays as uvicorn writes it.
    lines = shown.splitlines()
    assert lines[0].startswith("{")
    assert any("Started server process" in line for line in lines[1:]), shown
    assert any("Finished server process" in line for line in lines), shown
    assert out.read_text() == ""


def test_warnings_for_people_in_their_language() -> None:
    for lang, prefix in (("en", "keyserver: warning: "), ("ja", "keyserver: 警告: ")):
        stderr = io.StringIO()
        Output(io.StringIO(), stderr, as_json=False, lang=lang).warn(N_(PLAIN_HTTP))
        assert stderr.getvalue().startswith(prefix)
        assert ("平文" in stderr.getvalue()) == (lang == "ja")


def test_json_error_carries_the_warnings_so_far() -> None:
    stderr = io.StringIO()
    out = Output(io.StringIO(), stderr, as_json=True, lang="ja")
    out.error(N_("interrupted"), exit_code=130)
    out.warn(N_(PLAIN_HTTP))
    out.error(N_("interrupted"), exit_code=130)
    first, warning, second = _json_lines(stderr.getvalue())
    assert first == {
        "ok": False,
        "error": {"exit_code": 130, "kind": "interrupted", "message": "interrupted", "hint": None},
        "warnings": [],
    }
    assert warning == {"warnings": [PLAIN_HTTP]}
    assert second == {**first, "warnings": [PLAIN_HTTP]}
