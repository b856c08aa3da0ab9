"""A proxy's refusal is said as the proxy's, with what to do (issue 12).

A city proxy that wants credentials answers CONNECT with 407 (Proxy Authentication
Required): `rwc` said "cannot reach the key server (connection failed)" after two retries,
and told the clerk to check the network. Now it says the proxy asked for a user name and
password (or refused the ones in HTTPS_PROXY, or refused the connection), in the clerk's
language, with the next step (HTTPS_PROXY, or the IT staff), and does not retry what will
be refused again.

Real: a tiny proxy on a loopback socket that answers CONNECT as a city proxy would, `rwc
ls` run as a clerk for a remote key server name (a proxy is never used for loopback).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest

from keyserver._cli.main import main as keyserver_main
from pycontainer.cli import refusals, texts
from pycontainer.cli.exits import ExitCode
from pycontainer.errors import Refusal
from tests.support.clerk_runs import LANGS, rwc, seal
from tests.support.live import LiveServer
from tests.support.proxies import LoopbackProxy, clear_proxy_env, proxy_in_env
from tests.support.tls import REMOTE_NAME

ANSWERS = {
    407: b"HTTP/1.1 407 Proxy Authentication Required\r\n"
    b'Proxy-Authenticate: Basic realm="city"\r\nContent-Length: 9\r\n\r\nsign in\r\n',
    403: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
}


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # rwc reads the proxy from the process's environment, as requests and curl do.
    clear_proxy_env(monkeypatch)
    return monkeypatch


def proxy(
    status: int, monkeypatch: pytest.MonkeyPatch, credentials: str
) -> contextlib.AbstractContextManager[LoopbackProxy]:
    """A proxy that answers every CONNECT with ``status`` and closes; records the heads."""
    return proxy_in_env(LoopbackProxy(refusal=ANSWERS[status]), monkeypatch, credentials)


# (status, credentials in HTTPS_PROXY) -> why, and the next step in Japanese word for word.
CASES = {
    "proxy_auth_required": (407, ""),
    "proxy_auth_refused": (407, "city:s%40cret@"),
    "proxy_refused": (403, "city:s%40cret@"),
}
HINTS_JA = {
    "proxy_auth_required": "プロキシのユーザー名とパスワードを HTTPS_PROXY に設定するか"
    "(http://ユーザー名:パスワード@プロキシ:ポート)、情報システムの担当者に相談してください",
    "proxy_auth_refused": "HTTPS_PROXY に設定したプロキシのユーザー名とパスワードを確認するか"
    "(パスワードが変わった可能性があります)、情報システムの担当者に相談してください",
    "proxy_refused": "このコンピューターからプロキシ経由で鍵サーバーに接続できるよう、"
    "情報システムの担当者に依頼してください",
}


@LANGS
@pytest.mark.parametrize("why", sorted(CASES))
def test_a_proxys_refusal_is_said_with_what_to_do(
    server: LiveServer,
    tmp_path: Path,
    clean_proxy_env: pytest.MonkeyPatch,
    why: str,
    lang: str,
) -> None:
    container = seal(server, tmp_path)
    status, credentials = CASES[why]
    url = f"https://{REMOTE_NAME}:8443"
    with proxy(status, clean_proxy_env, credentials) as p:
        r = rwc(dataclasses.replace(server, url=url), tmp_path, lang, "ls", str(container))
    assert r.code == ExitCode.UNREACHABLE, r.err
    error, hint = r.lines()
    assert error == texts.say(
        "refusal_unreachable", lang, url=url, why=texts.say("why_" + why, lang)
    )
    assert hint == texts.say("refusal_unreachable_hint_" + why, lang)
    if lang == "ja":
        assert hint == HINTS_JA[why]
    # Asked once: the same refusal would only come again (before: three tries, with pauses).
    assert len(p.heads) == 1, p.heads
    head = p.heads[0].decode()
    assert head.startswith(f"CONNECT {REMOTE_NAME}:8443 HTTP/1.1\r\n"), head
    # The clerk's token never goes to the proxy; its own credentials only if configured.
    assert server.tokens["reader"] not in head and "Bearer" not in head
    assert ("Proxy-Authorization: Basic " in head) == bool(credentials), head


def test_without_a_proxy_the_network_advice_is_unchanged(server: LiveServer) -> None:
    # The next step by why applies to the proxy's refusals only.
    for lang in texts.LANGUAGES:
        timed_out = Refusal("unreachable", {"url": server.url, "why": "timed out"})
        assert refusals.render(timed_out, lang)[1] == texts.say("refusal_unreachable_hint", lang)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_keyserver_says_the_proxy_not_the_server(
    clean_proxy_env: pytest.MonkeyPatch, lang: str
) -> None:
    """`keyserver --server` through a proxy that answers 407 (requests reads HTTPS_PROXY).

    It said "cannot reach the key server at URL (ProxyError)" with "check that the server
    is running"; the official now reads that the proxy did not connect them, and what to do.
    """
    url = f"https://{REMOTE_NAME}:8443"
    with proxy(407, clean_proxy_env, "") as p:
        err = io.StringIO()
        env = {"KEYSERVER_TOKEN": "rwc_" + "A" * 43, "KEYSERVER_LANG": lang}
        code = keyserver_main(
            ["whoami", "--server", url], stdout=io.StringIO(), stderr=err, env=env
        )
    assert code == 7, err.getvalue()
    error = {
        "en": f"the proxy (HTTPS_PROXY) did not connect this computer to the key server at {url}",
        "ja": f"プロキシ(HTTPS_PROXY)を通して鍵サーバー {url} に接続できませんでした",
    }
    hint = {
        "en": "check the proxy setting in HTTPS_PROXY (with the proxy's user name and password "
        "if it asks for them: http://USER:PASSWORD@PROXY:PORT), or ask your IT staff",
        "ja": "HTTPS_PROXY のプロキシ設定を確認するか(プロキシがユーザー名とパスワードを求める"
        "場合は http://ユーザー名:パスワード@プロキシ:ポート)、情報システムの担当者に相談して"
        "ください",
    }
    said = [f"keyserver: error: {error[lang]}", f"keyserver: hint: {hint[lang]}"]
    assert err.getvalue().splitlines() == said
    assert p.heads and all("Bearer" not in h.decode() for h in p.heads)  # the token: never
