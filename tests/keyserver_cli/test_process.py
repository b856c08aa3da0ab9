"""The installed ``.venv/bin/keyserver`` as a real process: both modes, serve, a real TTY."""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import select
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keyserver._service import KeyService
from tests.support.keyserver_cli import TIMEOUT, run, start_serve
from tests.support.processes import stop


def test_local_and_remote_as_processes(h: ModuleType, data_dir: Any) -> None:
    added = run(
        "principal",
        "add",
        "off",
        "--role",
        "official",
        "--json",
        KEYSERVER_DATA_DIR=str(data_dir.path),
    )
    assert added.returncode == 0, added
    official = json.loads(added.stdout)["token"]
    assert added.stderr == ""

    with h.running_server(data_dir.settings()) as url:
        who = run("whoami", "--json", "--server", url, KEYSERVER_TOKEN=official)
        assert who.returncode == 0, who
        assert json.loads(who.stdout)["name"] == "off"
        refused = run("principal", "list", KEYSERVER_SERVER=url, KEYSERVER_TOKEN=official)
        assert refused.returncode == 4
        assert refused.stderr.startswith("keyserver: error: ")
        assert "Traceback" not in refused.stderr


def test_serve_answers_healthz_and_stops_on_sigterm(
    h: ModuleType, data_dir: Any, tmp_path: Path
) -> None:
    proc, url = start_serve(data_dir.path, tmp_path / "serve.log", "--sweep-interval", "1s")
    try:
        healthy = requests.get(url + "/healthz", timeout=5)
        assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
        ready = requests.get(url + "/readyz", timeout=5)
        assert ready.status_code == 200
    finally:
        code = stop(proc, timeout=TIMEOUT)
    assert code == 0
    output = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in output
    assert "Shutting down" in output and "Finished server process" in output, output


def test_serve_refuses_bad_setup(cli: Any, data_dir: Any, tmp_path: Path) -> None:
    # In-process: each refusal happens before uvicorn would start.
    result = cli("serve", "--data-dir", tmp_path / "none")
    assert result.code == 3 and "keyserver init" in result.err
    dd = data_dir.path
    result = cli("serve", "--data-dir", dd, "--tls-cert", tmp_path / "c.pem")
    assert result.code == 2 and "go together" in result.err
    result = cli(
        "serve", "--data-dir", dd, "--tls-cert", tmp_path / "c.pem", "--tls-key", tmp_path / "k"
    )
    assert result.code == 3 and "does not exist" in result.err
    # Files that are there but are no certificate and key: said before uvicorn loads them
    # (it said "[SSL] PEM lib (_ssl.c:3905)"; with several workers each worker died).
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot one\n")
    result = cli("serve", "--data-dir", dd, "--tls-cert", junk, "--tls-key", junk)
    assert result.code == 3, result
    lines = result.err.splitlines()
    assert lines[0] == (
        f"keyserver: error: cannot use {junk} with {junk} for TLS: they are not a PEM "
        "certificate and its unencrypted private key"
    ), lines
    assert lines[1:] == [
        (
            "keyserver: hint: give the server's certificate (with its chain) and its private key, "
            "unencrypted, as PEM files"
        )
    ]
    # A host that is not text (bytes in another encoding): a usage error, not an
    # "unexpected UnicodeError" from the resolver.
    result = cli("serve", "--data-dir", dd, "--host", "\udcff\udcfe")
    assert (result.code, result.err) == (
        2,
        "keyserver: error: --host must be an IP address or a host name\n",
    ), result
    result = cli("serve", "--data-dir", dd, "--port", "70000")
    assert result.code == 2 and "port must be" in result.err
    for workers in ("0", "33"):
        result = cli("serve", "--data-dir", dd, "--workers", workers)
        assert result.code == 2 and "workers 1..32" in result.err, workers
    (dd / "master.key").chmod(0o640)
    result = cli("serve", "--data-dir", dd)
    assert result.code == 3 and "chmod 600" in result.err


def _tty_run(h: ModuleType, argv: list[str], answer: bytes) -> tuple[int, bytes]:
    """Run the command with its stdin and stderr on a pseudo-terminal; answer the prompt."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [os.fspath(h.KEYSERVER_BIN), *argv],
        env=h.clean_env(),
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + TIMEOUT
        while b"to confirm" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(leader, 1024)
                except OSError:
                    break
        os.write(leader, answer)
        code = proc.wait(timeout=TIMEOUT)
        while True:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(leader, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        stop(proc, timeout=TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
    return code, seen


def test_confirmation_on_a_real_terminal(h: ModuleType, data_dir: Any, people: Any) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    argv = ["destroy", cid, "--reason", "lost", "--data-dir", os.fspath(data_dir.path)]

    def state() -> str:
        service = KeyService(data_dir.settings())
        try:
            return str(service.status(service.local_actor("t"), cid)["state"])
        finally:
            service.close()

    code, seen = _tty_run(h, argv, b"no\n")
    assert code == 8, seen
    # spec §cli: the prompt lists what it will affect, then asks once.
    assert b"This affects 1 container" in seen and b"- export" in seen
    assert b"can never be opened again" in seen and b"aborted" in seen
    assert state() == "active"

    code, seen = _tty_run(h, argv, b"yes\n")
    assert code == 0, seen
    assert state() == "destroyed"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_file, key_file


def test_serve_with_tls(h: ModuleType, cli: Any, data_dir: Any, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    log = tmp_path / "tls.log"
    proc, url = start_serve(
        data_dir.path,
        log,
        "--tls-cert",
        os.fspath(cert),
        "--tls-key",
        os.fspath(key),
        scheme="https",
        verify=os.fspath(cert),
    )
    try:
        env = h.clean_env(KEYSERVER_TOKEN=data_dir.admin_token, KEYSERVER_CA_BUNDLE=str(cert))
        ok = cli("whoami", "--json", "--server", url, env=env)
        assert ok.code == 0, (ok, log.read_text())
        assert ok.json()["name"] == "admin"
        # Without the CA the certificate is not trusted: a TLS failure, not a traceback.
        untrusted = cli(
            "whoami", "--server", url, env=h.clean_env(KEYSERVER_TOKEN=data_dir.admin_token)
        )
        assert untrusted.code == 7
        assert "not signed by a CA this command trusts" in untrusted.err, untrusted
        assert "KEYSERVER_CA_BUNDLE" in untrusted.err
        # An inherited REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE does not decide whom the token
        # goes to (the same trust-store rule as rwc's).
        # (A process: requests reads these from the real environment.)
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            token = data_dir.admin_token
            inherited = run(
                "whoami", "--server", url, KEYSERVER_TOKEN=token, **{variable: str(cert)}
            )
            assert inherited.returncode == 7, (variable, inherited.stderr)
        # --ca-bundle, like rwc's.
        flag = cli(
            "whoami",
            "--json",
            "--server",
            url,
            "--ca-bundle",
            os.fspath(cert),
            env=h.clean_env(KEYSERVER_TOKEN=data_dir.admin_token),
        )
        assert flag.code == 0 and flag.json()["name"] == "admin", flag
        missing = cli(
            "whoami",
            "--server",
            url,
            "--ca-bundle",
            os.fspath(tmp_path / "nope.pem"),
            env=h.clean_env(KEYSERVER_TOKEN=data_dir.admin_token),
        )
        assert missing.code == 3 and "CA bundle not found" in missing.err, missing
    finally:
        code = stop(proc, timeout=TIMEOUT)
    assert code == 0
