"""Answers the real key server never gives, served by a small hostile HTTP server on loopback.

The real server cannot be made to send a redirect, an oversized body or an element of the
wrong length, so a tiny ASGI app does, over a real socket; the client must refuse each.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.keyserver import KeyServerClient, b64url_encode
from pycontainer.errors import KeyServerProtocolError, KeyServerUnavailableError
from pycontainer.keyrelease import SlotInfo

TOKEN = "rwc_" + "A" * 43
SEEN: list[dict[str, Any]] = []


def _evaluation(element: bytes, proof: bytes) -> bytes:
    return json.dumps(
        {
            "evaluated_element": b64url_encode(element),
            "proof": b64url_encode(proof),
            "challenge": b64url_encode(bytes(32)),
            "challenge_expires_at": None,
        }
    ).encode()


ROUTES: dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]] = {
    "/redirect/v1/whoami": (307, [(b"location", b"https://evil.example/v1/whoami")], b""),
    "/huge/v1/whoami": (200, [(b"content-type", b"application/json")], b" " * (2 << 20)),
    "/html/v1/whoami": (200, [(b"content-type", b"text/html")], b"<html>login</html>"),
    "/dup/v1/whoami": (
        200,
        [(b"content-type", b"application/json")],
        b'{"name": "a", "name": "b", "roles": [], "groups": []}',
    ),
    "/gateway/v1/whoami": (502, [(b"content-type", b"text/html")], b"<html>bad gw</html>"),
    "/short/v1/containers/AAAAAAAAAAAAAAAAAAAAAA/evaluate": (
        200,
        [(b"content-type", b"application/json")],
        _evaluation(bytes(31), bytes(64)),
    ),
    "/longproof/v1/containers/AAAAAAAAAAAAAAAAAAAAAA/evaluate": (
        200,
        [(b"content-type", b"application/json")],
        _evaluation(bytes(32), bytes(65)),
    ),
    "/unavail/v1/containers/AAAAAAAAAAAAAAAAAAAAAA/evaluate": (
        503,
        [(b"content-type", b"application/problem+json")],
        b'{"type": "urn:rwc:problem:unavailable", "status": 503, "contact": "ops"}',
    ),
}


async def hostile(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    SEEN.append({"path": scope["path"], "method": scope["method"], "headers": headers})
    status, answer_headers, body = ROUTES.get(scope["path"], (404, [], b""))
    await send({"type": "http.response.start", "status": status, "headers": answer_headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def hostile_url(uvicorn_runner: Any) -> Iterator[str]:
    u = uvicorn_runner.start(hostile)
    yield f"http://127.0.0.1:{u.port}"
    uvicorn_runner.stop(u)


def client(url: str, **kw: Any) -> KeyServerClient:
    return KeyServerClient(url, TOKEN, sleep=lambda _s: None, **kw)


SLOT = SlotInfo("http://127.0.0.1", bytes(16), bytes(32))


def test_redirect_not_followed(hostile_url: str) -> None:
    with pytest.raises(KeyServerProtocolError, match="redirect"):
        client(hostile_url + "/redirect").whoami()


def test_oversized_answer_refused(hostile_url: str) -> None:
    with pytest.raises(KeyServerProtocolError, match="too large"):
        client(hostile_url + "/huge").whoami()


def test_non_json_success_refused(hostile_url: str) -> None:
    with pytest.raises(KeyServerProtocolError, match="text/html"):
        client(hostile_url + "/html").whoami()


def test_duplicate_json_keys_refused(hostile_url: str) -> None:
    with pytest.raises(KeyServerProtocolError, match="malformed JSON"):
        client(hostile_url + "/dup").whoami()


def test_wrong_sizes_refused(hostile_url: str) -> None:
    with pytest.raises(KeyServerProtocolError, match="31 bytes, expected 32"):
        client(hostile_url + "/short").evaluate(SLOT, bytes(32))
    with pytest.raises(KeyServerProtocolError, match="65 bytes, expected 64"):
        client(hostile_url + "/longproof").evaluate(SLOT, bytes(32))


def test_get_5xx_retried_post_5xx_not(hostile_url: str) -> None:
    SEEN.clear()
    with pytest.raises(KeyServerUnavailableError, match="HTTP 502"):
        client(hostile_url + "/gateway", retries=2).whoami()
    assert [s["path"] for s in SEEN] == ["/gateway/v1/whoami"] * 3
    SEEN.clear()
    with pytest.raises(KeyServerUnavailableError) as info:
        client(hostile_url + "/unavail", retries=2).evaluate(SLOT, bytes(32))
    # evaluate reached the server once: it is never repeated (it counts attempts).
    assert len(SEEN) == 1
    assert info.value.contact == "ops"


@pytest.mark.parametrize(
    ("lang", "route", "error", "hint"),
    [
        (
            "ja",
            "/html",
            "利用者の確認の要求への応答が鍵サーバーのものではありません(text/html)",
            (
                "サーバーの URL を確認してください。鍵サーバーではなく Web ページ"
                "(プロキシのログイン画面など)を指している可能性があります"
            ),
        ),
        (
            "en",
            "/html",
            "the answer to the request to identify you is not the key server's (text/html)",
            (
                "check the server URL: it may point at a web page (a proxy's sign-in page, for "
                "one), not a key server"
            ),
        ),
        (
            "ja",
            "/redirect",
            "鍵サーバーが別の URL への転送(リダイレクト)で応答しました(HTTP 307)",
            "転送先ではなく、鍵サーバーの最終的な URL を指定してください",
        ),
    ],
)
def test_rwc_says_a_web_page_or_redirect_in_the_readers_language(
    hostile_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    route: str,
    error: str,
    hint: str,
) -> None:
    # issue 12: `rwc` asks every request in its language and says the refusal in it.
    SEEN.clear()
    monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\n"))
    err = io.StringIO()
    env = {"XDG_CONFIG_HOME": str(tmp_path), "RWC_LANG": lang}
    argv = ["login", "--token-stdin", hostile_url + route]
    code = run(argv, env=env, stdout=io.StringIO(), stderr=err)
    assert code == ExitCode.ERROR
    assert err.getvalue() == f"rwc: error: {error}\nrwc: hint: {hint}\n"
    assert [s["headers"].get("accept-language") for s in SEEN] == [lang]
    # The library alone asks in no language (the server answers the protocol's English).
    SEEN.clear()
    with pytest.raises(KeyServerProtocolError):
        client(hostile_url + route).whoami()
    assert "accept-language" not in SEEN[0]["headers"]
