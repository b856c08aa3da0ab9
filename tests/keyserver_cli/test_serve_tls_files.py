"""``serve --tls-cert/--tls-key``: each unusable pair said as a sentence, never OpenSSL's text.

Before, the refusal carried OpenSSL's words in brackets: "(KEY_VALUES_MISMATCH)" for a key
that is not the certificate's, and "([SSL] PEM lib (_ssl.c:3905))" where OpenSSL gives no
reason code (not PEM, an encrypted key). Real: certificates and keys made with
``cryptography`` (tests/support/tls.py), loaded by OpenSSL as ``serve`` loads them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.tls import make_tls_files

PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8


def _pair(d: Path, kind: str) -> tuple[Path, Path]:
    files = make_tls_files(d)
    other = ec.generate_private_key(ec.SECP256R1())
    key = d / f"{kind}.key"
    if kind == "foreign key":  # a real key, not the certificate's
        key.write_bytes(other.private_bytes(PEM, PKCS8, serialization.NoEncryption()))
        return files.server_cert, key
    if kind == "encrypted key":  # serve never prompts for a passphrase
        enc = serialization.BestAvailableEncryption(b"passphrase")
        key.write_bytes(other.private_bytes(PEM, PKCS8, enc))
        return files.server_cert, key
    if kind == "key as certificate":
        return files.server_key, files.server_key
    junk = d / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot one\n")
    return junk, junk


MISMATCH = "the private key {key} is not the key of the certificate {cert}"
NOT_PEM = (
    "cannot use {cert} with {key} for TLS: they are not a PEM certificate and its "
    "unencrypted private key"
)
SAID = {
    "foreign key": (MISMATCH, "--tls-key"),
    "encrypted key": (NOT_PEM, "unencrypted"),
    "key as certificate": (NOT_PEM, "unencrypted"),
    "junk": (NOT_PEM, "unencrypted"),
}


@pytest.mark.parametrize("kind", sorted(SAID))
def test_an_unusable_certificate_and_key_are_a_sentence_with_a_hint(
    cli: Any, h: ModuleType, data_dir: Any, tmp_path: Path, kind: str
) -> None:
    cert, key = _pair(tmp_path, kind)
    argv = ("serve", "--data-dir", data_dir.path, "--tls-cert", cert, "--tls-key", key)
    result = cli(*argv)
    assert result.code == 3, result
    said, hint_word = SAID[kind]
    lines = result.err.splitlines()
    assert lines[0] == "keyserver: error: " + said.format(cert=cert, key=key), lines
    assert len(lines) == 2 and lines[1].startswith("keyserver: hint: "), lines
    assert hint_word in lines[1]
    # In the official's language too, and nowhere OpenSSL's own words.
    ja = cli(*argv, env=h.clean_env(KEYSERVER_LANG="ja"))
    assert ja.code == 3, ja
    assert "TLS" in ja.err or "秘密鍵" in ja.err
    assert "ません" in ja.err.splitlines()[0] and "ください" in ja.err.splitlines()[1], ja.err
    for text in (result.err, ja.err):
        assert "_ssl.c" not in text and "PEM lib" not in text and "MISMATCH" not in text
