"""Fixtures for the ``keyserver`` command tests.

The command runs in-process through ``main(argv, stdin=, stdout=, stderr=, env=)`` with a
clean environment (no KEYSERVER_* of the developer leaks in), or as the installed
``.venv/bin/keyserver`` process. Servers are real (``running_server`` on a loopback
ephemeral port, or ``keyserver serve``); databases are real (SQLite in a temporary
directory; PostgreSQL at 127.0.0.1:5432 in a database created and dropped per test).
Containers are registered, evaluated and committed through the real service layer with
real VOPRF blinding, so state changes and audit entries are the real ones.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from voprf import ristretto

from keyserver.cli.main import main
from keyserver.domain.settings import Settings
from keyserver.service import KeyService
from keyserver.testing import running_server

TOKEN_RE = re.compile(r"\brwc_[A-Za-z0-9_-]{43}\b")
KEYSERVER_BIN = Path(sys.executable).parent / "keyserver"
PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any KEYSERVER_*/RWC_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSERVER_", "RWC_"))}
    env.update(extra)
    return env


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


@pytest.fixture
def cli() -> Cli:
    """Run ``keyserver ARGV`` in-process; returns (exit code, stdout, stderr)."""

    def run(
        *argv: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        stdin: io.StringIO | None = None,
    ) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            [os.fspath(a) for a in argv],
            stdin=stdin if stdin is not None else io.StringIO(""),
            stdout=out,
            stderr=err,
            env=clean_env() if env is None else dict(env),
        )
        return Result(code, out.getvalue(), err.getvalue())

    return run


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    """Server settings for an initialised data directory (no background sweep)."""
    return Settings.load(data_dir=data_dir, overrides={"sweep_interval": 0, **overrides}, env={})


@dataclass
class DataDir:
    """An initialised data directory and its admin token."""

    path: Path
    admin_token: str

    def settings(self, **overrides: Any) -> Settings:
        return settings_for(self.path, **overrides)


@pytest.fixture
def data_dir(cli: Cli, tmp_path: Path) -> DataDir:
    """``keyserver init`` a fresh data directory (SQLite)."""
    path = tmp_path / "data"
    result = cli("init", "--data-dir", path)
    assert result.code == 0, result
    tokens = TOKEN_RE.findall(result.out)
    assert len(tokens) == 1, result
    return DataDir(path, tokens[0])


@pytest.fixture
def server(data_dir: DataDir) -> Iterator[str]:
    """A live key server over the data directory; yields its base URL."""
    with running_server(data_dir.settings()) as url:
        yield url


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


@pytest.fixture
def people(cli: Cli, data_dir: DataDir) -> People:
    return People(
        writer=add_principal(cli, data_dir, "writer", "writer"),
        reader=add_principal(cli, data_dir, "reader", "reader"),
        official=add_principal(cli, data_dir, "official", "official"),
        auditor=add_principal(cli, data_dir, "auditor", "auditor"),
    )


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
) -> str:
    """Register (and by default commit) a container as the writer; return its id."""
    service = KeyService(settings)
    try:
        writer = service.authenticate(writer_token)
        reg = service.register(
            writer,
            label="export",
            medium=medium,
            readers=list(readers),
            reader_groups=[],
            not_after=None,
            password_required=True,
            attempt_budget=attempt_budget,
        )
        cid = str(reg["container_id"])
        service.evaluate(writer, cid, _blinded())
        if commit:
            service.commit(
                writer,
                cid,
                header_digest=secrets.token_bytes(32),
                receipt_key=secrets.token_bytes(32),
            )
        return cid
    finally:
        service.close()


def reader_evaluates(settings: Settings, reader_token: str, cid: str) -> None:
    """One evaluation by a reader (an audited key release, no receipt)."""
    service = KeyService(settings)
    try:
        service.evaluate(service.authenticate(reader_token), cid, _blinded())
    finally:
        service.close()


def backdated(settings: Settings, days: float) -> Settings:
    """The same settings with a clock ``days`` in the past (for due pending containers)."""
    shift = timedelta(days=days)
    return settings.replace(clock=lambda: datetime.now(UTC) - shift)


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection[Any] | None:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (``ks_cli_<random>``), dropped afterwards."""
    conn = _pg_admin()
    if conn is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    name = "ks_cli_" + secrets.token_hex(6)
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(db=name)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def h() -> ModuleType:
    """This module: the helpers above, for tests (conftest is not importable by name)."""
    return sys.modules[__name__]
