"""rwc's HTTP/1.1 client (pycontainer/client/http11.py, connection.py) against scripted servers.

Each server is a real socket on loopback that reads the client's requests (parsed by
httptools' request parser, so the test does not parse HTTP by hand either) and answers with
bytes written out here: framings the key server never uses (chunked with a trailer, a body
up to the close), broken status lines, answers over the limits, a proxy refusing CONNECT.
It records every request's bytes and how many connections it accepted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httptools
import pytest

from pycontainer.client.connection import (
    ConnectFailedError,
    Connection,
    ExchangeFailedError,
)
from pycontainer.client.http11 import MAX_HEADERS, format_request, host_header
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.errors import KeyServerProtocolError, KeyServerUnavailableError
from pycontainer.format.url import parse_server_url

TOKEN = "rwc_" + "A" * 43
LIMIT = 1 << 20
JSON = b'{"name": "clerk@city.example", "roles": [], "groups": []}'


def ok(body: bytes = JSON, *extra: bytes) -> bytes:
    """A 200 answer with Content-Length (and ``extra`` header lines)."""
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Request:
    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


class Scripted:
    """A loopback server that answers the n-th request with ``answers[n]``, as bytes.

    An answer ``(data, close)`` closes the connection after ``data`` when ``close`` is set.
    """

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.connections += 1
                with conn:
                    self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while self.answers:
                raw, request = b"", _Request()
                parser = httptools.HttpRequestParser(request)
                while not request.done:
                    data = conn.recv(65536)
                    if not data:
                        return
                    raw += data
                    try:
                        parser.feed_data(data)
                    except httptools.HttpParserUpgrade:  # CONNECT: the request ends there
                        request.done = True
                self.requests.append(raw)
                answer, close = self.answers.pop(0)
                conn.sendall(answer)
                if close:
                    conn.shutdown(socket.SHUT_RDWR)
                    return
            conn.recv(1)  # nothing more to say: wait for the client to go

    def connection(self, *, read_timeout: float = 5.0) -> Connection:
        return Connection(
            parse_server_url(f"http://127.0.0.1:{self.port}"),
            trust_store=None,
            connect_timeout=5.0,
            read_timeout=read_timeout,
            max_response_bytes=LIMIT,
        )


@pytest.fixture
def scripted() -> Iterator[list[Scripted]]:
    made: list[Scripted] = []
    yield made
    for s in made:
        s.sock.close()


def serve(made: list[Scripted], *answers: tuple[bytes, bool]) -> Scripted:
    s = Scripted(list(answers))
    made.append(s)
    return s


def get(conn: Connection) -> Any:
    return conn.exchange("GET", "/v1/whoami", None, {"Accept": "application/json"})


def test_request_is_formatted_strictly(scripted: list[Scripted]) -> None:
    s = serve(scripted, (ok(), False), (ok(), False))
    conn = s.connection()
    conn.exchange("POST", "/v1/x", b'{"a": 1}', {"Content-Type": "application/json"})
    conn.exchange("POST", "/v1/y", None, {})
    conn.close()
    assert s.requests == [
        b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b'Content-Length: 8\r\n\r\n{"a": 1}' % s.port,
        b"POST /v1/y HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n" % s.port,
    ]
    assert s.connections == 1  # kept alive


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/whoami", {"Accept-Language": "ja\r\nX-Evil: 1"}),
        ("GET", "/v1/whoami", {"Accept": "a\nb"}),
        ("GET", "/v1/whoami", {"Accept": "a\x00b"}),
        ("GET", "/v1/whoami", {"Accept": " padded"}),
        ("GET", "/v1/whoami", {"X-Evil\r\nA": "1"}),
        ("GET", "/v1/whoami", {"X Evil": "1"}),
        ("GET", "/v1/whoami", {"Host": "evil.example"}),
        ("GET", "/v1/whoami", {"Transfer-Encoding": "chunked"}),
        ("GET", "/v1/whoami", {"content-length": "0"}),
        ("GET", "/v1/who ami", {}),
        ("GET", "/v1/whoami\r\nX-Evil: 1", {}),
        ("GET", "/v1/wh\u00f6ami", {}),
        ("GET\r\n", "/v1/whoami", {}),
    ],
)
def test_header_injection_refused_before_anything_is_sent(
    scripted: list[Scripted], method: str, path: str, headers: dict[str, str]
) -> None:
    s = serve(scripted, (ok(), False))
    conn = s.connection()
    with pytest.raises(
        ValueError, match=r"cannot have|not a token|not an upper-case|set by the HTTP client"
    ):
        conn.exchange(method, path, None, headers)
    conn.close()
    assert s.connections == 0 and s.requests == []


def test_host_header_port_rules() -> None:
    # RFC 9112 §3.2: the port only when it is not the scheme's; IPv6 literals in brackets.
    assert host_header("keys.city.example", None, 443) == "keys.city.example"
    assert host_header("keys.city.example", 443, 443) == "keys.city.example"
    assert host_header("keys.city.example", 8443, 443) == "keys.city.example:8443"
    assert host_header("::1", 8080, 80) == "[::1]:8080"
    assert host_header("::1", None, 80) == "[::1]"
    assert format_request("GET", "/", host_header("::1", 80, 80), {}, None) == (
        b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"
    )


def test_chunked_answer_with_trailer(scripted: list[Scripted]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n5;ext=1\r\n" + JSON[:5] + b"\r\n%x\r\n" % (len(JSON) - 5) + JSON[5:] + b"\r\n"
        b"0\r\nContent-Type: text/html\r\n\r\n"
    )
    s = serve(scripted, (chunked, False), (ok(), False))
    conn = s.connection()
    answer = get(conn)
    # The trailer's field is not the answer's (a trailer cannot change the media type).
    assert (answer.status, answer.content_type, answer.body) == (200, "application/json", JSON)
    assert get(conn).body == JSON
    conn.close()
    assert s.connections == 1  # read to its end: the connection was reused


def test_body_to_the_close_and_connection_close(scripted: list[Scripted]) -> None:
    unframed = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON
    s = serve(scripted, (unframed, True), (ok(JSON, b"Connection: close"), False), (ok(), False))
    conn = s.connection()
    assert get(conn).body == JSON  # RFC 9112 §6.3: the body runs to the close
    assert get(conn).body == JSON
    assert get(conn).body == JSON
    conn.close()
    assert s.connections == 3  # neither answer let the connection be reused


def test_interim_answers_are_skipped(scripted: list[Scripted]) -> None:
    s = serve(
        scripted, (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n" + ok(), False)
    )
    conn = s.connection()
    answer = get(conn)
    assert (answer.status, answer.body) == (200, JSON)
    conn.close()


def test_bytes_after_the_answer_make_the_connection_unusable(scripted: list[Scripted]) -> None:
    s = serve(
        scripted, (ok() + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False), (ok(), False)
    )
    conn = s.connection()
    assert get(conn).body == JSON
    assert get(conn).body == JSON
    conn.close()
    assert s.connections == 2


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 2x0 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/2.0 200 OK",
        b"ICY 200 OK",
        b"HTTP/1.1 200 OK\nContent-Length: 0",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1",
        b"HTTP/1.1 200 OK\r\nBad Header: 1",
    ],
)
def test_malformed_answer_is_a_lost_exchange(scripted: list[Scripted], status_line: bytes) -> None:
    s = serve(scripted, (status_line + b"\r\n\r\n{}", True))
    conn = s.connection()
    with pytest.raises(ExchangeFailedError, match="connection lost"):
        get(conn)
    # Through the client: the same words as any lost exchange (GET: retried, here 0 times).
    s = serve(scripted, (status_line + b"\r\n\r\n{}", True))
    with (
        KeyServerClient(f"http://127.0.0.1:{s.port}", TOKEN, retries=0) as c,
        pytest.raises(KeyServerUnavailableError, match="connection lost"),
    ):
        c.whoami()


def test_answer_cut_off_is_a_lost_exchange(scripted: list[Scripted]) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}"
    chunked_cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}"
    for answer in (cut, chunked_cut, b"HTTP/1.1 200 OK\r\nContent-"):
        s = serve(scripted, (answer, True))
        with pytest.raises(ExchangeFailedError, match="connection lost"):
            get(s.connection())


def test_declared_oversize_refused_without_reading_it(scripted: list[Scripted]) -> None:
    # 10 MiB declared, 2 bytes sent, then the server waits: refused on the declaration (a
    # client that read on would time out instead).
    s = serve(scripted, (b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n{}", False))
    with pytest.raises(KeyServerProtocolError, match="too large"):
        get(s.connection(read_timeout=30))


def test_chunked_oversize_refused(scripted: list[Scripted]) -> None:
    piece = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + piece * 17
    s = serve(scripted, (endless, False))
    with pytest.raises(KeyServerProtocolError, match="too large"):
        get(s.connection())


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024),
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * MAX_HEADERS + b"Content-Length: 0",
        b"HTTP/1.1 200 " + b"O" * (70 * 1024),
        b"HTTP/1.1 100 Continue\r\n\r\n" * 3000 + b"HTTP/1.1 200 OK\r\nContent-Length: 0",
    ],
)
def test_head_over_the_limits_refused(scripted: list[Scripted], head: bytes) -> None:
    s = serve(scripted, (head + b"\r\n\r\n", False))
    with pytest.raises(KeyServerProtocolError, match="too large"):
        get(s.connection())


def test_head_at_the_field_limit_accepted(scripted: list[Scripted]) -> None:
    fields = [b"X-Many: 1"] * (MAX_HEADERS - 2)
    s = serve(scripted, (ok(JSON, *fields), False))
    assert get(s.connection()).body == JSON


@pytest.mark.parametrize(
    ("proxy_answer", "why", "transient"),
    [
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            "the proxy asks for a user name and password",
            False,
        ),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", "the proxy refused the connection", False),
        (b"HTTP/1.1 502 Bad Gateway\r\n\r\n", "connection failed", True),
        (
            b"HTTP/1.1 200 Connection established\r\n\r\nnot a TLS server hello",
            "connection failed",
            True,
        ),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "connection failed", True),
    ],
)
def test_proxy_refusal_is_a_failed_connect(
    scripted: list[Scripted],
    tls_files: Any,
    proxy_answer: bytes,
    why: str,
    transient: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing reached the key server: ConnectFailedError, which the client retries unless
    # it is the proxy's refusal (tests/cli/test_proxy_refusals.py: what the clerk reads).
    proxy = serve(scripted, (proxy_answer, False))
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    conn = Connection(
        parse_server_url("https://keys.city.example:8443"),
        trust_store=str(Path(tls_files.ca_cert)),
        connect_timeout=5.0,
        read_timeout=5.0,
        max_response_bytes=LIMIT,
    )
    with pytest.raises(ConnectFailedError, match=why) as info:
        get(conn)
    assert info.value.transient is transient
    assert proxy.requests == [
        b"CONNECT keys.city.example:8443 HTTP/1.1\r\nHost: keys.city.example:8443\r\n\r\n"
    ]


def test_a_request_sent_is_answered_before_the_next_is_sent(scripted: list[Scripted]) -> None:
    """send() and answer() (the receipt's two halves): one answer read per request, in order."""
    s = serve(scripted, (ok(b'{"n": 1}'), False), (ok(b'{"n": 2}'), False))
    conn = s.connection()
    conn.send("POST", "/v1/x", None, {})
    with pytest.raises(RuntimeError, match="was not read"):
        conn.send("POST", "/v1/y", None, {})  # its answer would be taken for the first's
    assert conn.answer().body == b'{"n": 1}'
    with pytest.raises(RuntimeError, match="no request waits"):
        conn.answer()
    assert get(conn).body == b'{"n": 2}'
    conn.close()
    assert [r.split(b" ", 2)[1] for r in s.requests] == [b"/v1/x", b"/v1/whoami"]
    assert s.connections == 1
