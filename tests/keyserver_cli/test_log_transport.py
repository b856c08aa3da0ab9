"""The witness reads other servers' logs under the one transport policy (issue 9): the
trust store, no redirects, and a size limit on every answer, as `rwc` and `keyserver
--server` do. Before, it read whatever a log server sent, however large."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from keyserver._domain.transparency.note import SignerKey
from tests.support.keyserver_cli import Cli
from tests.support.servers import StubHTTPServer, serving

ORIGIN = "hostile.example/rwc"


class _Huge(BaseHTTPRequestHandler):
    """A log server that answers every request with 2 MiB (a real socket, no mock)."""

    def do_GET(self) -> None:
        body = b"x" * (2 << 20)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def huge_log() -> Iterator[str]:
    server = StubHTTPServer(("127.0.0.1", 0), _Huge)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_witness_refuses_an_answer_over_the_size_limit(
    cli: Cli, huge_log: str, tmp_path: Path
) -> None:
    state = tmp_path / "witness"
    made = cli("witness", "init", "--state-dir", state, "--name", "pref.example/witness")
    assert made.code == 0, made
    log_key = SignerKey.generate(ORIGIN).verifier().encode()
    added = cli("witness", "add-log", "--state-dir", state, "--url", huge_log, "--log-key", log_key)
    assert added.code == 0, added
    ran = cli("witness", "run", "--state-dir", state)
    assert ran.code == 7, ran  # unavailable: the log's answer is refused, nothing cosigned
    assert "answer is too large" in ran.err
    assert not (state / "state").exists()
