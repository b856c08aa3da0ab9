"""The tests' own HTTP servers are quiet when a client hangs up, and only then.

The merge train's green runs ended with "Exception occurred during processing of request
from ('127.0.0.1', ...)", a traceback and dashes: a stub server of a size-limit test
(tests/keyserver_cli) printed socketserver's report when the client, as meant, closed the
connection on a 2 MiB answer. tests/support/servers.py StubHTTPServer keeps that quiet and
still prints any other error of a handler. Real sockets; the output is what the server
thread wrote to the process's stderr.
"""

from __future__ import annotations

import http.server
import socket
import struct
import sys
import threading
from typing import Any

import pytest

from tests.support.servers import StubHTTPServer, serving

REPORT = "Exception occurred during processing of request"


class _Answers(http.server.BaseHTTPRequestHandler):
    """GET /big: 8 MiB the client will not read; GET /bug: a handler's own error."""

    def do_GET(self) -> None:
        if self.path == "/bug":
            raise ValueError("a bug in the test's handler")
        body = b"x" * (8 << 20)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class _Recorded(StubHTTPServer):
    """StubHTTPServer that says when a handler's error was dealt with (printed or not)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answers)
        self.errors: list[BaseException] = []
        self.handled = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        assert error is not None
        self.errors.append(error)
        super().handle_error(request, client_address)
        self.handled.set()


def _request(port: int, path: str, *, hang_up: bool) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        if hang_up:
            sock.recv(1)  # the answer has started: the server is writing
            # Closed with a reset (linger 0), with unread bytes: the server's next write
            # fails as a client gone does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.recv(1 << 16)  # until the server closes on its error


@pytest.mark.parametrize(
    ("path", "hang_up", "printed"), [("/big", True, False), ("/bug", False, True)]
)
def test_only_a_client_gone_is_quiet(
    capfd: pytest.CaptureFixture[str], path: str, hang_up: bool, printed: bool
) -> None:
    server = _Recorded()
    with serving(server):
        _request(server.server_address[1], path, hang_up=hang_up)
        assert server.handled.wait(10), "the handler's error never reached handle_error"
    err = capfd.readouterr().err
    assert len(server.errors) == 1, server.errors
    if printed:
        assert isinstance(server.errors[0], ValueError)
        assert REPORT in err and "a bug in the test's handler" in err, err
    else:
        assert isinstance(server.errors[0], (BrokenPipeError, ConnectionResetError)), server.errors
        assert REPORT not in err and "Traceback" not in err, err
