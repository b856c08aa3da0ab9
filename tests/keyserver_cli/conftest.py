"""Fixtures for the ``keyserver`` command tests (helpers: tests/support/keyserver_cli.py).

Servers are real (``running_server`` on a loopback ephemeral port, or ``keyserver serve``);
databases are real (SQLite in a temporary directory; PostgreSQL in a database created and
dropped per test, see tests/support/postgres.py).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

from keyserver._cli.main import main
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


def _run(
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


@pytest.fixture
def cli() -> Cli:
    """Run ``keyserver ARGV`` in-process; returns (exit code, stdout, stderr)."""
    return _run


@pytest.fixture(scope="session")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """One ``keyserver init`` per session; tests get copies (init syncs every migration)."""
    path = tmp_path_factory.mktemp("init") / "data"
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["init", "--data-dir", os.fspath(path)],
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
        env=clean_env(),
    )
    assert code == 0, err.getvalue()
    tokens = TOKEN_RE.findall(out.getvalue())
    assert len(tokens) == 1, out.getvalue()
    return DataDir(path, tokens[0])


@pytest.fixture(scope="session")
def initialised_people(
    initialised: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> tuple[DataDir, People]:
    """``initialised`` plus the principals of ``people``, added once per session.

    The same four ``principal add`` runs a test asking for ``people`` made in its own copy
    (0.15 CPU-s each time, for some 80 tests): the copy now holds them, with their audit
    entries, in the same order after the same ``init``.
    """
    path = tmp_path_factory.mktemp("init-people") / "data"
    shutil.copytree(initialised.path, path)
    dd = DataDir(path, initialised.admin_token)
    return dd, People(
        writer=add_principal(_run, dd, "writer", "writer"),
        reader=add_principal(_run, dd, "reader", "reader"),
        official=add_principal(_run, dd, "official", "official"),
        auditor=add_principal(_run, dd, "auditor", "auditor"),
    )


@pytest.fixture
def data_dir(initialised: DataDir, tmp_path: Path, request: pytest.FixtureRequest) -> DataDir:
    """A fresh initialised data directory (SQLite): a copy of the session's ``keyserver init``
    (with the principals of ``people`` in it when the test asks for them).

    copytree keeps the modes (master.key 0600, the directory's own) and the test owns its copy.
    """
    source = initialised
    if "people" in request.fixturenames:
        source = request.getfixturevalue("initialised_people")[0]
    path = tmp_path / "data"
    shutil.copytree(source.path, path)
    return DataDir(path, source.admin_token)


@pytest.fixture
def server(data_dir: DataDir) -> Iterator[str]:
    """A live key server over the data directory; yields its base URL."""
    with running_server(data_dir.settings()) as url:
        yield url


@pytest.fixture
def people(data_dir: DataDir, initialised_people: tuple[DataDir, People]) -> People:
    """Principals writer, reader, official and auditor in ``data_dir``, and their tokens."""
    return initialised_people[1]


@pytest.fixture
def signed_report(
    cli: Cli, data_dir: DataDir, people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """The log key and the signed report of a medium, printed (``-o -``) in ``tmp_path``.

    The working directory is ``tmp_path``, where a file ``-`` written by mistake shows.
    """
    monkeypatch.chdir(tmp_path)
    return keyserver_cli.signed_medium_report(cli, data_dir, people.writer)


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
