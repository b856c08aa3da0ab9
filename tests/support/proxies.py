"""A CONNECT proxy on a loopback socket, standing in for a city's proxy (tests/cli).

One accept loop for the two behaviours the tests need: tunnel every CONNECT to a port on
loopback (the live key server over TLS, end to end), or answer every CONNECT with a refusal
of the proxy's own (407, 403) and close. Either way it records the request heads it was
sent, so that a test can check what went to the proxy (its credentials) and what never did
(the token). Real sockets, one thread per connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

# What rwc reads, as requests and curl do: cleared before a test sets its own.
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@dataclass
class LoopbackProxy:
    """A CONNECT-only proxy: tunnels to ``target_port``, or answers ``refusal`` and closes.

    Give exactly one of the two. ``heads``: the CONNECT request heads, in order.
    """

    target_port: int | None = None
    refusal: bytes | None = None
    heads: list[bytes] = field(default_factory=list)
    sock: socket.socket = field(default_factory=socket.socket)

    def __post_init__(self) -> None:
        if (self.target_port is None) == (self.refusal is None):
            raise ValueError("a proxy either tunnels to a port or refuses")

    def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()  # ends the accept loop (OSError)

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        self.heads.append(head)
        if self.refusal is not None:
            with client:
                client.sendall(self.refusal)
            return
        assert self.target_port is not None
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


def clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy setting of the machine running the tests reaches rwc."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def proxy_in_env(
    proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch, credentials: str = ""
) -> Iterator[LoopbackProxy]:
    """``proxy`` started and named in HTTPS_PROXY (with ``credentials``, e.g. "u:p@")."""
    clear_proxy_env(monkeypatch)
    port = proxy.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://{credentials}127.0.0.1:{port}")
    try:
        yield proxy
    finally:
        proxy.close()
