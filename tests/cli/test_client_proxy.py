"""rwc reaches a remote key server through the environment's proxy (CONNECT, TLS end to end).

A small CONNECT proxy on loopback stands in for a city's proxy; the key server behind it is
the live test server over TLS, named ``keys.city.example`` (the test certificate carries
the name). Real sockets, real TLS; the proxy records what it was asked.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pycontainer.client.connection import ConnectFailedError, proxy_for
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.errors import KeyServerUnavailableError
from tests.support.tls import REMOTE_NAME

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@dataclass
class ConnectProxy:
    """A CONNECT-only proxy that sends every tunnel to ``target_port`` on loopback."""

    target_port: int
    requests: list[bytes] = field(default_factory=list)
    sock: socket.socket = field(default_factory=socket.socket)

    def start(self) -> int:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        self.requests.append(head)
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy(tls_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    p = ConnectProxy(tls_port)
    port = p.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://city:s%40cret@127.0.0.1:{port}")
    yield p
    p.sock.close()


def test_remote_server_through_the_proxy(server: Any, tls_files: Any, proxy: ConnectProxy) -> None:
    url = f"https://{REMOTE_NAME}:{proxy.target_port}"
    token = server.tokens["reader"]
    with KeyServerClient(url, token, ca_bundle=str(tls_files.ca_cert), retries=0) as c:
        assert c.whoami().name == "clerk@city.example"
        assert c.whoami().name == "clerk@city.example"  # the same tunnel, kept alive
    assert len(proxy.requests) == 1
    head = proxy.requests[0].decode()
    assert head.startswith(f"CONNECT {REMOTE_NAME}:{proxy.target_port} HTTP/1.")
    # The proxy's credentials go to the proxy; the token never does (TLS end to end).
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'city:s@cret').decode()}" in head
    assert token not in head and "Authorization: Bearer" not in head


def test_no_proxy_names_the_server(
    tls_files: Any, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NO_PROXY: a direct connection, which cannot resolve the made-up name.
    monkeypatch.setenv("NO_PROXY", f".city.example,{REMOTE_NAME}")
    url = f"https://{REMOTE_NAME}:{proxy.target_port}"
    with (
        KeyServerClient(url, "rwc_" + "A" * 43, ca_bundle=str(tls_files.ca_cert), retries=0) as c,
        pytest.raises(KeyServerUnavailableError, match="connection failed"),
    ):
        c.whoami()
    assert proxy.requests == []


def test_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    assert proxy_for(REMOTE_NAME) is None
    monkeypatch.setenv("ALL_PROXY", "http://proxy.city.example:3128")
    found = proxy_for(REMOTE_NAME)
    assert found is not None and (found.host, found.port, found.headers) == (
        "proxy.city.example",
        3128,
        {},
    )
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.city.example:1080")
    with pytest.raises(ConnectFailedError, match="not supported"):
        proxy_for(REMOTE_NAME)
