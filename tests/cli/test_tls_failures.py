"""Each TLS failure a clerk can meet is told apart, with its own next step (issue 12).

`rwc` said "if your city runs its own certificate authority, pass its certificate with
--ca-bundle" for every failed handshake, a wrong address included. Now the failure is
classified by OpenSSL's verify code (pycontainer.client.connection.tls_reason, never its
words) and each has its own advice in the clerk's language: a name mismatch -> check the
server address; an unknown CA -> --ca-bundle; expired or not yet valid -> this computer's
clock, then the staff; self-signed -> do not trust it yourself; no TLS -> the URL and port.

Real: the key server over TLS (uvicorn) with certificates made here by ``cryptography``
(tests/support/tls.py), OpenSSL verifying them, `rwc ls` run as a clerk; and `keyserver
--server` for the validity period, which it took for an unknown CA before.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from keyserver._cli.main import main as keyserver_main
from keyserver._http.app import create_app
from pycontainer.cli import texts
from pycontainer.cli.exits import ExitCode
from tests.support.clerk_runs import LANGS, rwc, seal
from tests.support.live import LiveServer
from tests.support.servers import start_uvicorn, stop_uvicorn
from tests.support.tls import ODD_KINDS, TlsFiles, make_odd_server

OPENSSL_WORDS = ("_ssl.c", "SSLError", "CERTIFICATE_VERIFY_FAILED", "[SSL", "verify failed")


@pytest.fixture(scope="module")
def odd_servers(
    live: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Path]]]:
    """The live key server again over TLS with each odd certificate: URL and trusted CA."""
    d = tmp_path_factory.mktemp("odd-tls")
    served, found = [], {}
    try:
        for kind in ODD_KINDS:
            files = make_odd_server(d, kind)
            u = start_uvicorn(
                create_app(live.settings), ssl_certfile=str(files.cert), ssl_keyfile=str(files.key)
            )
            served.append(u)
            found[kind] = (f"https://localhost:{u.port}", files.ca_cert)
        yield found
    finally:
        for u in served:
            stop_uvicorn(u)


# Why (the texts' why_* key) -> the next step in Japanese, word for word.
HINTS_JA = {
    "cert_name_mismatch": "サーバーのアドレス(--server URL または RWC_SERVER)を確認してください。"
    "IP アドレスや別の名前ではなく、市から案内されたホスト名を使います。"
    "正しい場合は市の情報セキュリティ担当者に知らせてください",
    "cert_untrusted": "市が独自の認証局を運用している場合は、その証明書を --ca-bundle FILE"
    "(または RWC_CA_BUNDLE)で指定してください",
    "cert_expired": "このコンピューターの日付と時刻を確認してください。正しい場合は鍵サーバーの"
    "証明書の更新が必要です。市の情報セキュリティ担当者に知らせてください",
    "cert_not_yet_valid": "このコンピューターの日付と時刻を確認してください"
    "(遅れている可能性があります)。正しい場合は市の情報セキュリティ担当者に知らせてください",
    "cert_self_signed": "この証明書を自分の判断で信頼しないでください。認証局が発行したもの"
    "ではなく、鍵サーバーのものではない可能性があります。市の情報セキュリティ担当者に知らせて"
    "ください",
    "tls_handshake_failed": "サーバーの URL とポート番号(--server URL または RWC_SERVER)を"
    "確認してください。その相手は TLS で通信するサーバーではない可能性があります",
}
CASES = {
    # The certificate names localhost, not 127.0.0.1 (tests/support/tls.py).
    "cert_name_mismatch": "name",
    "cert_untrusted": "other CA",
    "cert_expired": "expired",
    "cert_not_yet_valid": "not_yet_valid",
    "cert_self_signed": "self_signed",
    # https:// to the port that speaks plain HTTP: no TLS at all.
    "tls_handshake_failed": "plain",
}


def _target(
    case: str,
    live: LiveServer,
    tls_files: TlsFiles,
    tls_port: int,
    odd: dict[str, tuple[str, Path]],
) -> tuple[str, Path]:
    if case == "name":
        return f"https://127.0.0.1:{tls_port}", tls_files.ca_cert
    if case == "other CA":
        return f"https://localhost:{tls_port}", tls_files.other_ca_cert
    if case == "plain":
        return f"https://localhost:{urlsplit(live.url).port}", tls_files.ca_cert
    return odd[case]


@LANGS
@pytest.mark.parametrize("why", sorted(CASES))
def test_each_tls_failure_says_what_it_is_and_what_to_do(
    server: LiveServer,
    tls_files: TlsFiles,
    tls_port: int,
    odd_servers: dict[str, tuple[str, Path]],
    tmp_path: Path,
    why: str,
    lang: str,
) -> None:
    container = seal(server, tmp_path)
    url, bundle = _target(CASES[why], server, tls_files, tls_port, odd_servers)
    # As the clerk: the container's key server named by RWC_SERVER, the city's CA bundle.
    shifted = dataclasses.replace(server, url=url)
    r = rwc(shifted, tmp_path, lang, "ls", str(container), "--ca-bundle", str(bundle))
    assert r.code == ExitCode.UNREACHABLE, r.err
    error, hint = r.lines()
    assert error == texts.say("refusal_tls", lang, url=url, why=texts.say("why_" + why, lang))
    assert hint == texts.say("refusal_tls_hint_" + why, lang)
    if lang == "ja":
        assert hint == HINTS_JA[why]
    # Only an unknown CA is sent to --ca-bundle.
    assert ("--ca-bundle" in hint) == (why == "cert_untrusted"), hint
    assert not any(word in r.err for word in OPENSSL_WORDS), r.err


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid"])
def test_keyserver_says_a_certificate_out_of_its_validity_period(
    odd_servers: dict[str, tuple[str, Path]], kind: str
) -> None:
    url, bundle = odd_servers[kind]
    said = {}
    for lang in ("en", "ja"):
        err = io.StringIO()
        env = {"KEYSERVER_TOKEN": "rwc_" + "A" * 43, "KEYSERVER_LANG": lang}
        env["KEYSERVER_CA_BUNDLE"] = str(bundle)
        code = keyserver_main(
            ["whoami", "--server", url], stdout=io.StringIO(), stderr=err, env=env
        )
        assert code == 7, err.getvalue()
        said[lang] = err.getvalue().splitlines()
    assert said["en"] == [
        (
            f"keyserver: error: the certificate of {url} is outside its validity period "
            "(expired, or not valid yet)"
        ),
        (
            "keyserver: hint: check this computer's date and time; if they are right, the "
            "key server's certificate must be renewed (serve --tls-cert)"
        ),
    ]
    assert said["ja"] == [
        (
            f"keyserver: error: {url} の証明書は有効期間外です"
            "(期限切れ、またはまだ有効期間が始まっていません)"
        ),
        (
            "keyserver: hint: このコンピューターの日付と時刻を確認してください。正しい場合は、"
            "鍵サーバーの証明書の更新が必要です(serve --tls-cert)"
        ),
    ]
