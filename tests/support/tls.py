"""Certificates for TLS tests, made with ``cryptography``: a city CA, a server cert, another CA.

And servers' certificates that fail verification each in its own way (:func:`make_odd_server`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


REMOTE_NAME = "keys.city.example"


def make_tls_files(d: Path) -> TlsFiles:
    """A test CA, a server certificate it signed, and an unrelated CA.

    The certificate names ``localhost`` and ``keys.city.example`` (a remote name, reached
    only through the test's CONNECT proxy: tests/cli/test_client_proxy.py).
    """
    ca_key, ca_cert = _ca("rwc test city CA")
    _, other_ca = _ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                # Deliberately not 127.0.0.1: see the name test.
                [x509.DNSName("localhost"), x509.DNSName(REMOTE_NAME)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(d / "ca.pem", d / "server.pem", d / "server.key", d / "other-ca.pem")
    files.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    files.other_ca_cert.write_bytes(other_ca.public_bytes(pem))
    files.server_cert.write_bytes(cert.public_bytes(pem))
    files.server_key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.server_key.chmod(0o600)
    return files


@dataclass(frozen=True)
class OddServer:
    """A server certificate that fails in one way, and the CA a client trusts meanwhile."""

    cert: Path
    key: Path
    ca_cert: Path


ODD_KINDS = ("expired", "not_yet_valid", "self_signed")


def make_odd_server(d: Path, kind: str) -> OddServer:
    """A certificate for ``localhost`` that fails verification as ``kind`` (:data:`ODD_KINDS`).

    ``expired``: signed by the trusted CA, valid until an hour ago; ``not_yet_valid``: from
    tomorrow; ``self_signed``: signed by its own key (the trusted CA is another).
    """
    ca_key, ca_cert = _ca("rwc test city CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    before, after = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)
    if kind == "expired":
        before, after = now - dt.timedelta(days=2), now - dt.timedelta(hours=1)
    elif kind == "not_yet_valid":
        before = now + dt.timedelta(days=1)
        after = before + dt.timedelta(days=1)
    signer, issuer = (
        (key, _name("localhost")) if kind == "self_signed" else (ca_key, ca_cert.subject)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(before)
        .not_valid_after(after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(signer, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    d.mkdir(parents=True, exist_ok=True)
    files = OddServer(d / f"{kind}.pem", d / f"{kind}.key", d / f"{kind}-ca.pem")
    files.cert.write_bytes(cert.public_bytes(pem))
    files.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    files.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.key.chmod(0o600)
    return files
