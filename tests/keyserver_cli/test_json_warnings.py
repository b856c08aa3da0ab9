"""``keyserver --json`` speaks like ``rwc --json``: warnings as JSON, errors with ``warnings``.

spec §cli: with ``--json`` an error is ``{"ok": false, "error": {...}, "warnings": [...]}`` on
stderr, and a warning is one JSON line ``{"warnings": [...]}`` when it happens, in English
whatever the locale; ``serve``'s start-up warning too. Every line ``serve --json`` writes is
a JSON object: its notes, uvicorn's log and access log, the key server's logged warnings
and errors, with one worker or several (and a host committer).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from keyserver._cli.output import Output
from keyserver._domain.i18n import N_
from pycontainer.client.server_url import ServerUrlError, normalize_server_url
from tests.keyserver_cli.test_workers import committer_pids
from tests.support.keyserver_cli import KEYSERVER_BIN, TIMEOUT, Cli, clean_env, free_port
from tests.support.processes import stop

PLAIN_HTTP = (
    "serving plain HTTP on a non-loopback address; clients refuse http:// except to "
    "loopback - put a TLS proxy in front or pass --tls-cert/--tls-key"
)
# A host the clients' URL policy refuses over http:// (spec [F-URL]: it looks like a number
# but is not a dotted quad), so `serve` warns, while the test binds nothing outside this
# host: the resolver (inet_aton) reads it as 127.0.0.1.
HOST = "127.1"


def _json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _objects(text: str) -> list[dict[str, Any]]:
    """Every line of ``text``, each of which must be one JSON object."""
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(line, dict) for line in lines), text
    return lines


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),  # 127.0.0.0/8: rwc accepts http://127.0.0.2
        ("::1", False),
        ("localhost", False),
        ("LOCALHOST", False),
        ("0.0.0.0", True),  # every interface
        ("::", True),
        ("192.0.2.1", True),
        ("::ffff:127.0.0.1", True),  # rwc refuses http://[::ffff:127.0.0.1]
        ("127.1", True),  # rwc refuses a host that looks like a number
        ("keys.city.example", True),
    ],
)
def test_serve_warns_where_clients_refuse_plain_http(
    cli: Cli, tmp_path: Path, host: str, warned: bool
) -> None:
    # No database in the directory: `serve` says what it would serve, then stops before
    # binding (the warning comes first, so that it is seen even when the start fails).
    result = cli("serve", "--data-dir", tmp_path, "--host", host, "--json")
    assert result.code == 3, result
    lines = _json_lines(result.err)
    assert lines[-1]["error"]["message"].startswith("no key-server database at "), result
    assert ({"warnings": [PLAIN_HTTP]} in lines) == warned, result
    with pytest.raises(ServerUrlError) if warned else contextlib.nullcontext():
        literal = f"[{host}]" if ":" in host else host
        normalize_server_url(f"http://{literal}:8443")


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
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        assert proc.poll() is None, err.read_text()
    finally:
        code = stop(proc, timeout=TIMEOUT)
    assert code == 0, err.read_text()
    shown = err.read_text()
    lines = _objects(shown)
    # The warning is one JSON line in English, whatever KEYSERVER_LANG says ...
    assert [line for line in lines if "warnings" in line] == [{"warnings": [PLAIN_HTTP]}]
    assert "keyserver: " not in shown and "警告" not in shown
    # ... before uvicorn's log, each line of which is a JSON object too.
    assert lines[0] == {"warnings": [PLAIN_HTTP]}
    messages = [line.get("message", "") for line in lines[1:]]
    assert any(m.startswith("Started server process") for m in messages), shown
    assert any(m.startswith("Finished server process") for m in messages), shown
    assert {"level": "info", "logger": "uvicorn.error"}.items() <= lines[1].items()
    assert out.read_text() == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the host committer")
def test_serve_json_with_workers_writes_only_json_lines(data_dir: Any, tmp_path: Path) -> None:
    """``--workers 2`` with the host committer, the committer killed once: the ready note,
    uvicorn's lines of every worker, the access log and the supervisor's error about the
    committer are each one JSON object per line."""
    port = free_port()
    out, err = tmp_path / "out", tmp_path / "err"
    argv = [KEYSERVER_BIN, "serve", "--json", "--data-dir", data_dir.path, "--access-log"]
    argv += ["--port", str(port), "--workers", "2"]
    env = clean_env(KEYSERVER_HOST_COMMITTER="true")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not committer_pids(proc.pid) or not _healthy(port):
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        [first] = committer_pids(proc.pid)
        os.kill(first, signal.SIGKILL)
        while committer_pids(proc.pid) in ([], [first]):
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
    finally:
        code = stop(proc, timeout=TIMEOUT)
    assert code == 0, err.read_text()
    lines = _objects(err.read_text())
    # The note is said once the workers are started, so a worker's first log line may
    # come before it (spec §cli promises each line a JSON object, not their order).
    assert [line for line in lines if "note" in line] == [
        {
            "note": f"2 workers on http://127.0.0.1:{port}",
            "url": f"http://127.0.0.1:{port}",
            "workers": 2,
        }
    ]
    messages = [(line.get("logger"), line.get("message", "")) for line in lines]
    started = [m for m in messages if m[0] == "uvicorn.error" and "Started server" in m[1]]
    assert len(started) == 2  # one per worker
    said = [m for logger, m in messages if logger == "keyserver"]
    assert any(f"release committer (pid {first}) exited" in m for m in said), said
    access = _objects(out.read_text())
    assert access and all(line["logger"] == "uvicorn.access" for line in access)
    assert any("GET /healthz" in line["message"] for line in access)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


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
