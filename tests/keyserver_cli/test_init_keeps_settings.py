"""``keyserver init`` keeps the settings it is given, and creates its secret files 0600.

Issue 12: a newcomer's ``init --display-timezone Asia/Tokyo`` was accepted and then
forgotten (later commands showed ``+00:00``), and the SQLite database was created 0644.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyserver._domain.settings import Settings
from tests.support import keyserver_cli as h


def _kept(data: Path) -> dict[str, Any]:
    return tomllib.loads((data / "keyserver.toml").read_text(encoding="utf-8"))


def test_settings_given_to_init_hold_for_later_commands(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = cli(
        "init", "--data-dir", data, "--display-timezone", "Asia/Tokyo",
        "--loss-waiting-period", "72h", "--contact", 'Desk "A", ext. 12\\3',
    )  # fmt: skip
    assert result.code == 0, result
    assert "settings kept in" in result.out
    kept = data / "keyserver.toml"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert _kept(data) == {
        "display_timezone": "Asia/Tokyo",
        "loss_waiting_period": "72h",
        "contact": 'Desk "A", ext. 12\\3',
    }
    settings = Settings.load(data_dir=data, env={})
    assert settings.display_timezone == "Asia/Tokyo"
    assert settings.contact == 'Desk "A", ext. 12\\3'
    # A later command without the flag shows times in the kept zone.
    shown = cli("token", "list", "--data-dir", data)
    assert shown.code == 0, shown
    assert "+09:00" in shown.out and "+00:00" not in shown.out


def test_init_without_flags_writes_no_settings_file(cli: Any, tmp_path: Path) -> None:
    assert cli("init", "--data-dir", tmp_path / "d").code == 0
    assert not (tmp_path / "d" / "keyserver.toml").exists()


def test_relative_key_file_is_kept_absolute(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("init", "--data-dir", "data", "--master-key-file", "keys/master.key")
    assert result.code == 0, result
    assert _kept(tmp_path / "data") == {"master_key_file": str(tmp_path / "keys/master.key")}
    monkeypatch.chdir(tmp_path / "keys")
    assert cli("principal", "list", "--data-dir", tmp_path / "data").code == 0


def test_an_existing_settings_file_is_added_to(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "keyserver.toml").write_text('loss_waiting_period = "3d"\n# the city\'s desk')
    # 72h is 3d: the same setting, not a conflict.
    argv = ["init", "--data-dir", data, "--loss-waiting-period", "72h"]
    result = cli(*argv, "--display-timezone", "Asia/Tokyo")
    assert result.code == 0, result
    assert _kept(data) == {"loss_waiting_period": "3d", "display_timezone": "Asia/Tokyo"}


def test_a_conflict_with_the_settings_file_is_refused_before_anything_is_made(
    cli: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    before = 'display_timezone = "UTC"\n'
    (data / "keyserver.toml").write_text(before)
    result = cli("init", "--data-dir", data, "--display-timezone", "Asia/Tokyo")
    assert result.code == 3, result
    assert "sets display_timezone to another value than --display-timezone" in result.err
    assert (data / "keyserver.toml").read_text() == before
    assert sorted(p.name for p in data.iterdir()) == ["keyserver.toml"]


def test_without_a_data_directory_settings_that_cannot_be_kept_are_refused(
    cli: Any, tmp_path: Path
) -> None:
    key, db = tmp_path / "master.key", tmp_path / "ks.db"
    where = ["--database-url", f"sqlite:///{db}", "--master-key-file", key]
    result = cli("init", *where, "--display-timezone", "Asia/Tokyo", "--pending-ttl", "1h")
    assert result.code == 2, result
    assert "init cannot keep --display-timezone, --pending-ttl" in result.err
    assert "--data-dir" in result.err
    assert not key.exists() and not db.exists()
    # Where the database and the keys are is given to every command: accepted.
    assert cli("init", *where).code == 0


def test_a_failed_init_takes_its_settings_file_back(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Port 9 (discard) on loopback: nothing listens, init fails after keeping the settings.
    url = "postgresql+psycopg://postgres@127.0.0.1:9/nothing"
    result = cli("init", "--data-dir", data, "--database-url", url)
    assert result.code == 7, result
    assert not (data / "keyserver.toml").exists()


@pytest.mark.postgres
def test_postgresql_location_kept_with_the_data_directory(
    cli: Any, pg_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    result = cli("init", "--data-dir", data, "--database-url", pg_url, "--json")
    assert result.code == 0, result
    assert _kept(data) == {"database_url": pg_url}
    # The password a database URL may carry: the file is the owner's alone.
    assert (data / "keyserver.toml").stat().st_mode & 0o777 == 0o600
    assert not (data / "keyserver.db").exists()
    token = result.json()["token"]
    listed = cli("principal", "list", "--data-dir", data, "--json")
    assert listed.code == 0, listed
    assert [p["name"] for p in listed.json()] == ["admin"]
    assert h.TOKEN_RE.fullmatch(token)


SIDE_FILES = ("keyserver.db-wal", "keyserver.db-shm")


@contextlib.contextmanager
def _writing(db: Path) -> Iterator[None]:
    """Hold the database open in WAL mode after a write, so its side files exist."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE probe (x)")
        conn.commit()
        yield
    finally:
        conn.close()


def test_the_sqlite_database_and_its_side_files_are_private(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("init", "--data-dir", data).code == 0
    db = data / "keyserver.db"
    assert db.stat().st_mode & 0o777 == 0o600
    # SQLite gives the -wal and -shm files the database's mode: open one while writing.
    with _writing(db):
        for side in SIDE_FILES:
            assert (data / side).stat().st_mode & 0o777 == 0o600, side


def test_a_database_left_readable_by_others_is_made_private(cli: Any, tmp_path: Path) -> None:
    # Earlier versions created keyserver.db 0644 (and SQLite its -wal/-shm alike): every local
    # user could copy the wrapped keys. The next command that opens it takes those bits off.
    data = tmp_path / "data"
    assert cli("init", "--data-dir", data).code == 0
    db = data / "keyserver.db"
    db.chmod(0o644)
    with _writing(db):
        for side in SIDE_FILES:
            (data / side).chmod(0o644)
        listed = cli("principal", "list", "--data-dir", data, "--json")
        assert listed.code == 0, listed
        for name in ("keyserver.db", *SIDE_FILES):
            assert (data / name).stat().st_mode & 0o777 == 0o600, name
