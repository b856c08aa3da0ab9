"""Transport rules of the client over real sockets: TLS, http:// refusal, unreachable, retries."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pycontainer.client.keyserver import KeyServerClient
from pycontainer.client.server_url import ServerUrlError
from pycontainer.errors import ContainerError, KeyServerUnavailableError
from pycontainer.keyrelease import SlotInfo

TOKEN = "rwc_" + "A" * 43


def test_tls_accepted_only_with_the_city_ca(server: Any, tls_files: Any, tls_port: int) -> None:
    url = f"https://localhost:{tls_port}"
    token = server.tokens["reader"]
    with KeyServerClient(url, token, ca_bundle=str(tls_files.ca_cert), retries=0) as c:
        assert c.whoami().name == "clerk@city.example"
    # Without the bundle: the system store does not know the test CA.
    with (
        KeyServerClient(url, TOKEN, retries=0) as c,
        pytest.raises(KeyServerUnavailableError) as info,
    ):
        c.whoami()
    assert "not trusted" in str(info.value)
    assert info.value.hint is not None and "--ca-bundle" in info.value.hint
    # A bundle with another CA does not help either.
    with (
        KeyServerClient(url, TOKEN, ca_bundle=str(tls_files.other_ca_cert), retries=0) as c,
        pytest.raises(KeyServerUnavailableError, match="not trusted"),
    ):
        c.whoami()


def test_tls_name_mismatch_refused(tls_files: Any, tls_port: int) -> None:
    # The certificate names localhost only; the same server reached as 127.0.0.1 is refused.
    url = f"https://127.0.0.1:{tls_port}"
    c = KeyServerClient(url, TOKEN, ca_bundle=str(tls_files.ca_cert), retries=0)
    with pytest.raises(KeyServerUnavailableError, match="does not match its name"):
        c.whoami()


def test_plain_http_to_non_loopback_refused_before_any_request() -> None:
    with pytest.raises(ServerUrlError, match="https"):
        KeyServerClient("http://keys.city.example", TOKEN)
    with pytest.raises(ServerUrlError):
        KeyServerClient("http://192.168.1.10:8080", TOKEN)


def test_missing_ca_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="CA bundle not found"):
        KeyServerClient("https://127.0.0.1:1", TOKEN, ca_bundle=str(tmp_path / "nope.pem"))


def test_unreachable_get_is_retried_with_backoff(closed_port: int) -> None:
    pauses: list[float] = []
    c = KeyServerClient(f"http://127.0.0.1:{closed_port}", TOKEN, retries=3, sleep=pauses.append)
    with pytest.raises(KeyServerUnavailableError, match="cannot reach"):
        c.whoami()
    assert pauses == [0.5, 1.0, 2.0]


def test_unreachable_evaluate_retried_only_because_nothing_was_sent(closed_port: int) -> None:
    # Connection refused: the request never left, so even evaluate may be retried.
    pauses: list[float] = []
    c = KeyServerClient(f"http://127.0.0.1:{closed_port}", TOKEN, retries=2, sleep=pauses.append)
    slot = SlotInfo("http://127.0.0.1:1", bytes(16), bytes(32))
    with pytest.raises(KeyServerUnavailableError):
        c.evaluate(slot, bytes(32))
    assert len(pauses) == 2


def test_connection_closed_while_idle_is_reopened_not_reused() -> None:
    # A server that answers once per connection and then closes it (as a keep-alive timeout
    # does while the reader types the password): the next request goes on a new connection
    # instead of failing on the dead one (a POST there could not be repeated).
    body = b'{"name": "clerk@city.example", "roles": [], "groups": []}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    accepted.append(1)
                    conn.recv(65536)
                    conn.sendall(answer)
                    conn.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with KeyServerClient(url, TOKEN, retries=0) as c:
            assert c.whoami().name == "clerk@city.example"
            time.sleep(0.2)  # the server's FIN arrives
            assert c.whoami().name == "clerk@city.example"
    finally:
        listener.close()
    assert len(accepted) == 2
