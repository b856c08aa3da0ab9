"""rwc reaches a remote key server through the environment's proxy (CONNECT, TLS end to end).

A small CONNECT proxy on loopback stands in for a city's proxy; the key server behind it is
the live test server over TLS, named ``keys.city.example`` (the test certificate carries
the name). Real sockets, real TLS; the proxy records what it was asked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from pycontainer.client.connection import ConnectFailedError, proxy_for
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.errors import KeyServerUnavailableError
from tests.support.proxies import LoopbackProxy, clear_proxy_env, proxy_in_env
from tests.support.tls import REMOTE_NAME


@pytest.fixture
def proxy(tls_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackProxy]:
    """A CONNECT proxy that sends every tunnel to the live server's TLS port."""
    with proxy_in_env(LoopbackProxy(target_port=tls_port), monkeypatch, "city:s%40cret@") as p:
        yield p


def test_remote_server_through_the_proxy(server: Any, tls_files: Any, proxy: LoopbackProxy) -> None:
    url = f"https://{REMOTE_NAME}:{proxy.target_port}"
    token = server.tokens["reader"]
    with KeyServerClient(url, token, ca_bundle=str(tls_files.ca_cert), retries=0) as c:
        assert c.whoami().name == "clerk@city.example"
        assert c.whoami().name == "clerk@city.example"  # the same tunnel, kept alive
    assert len(proxy.heads) == 1
    head = proxy.heads[0].decode()
    assert head.startswith(f"CONNECT {REMOTE_NAME}:{proxy.target_port} HTTP/1.")
    # The proxy's credentials go to the proxy; the token never does (TLS end to end).
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'city:s@cret').decode()}" in head
    assert token not in head and "Authorization: Bearer" not in head


def test_no_proxy_names_the_server(
    tls_files: Any, proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NO_PROXY: a direct connection, which cannot resolve the made-up name.
    monkeypatch.setenv("NO_PROXY", f".city.example,{REMOTE_NAME}")
    url = f"https://{REMOTE_NAME}:{proxy.target_port}"
    with (
        KeyServerClient(url, "rwc_" + "A" * 43, ca_bundle=str(tls_files.ca_cert), retries=0) as c,
        pytest.raises(KeyServerUnavailableError, match="connection failed"),
    ):
        c.whoami()
    assert proxy.heads == []


def test_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch)
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
