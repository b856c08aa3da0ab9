import pytest

from pycontainer.client.server_url import (
    ServerUrlError,
    is_loopback_host,
    normalize_server_url,
)


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://Keys.City.Example/", "https://keys.city.example"),
        ("HTTPS://keys.city.example:8443/rwc/", "https://keys.city.example:8443/rwc"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.5.6.7", "http://127.5.6.7"),
        ("http://127.255.255.255", "http://127.255.255.255"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_accepted_and_normalised(url: str, want: str) -> None:
    assert normalize_server_url(url) == want


@pytest.mark.parametrize(
    "url",
    [
        "http://keys.city.example",
        "http://10.0.0.1",
        "http://128.0.0.1",
        "http://126.255.255.255",
        "http://1.127.0.1",
        "http://[::2]",
        "http://localhost.evil.example",
        "ftp://keys.city.example",
        "keys.city.example",
        "https://user:pw@keys.city.example",
        "https://keys.city.example/?q=1",
        "https://keys.city.example/#x",
        "https://keys city.example",
        "https://keys.city.example:99999",
        "",
        "https://" + "a" * 2100,
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(ServerUrlError):
        normalize_server_url(url)


def test_plain_http_refusal_names_the_rule() -> None:
    with pytest.raises(ServerUrlError) as info:
        normalize_server_url("http://keys.city.example")
    assert "https" in str(info.value)
    assert info.value.hint is not None and "loopback" in info.value.hint


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1")
    assert is_loopback_host("LOCALHOST")
    assert not is_loopback_host("0.0.0.0")
    assert not is_loopback_host("example.com")
