"""A TLS failure is a sentence with what to do, in the user's language, never OpenSSL's text.

``keyserver --server`` said "TLS failure talking to URL: SSLError" whatever failed; a CA
bundle OpenSSL could not load was "[X509] PEM lib (_ssl.c:4154)" for both commands. The
three handshake failures are classified once (pycontainer.client.connection.tls_reason) for
``rwc`` and ``keyserver``. Real: a key server over TLS (uvicorn, the test CA's
certificate), OpenSSL verifying it, the commands in process.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from keyserver._cli.errors import EXIT_CONFIG
from keyserver._cli.main import main as keyserver_main
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.client.transport import CaBundleError

TOKEN = "rwc_" + "A" * 43
OPENSSL_WORDS = ("_ssl.c", "PEM lib", "SSLError", "CERTIFICATE_VERIFY_FAILED", "[SSL")


def _keyserver(server: str, ca_bundle: Path | None, lang: str) -> tuple[int, list[str]]:
    env = {"KEYSERVER_TOKEN": TOKEN, "KEYSERVER_LANG": lang}
    if ca_bundle is not None:
        env["KEYSERVER_CA_BUNDLE"] = str(ca_bundle)
    out, err = io.StringIO(), io.StringIO()
    code = keyserver_main(["whoami", "--server", server], stdout=out, stderr=err, env=env)
    return code, err.getvalue().splitlines()


def _cases(live: Any, tls_files: Any, tls_port: int) -> dict[str, tuple[str, Path | None]]:
    plain_port = urlsplit(live.url).port
    return {
        # The certificate names localhost, not 127.0.0.1 (tests/support/tls.py).
        "name": (f"https://127.0.0.1:{tls_port}", tls_files.ca_cert),
        "untrusted": (f"https://localhost:{tls_port}", tls_files.other_ca_cert),
        # https:// to a port that speaks plain HTTP: no TLS at all.
        "handshake": (f"https://localhost:{plain_port}", tls_files.ca_cert),
    }


SAID = {
    "name": (
        "the certificate of {server} is not issued for that name",
        "use in --server the host name the certificate names",
    ),
    "untrusted": (
        "the certificate of {server} is not signed by a CA this command trusts",
        "name the CA that signed it with --ca-bundle FILE (or KEYSERVER_CA_BUNDLE)",
    ),
    "handshake": (
        "the TLS handshake with {server} failed",
        "check the port in --server, and that the key server was started with --tls-cert",
    ),
}
SAID_JA = {
    "name": "の証明書はその名前に対して発行されていません",
    "untrusted": "の証明書は、このコマンドが信頼する CA の署名を受けていません",
    "handshake": "との TLS ハンドシェイクに失敗しました",
}


@pytest.mark.parametrize("case", sorted(SAID))
def test_keyserver_says_which_tls_failure_and_what_to_do(
    live: Any, tls_files: Any, tls_port: int, case: str
) -> None:
    server, bundle = _cases(live, tls_files, tls_port)[case]
    code, lines = _keyserver(server, bundle, "en")
    said, hint = SAID[case]
    assert code == 7, lines
    assert lines[0] == "keyserver: error: " + said.format(server=server), lines
    assert len(lines) == 2 and lines[1].startswith("keyserver: hint: " + hint), lines
    code, ja = _keyserver(server, bundle, "ja")
    assert code == 7, ja
    assert SAID_JA[case] in ja[0] and ja[1].endswith("ください"), ja
    for text in (*lines, *ja):
        assert not any(word in text for word in OPENSSL_WORDS), text


def test_a_damaged_ca_bundle_is_a_sentence_not_openssls_words(
    tmp_path: Path, tls_port: int
) -> None:
    # PEM-looking (trust_store's check passes), but no certificate OpenSSL can load:
    # without a reason code, its text was the whole explanation.
    bad = tmp_path / "broken.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot one\n")
    client = KeyServerClient("https://localhost:1", TOKEN, ca_bundle=str(bad), retries=0)
    with client, pytest.raises(CaBundleError) as info:
        client.whoami()
    assert str(info.value) == (
        f"the CA bundle {bad} cannot be used for TLS: a certificate in it is damaged or cut short"
    )
    assert info.value.hint is not None and "--ca-bundle" in info.value.hint
    # keyserver: requests loads the bundle only to connect, so it was the handshake's
    # failure, blamed on the server; now the bundle's, as rwc says it.
    code, lines = _keyserver(f"https://localhost:{tls_port}", bad, "en")
    assert (code, lines[0]) == (
        EXIT_CONFIG,
        (
            "keyserver: error: The CA bundle named with --ca-bundle (or KEYSERVER_CA_BUNDLE)"
            f" cannot be used. Detail: {info.value}"
        ),
    ), lines
    assert "--ca-bundle" in lines[1] and "KEYSERVER_CA_BUNDLE" in lines[1], lines
