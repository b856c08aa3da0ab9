import itertools
import re
from collections.abc import Callable

import pytest

from pycontainer.client.server_url import (
    ServerUrlError,
    is_loopback_host,
    normalize_server_url,
)
from pycontainer.format import url


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


# The grammar's regular expressions (spec [F-URL]), which pycontainer/format/url.py checks
# with str methods (issue 15): each predicate must say what its expression says, for every
# string up to a length over the characters that decide (and a few that must not pass:
# non-ASCII digits and letters, which `re` and str.isdigit() would treat as such).
_GRAMMAR: list[tuple[Callable[[str], bool], str, str, int]] = [
    (url._is_port, r"[1-9][0-9]{0,4}", "019a٣", 6),
    (url._is_dec_octet, r"0|[1-9][0-9]{0,2}", "019a٣", 5),
    (url._is_numeric_label, r"[0-9]+|0[xX][0-9A-Fa-f]*", "09xXaFg-", 4),
    (url._is_label, r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", "aZ09-._é", 4),
    (url._is_ipv6_chars, r"[0-9A-Fa-f:.]+", "0fFg:.%[", 4),
    (
        url._is_path,
        r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*",
        "/%aF0g@~? #\\",
        5,
    ),
]


@pytest.mark.parametrize(("check", "pattern", "alphabet", "longest"), _GRAMMAR)
def test_grammar_predicates_match_their_expressions(
    check: Callable[[str], bool], pattern: str, alphabet: str, longest: int
) -> None:
    expression = re.compile(pattern)
    wrong = [
        text
        for n in range(longest + 1)
        for text in map("".join, itertools.product(alphabet, repeat=n))
        if check(text) != bool(expression.fullmatch(text))
    ]
    assert wrong == []


@pytest.mark.parametrize("length", [61, 62, 63, 64, 65])
def test_label_length_bounds(length: int) -> None:
    expression = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
    for text in ("a" * length, "a" + "-" * (length - 2) + "a", "-" + "a" * (length - 1)):
        assert url._is_label(text) == bool(expression.fullmatch(text)), text


def test_scheme_end_matches_its_expression() -> None:
    expression = re.compile(r"(?i:https?)://")
    starts = ["http://", "https://", "HtTpS://", "http:/", "https:", "httpss://", "ftp://"]
    for start in starts:
        for text in (start, start + "x", "x" + start):
            found = expression.match(text)
            assert url._scheme_end(text) == (found.end() if found else None), text
