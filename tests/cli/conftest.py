"""Fixtures for the rwc client/CLI tests: a live key server on loopback, principals, TLS.

Everything is real: the key server runs in uvicorn on an ephemeral loopback port, the TLS
certificates are made here with `cryptography`, and the client speaks HTTP over the socket.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class UvicornThread:
    server: uvicorn.Server
    thread: threading.Thread
    port: int


def start_uvicorn(app: Any, **config: Any) -> UvicornThread:
    """Serve ``app`` on 127.0.0.1:<ephemeral> in a thread (TLS if ssl_* are given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    cfg = uvicorn.Config(app, log_level="warning", lifespan="off", **config)
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return UvicornThread(server, thread, port)


def stop_uvicorn(u: UvicornThread) -> None:
    u.server.should_exit = True
    u.thread.join(timeout=20)


def _closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


class Runner:
    """start/stop of uvicorn threads, handed to tests as a fixture (importlib mode)."""

    start = staticmethod(start_uvicorn)
    stop = staticmethod(stop_uvicorn)


@pytest.fixture(scope="session")
def uvicorn_runner() -> Runner:
    """Start ASGI apps on loopback: ``u = uvicorn_runner.start(app); uvicorn_runner.stop(u)``."""
    return Runner()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    return _closed_port()


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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    d = tmp_path_factory.mktemp("tls")
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
                [x509.DNSName("localhost")]  # deliberately not 127.0.0.1: see the name test
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


# --- a live key server ------------------------------------------------------------------


class ShiftableClock:
    """The key server's clock: real time plus an offset a test may move forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class LiveServer:
    url: str
    settings: Any
    clock: ShiftableClock
    tokens: dict[str, str]
    contact: str

    def official(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = requests.post(
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens['official']}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        doc = r.json()
        assert isinstance(doc, dict)
        return doc


CONTACT = "Information security desk, +81-6-0000-0000, security@city.example"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real key server (SQLite) for the session, with its principals."""
    from keyserver.store import init_database  # noqa: PLC0415
    from keyserver.testing import bootstrap_principal, running_server, sqlite_settings  # noqa: PLC0415

    clock = ShiftableClock()
    settings = dataclasses.replace(
        sqlite_settings(tmp_path_factory.mktemp("ks"), contact=CONTACT), clock=clock
    )
    init_database(settings)
    tokens = {
        "writer": bootstrap_principal(settings, "contractor@vendor.example", ["writer"]),
        "reader": bootstrap_principal(settings, "clerk@city.example", ["reader"]),
        "group_reader": bootstrap_principal(
            settings, "deputy@city.example", ["reader"], groups=["benefits"]
        ),
        "outsider": bootstrap_principal(settings, "intern@city.example", ["reader"]),
        "official": bootstrap_principal(settings, "security@city.example", ["official"]),
    }
    with running_server(settings) as url:
        yield LiveServer(url, settings, clock, tokens, CONTACT)


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    """The live server, with its clock put back after the test."""
    yield live
    live.clock.offset = dt.timedelta(0)


@pytest.fixture(scope="session")
def tls_port(live: LiveServer, tls_files: TlsFiles) -> Iterator[int]:
    """The same key server (same database) served over TLS by uvicorn with the test CA's cert."""
    from keyserver.http.app import create_app  # noqa: PLC0415

    u = start_uvicorn(
        create_app(live.settings),
        ssl_certfile=str(tls_files.server_cert),
        ssl_keyfile=str(tls_files.server_key),
    )
    yield u.port
    stop_uvicorn(u)
