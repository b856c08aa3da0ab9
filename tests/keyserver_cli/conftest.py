"""Fixtures for the ``keyserver`` command tests (helpers: tests/support/keyserver_cli.py).

Servers are real (``running_server`` on a loopback ephemeral port, or ``keyserver serve``);
databases are real (SQLite in a temporary directory; PostgreSQL in a database created and
dropped per test, see tests/support/postgres.py).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

from keyserver.cli.main import main
from keyserver.testing import running_server
from tests.support import keyserver_cli, postgres
from tests.support.keyserver_cli import (
    TOKEN_RE,
    Cli,
    DataDir,
    People,
    Result,
    add_principal,
    clean_env,
)


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


@pytest.fixture
def people(cli: Cli, data_dir: DataDir) -> People:
    return People(
        writer=add_principal(cli, data_dir, "writer", "writer"),
        reader=add_principal(cli, data_dir, "reader", "reader"),
        official=add_principal(cli, data_dir, "official", "official"),
        auditor=add_principal(cli, data_dir, "auditor", "auditor"),
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (``ks_cli_<random>``), dropped afterwards."""
    with postgres.fresh_database("ks_cli") as name:
        yield postgres.database_url(name)


@pytest.fixture
def h() -> ModuleType:
    """tests/support/keyserver_cli.py, for tests written before it could be imported by name.

    New tests import it: ``from tests.support import keyserver_cli as h``.
    """
    return keyserver_cli
