"""Helpers of the ``keyserver`` command tests (tests/keyserver_cli): runs, data, containers.

The command runs in-process through ``main(argv, stdin=, stdout=, stderr=, env=)`` with a
clean environment (no KEYSERVER_* of the developer leaks in), or as the installed
``.venv/bin/keyserver`` process. Containers are registered, evaluated and committed through
the real service layer with real VOPRF blinding, so state changes and audit entries are the
real ones.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from voprf import ristretto

from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver.testing import running_server
from tests.support.processes import clean_env, free_port

# Re-exported: tests reach them as h.NAME (running_server; the process helpers of
# tests/support/processes.py, which were defined here).
__all__ = ["clean_env", "free_port", "running_server"]

TOKEN_RE = re.compile(r"\brwc_[A-Za-z0-9_-]{43}\b")
KEYSERVER_BIN = Path(sys.executable).parent / "keyserver"
TIMEOUT = 60


@dataclass
class Result:
    """What one in-process run of the command produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class TtyInput(io.StringIO):
    """Confirmation answers typed at a terminal (in-process stand-in for a TTY stdin)."""

    def isatty(self) -> bool:
        return True


Cli = Callable[..., Result]


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    """Server settings for an initialised data directory (no background sweep)."""
    return Settings.load(data_dir=data_dir, overrides={"sweep_interval": 0, **overrides}, env={})


def audit_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The audit log of an initialised data directory, read through the service."""
    service = KeyService(settings_for(data_dir))
    try:
        page = service.audit_list(service.local_actor("test"), limit=1000)
        entries: list[dict[str, Any]] = page["entries"]
        return entries
    finally:
        service.close()


@dataclass
class DataDir:
    """An initialised data directory and its admin token."""

    path: Path
    admin_token: str

    def settings(self, **overrides: Any) -> Settings:
        return settings_for(self.path, **overrides)


def add_principal(
    cli: Cli, dd: DataDir, name: str, *roles: str, groups: tuple[str, ...] = ()
) -> str:
    """Create a principal through the command (local mode); return its token."""
    argv: list[str] = ["principal", "add", name]
    for role in roles:
        argv += ["--role", role]
    for group in groups:
        argv += ["--group", group]
    result = cli(*argv, "--data-dir", dd.path)
    assert result.code == 0, result
    tokens = TOKEN_RE.findall(result.out)
    assert len(tokens) == 1, result
    token: str = tokens[0]
    return token


@dataclass
class People:
    """Principals of a test and their tokens."""

    writer: str
    reader: str
    official: str
    auditor: str


def _blinded() -> bytes:
    _client, blinded = ristretto.Client.blind(b"rwc/v1 oprf input" + secrets.token_bytes(16))
    return bytes(blinded.serialize())


def make_container(
    settings: Settings,
    writer_token: str,
    *,
    medium: str = "USB-1",
    readers: tuple[str, ...] = ("reader",),
    commit: bool = True,
    attempt_budget: int | None = None,
    receipt_key: bytes | None = None,
    label: str = "export",
    people: int | None = None,
) -> str:
    """Register (and by default commit) a container as the writer; return its id.

    ``receipt_key``: the one committed (a test sending receipts keeps it), else random.
    """
    service = KeyService(settings)
    try:
        writer = service.authenticate(writer_token)
        reg = service.register(
            writer,
            label=label,
            medium=medium,
            readers=list(readers),
            reader_groups=[],
            not_after=None,
            password_required=True,
            attempt_budget=attempt_budget,
            people=people,
        )
        cid = str(reg["container_id"])
        service.evaluate(writer, cid, _blinded())
        if commit:
            service.commit(
                writer,
                cid,
                header_digest=secrets.token_bytes(32),
                receipt_key=receipt_key or secrets.token_bytes(32),
            )
        return cid
    finally:
        service.close()


def signed_medium_report(cli: Cli, data_dir: DataDir, writer_token: str) -> tuple[str, str]:
    """A log key for ``data_dir`` and the signed report of medium USB-1 (one container).

    Returns the log's public key and the report as ``report --signed ... -o -`` printed
    it (the caller's working directory must be one where a file ``-`` would show).
    """
    created = cli("log-key", "--create", "--data-dir", data_dir.path, "--json")
    assert created.code == 0, created
    make_container(data_dir.settings(), writer_token, medium="USB-1")
    where = ("--data-dir", data_dir.path)
    signed = cli("report", "--medium", "USB-1", "--signed", "medium-report", "-o", "-", *where)
    assert signed.code == 0, signed
    return str(json.loads(created.out)["log_key"]), signed.out


#: The name local mode acts as (``operator@<host>``), as the audit log records it.
OPERATOR = "operator@" + "".join(
    c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname()
)


def local_service(dd: DataDir) -> KeyService:
    """The service over ``dd``'s database (the caller closes it)."""
    return KeyService(settings_for(dd.path))


def container_status(settings: Settings, cid: str) -> dict[str, Any]:
    """A container's status as the service reads it from ``settings``'s database."""
    service = KeyService(settings)
    try:
        return service.status(service.local_actor("test"), cid)
    finally:
        service.close()


def reader_evaluates(settings: Settings, reader_token: str, cid: str) -> dict[str, Any]:
    """One evaluation by a reader (an audited key release, no receipt); its answer."""
    service = KeyService(settings)
    try:
        return service.evaluate(service.authenticate(reader_token), cid, _blinded())
    finally:
        service.close()


def backdated(settings: Settings, days: float) -> Settings:
    """The same settings with a clock ``days`` in the past (for due pending containers)."""
    shift = timedelta(days=days)
    return settings.replace(clock=lambda: datetime.now(UTC) - shift)


def run(*argv: str | os.PathLike[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``keyserver ARGV`` with a clean environment plus ``env``."""
    return subprocess.run(
        [os.fspath(KEYSERVER_BIN), *(os.fspath(a) for a in argv)],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def start_serve(
    dd: Path,
    log_path: Path,
    *extra: str,
    scheme: str = "http",
    verify: str | bool = True,
    name: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``keyserver serve`` on a free port; wait for /healthz; return (process, URL).

    ``verify``: the CA file an https server's certificate is checked against (True: the
    system's; not False: a test knows what it connects to, and urllib3 warns without it).
    ``name``: the server's host in the URL (it listens on 127.0.0.1): ``localhost`` for a
    certificate that names only that.
    ``env``: settings for the server beyond its command line (e.g. its display zone).

    Another process may take the port between the probe and the bind: then the server
    exits at once and is started again on another port.
    """
    for _attempt in range(3):
        port = free_port()
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [
                    os.fspath(KEYSERVER_BIN),
                    "serve",
                    "--data-dir",
                    os.fspath(dd),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    *extra,
                ],
                env=clean_env(**(env or {})),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        url = f"{scheme}://{name}:{port}"
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(url + "/healthz", timeout=2, verify=verify).status_code == 200:
                    return proc, url
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or too slow on a loaded machine: ask again until TIMEOUT.
                time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    pytest.fail("keyserver serve did not come up:\n" + log_path.read_text())
