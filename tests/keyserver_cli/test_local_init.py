"""``keyserver`` in local mode (``--data-dir``): init, migrate, and a data directory it cannot use.

In-process, on SQLite; effects are checked in the database through the service layer,
not only in the command's output. The other local-mode files: test_local_*.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from keyserver._service import KeyService


def test_init_creates_master_key_database_and_admin(
    cli: Any, h: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "new"
    result = cli("init", "--data-dir", path)
    assert result.code == 0, result
    tokens = h.TOKEN_RE.findall(result.out)
    assert len(tokens) == 1
    assert "shown once" in result.err
    key = path / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_bytes()) == 32
    assert path.stat().st_mode & 0o077 == 0
    service = KeyService(h.settings_for(path))
    try:
        admin = service.authenticate(tokens[0])
        assert admin.name == "admin"
        assert admin.roles == frozenset({"admin"})
    finally:
        service.close()
    # The token is in the output once, never in the database or the audit log.
    assert tokens[0].encode() not in (path / "keyserver.db").read_bytes()


def test_init_twice_is_refused_and_changes_nothing(cli: Any, data_dir: Any) -> None:
    key_before = (data_dir.path / "master.key").read_bytes()
    result = cli("init", "--data-dir", data_dir.path)
    assert result.code == 3
    assert "keyserver: error:" in result.err and "already initialised" in result.err
    assert "keyserver: hint: use `keyserver migrate`" in result.err
    assert (data_dir.path / "master.key").read_bytes() == key_before
    assert "Traceback" not in result.err


def test_init_json_and_admin_name(cli: Any, h: ModuleType, tmp_path: Path) -> None:
    result = cli("init", "--data-dir", tmp_path / "d", "--admin", "root@city.example", "--json")
    assert result.code == 0, result
    doc = json.loads(result.out)
    assert doc["name"] == "root@city.example"
    assert h.TOKEN_RE.fullmatch(doc["token"])
    assert result.err == ""


def test_init_data_dir_from_environment(cli: Any, h: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "envdir"
    result = cli("init", env=h.clean_env(KEYSERVER_DATA_DIR=str(path)))
    assert result.code == 0, result
    assert (path / "master.key").is_file()


def test_no_data_directory(cli: Any) -> None:
    result = cli("principal", "list")
    assert result.code == 3
    assert result.err.startswith("keyserver: error: no data directory\n")
    assert "KEYSERVER_DATA_DIR" in result.err


def test_uninitialised_data_directory(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("status", "A" * 22, "--data-dir", empty)
    assert result.code == 3
    assert "no key-server database" in result.err
    assert "keyserver init" in result.err
    assert not (empty / "keyserver.db").exists()  # nothing was created by looking


def test_master_key_readable_by_others_is_refused(cli: Any, data_dir: Any) -> None:
    key = data_dir.path / "master.key"
    key.chmod(0o644)
    result = cli("principal", "list", "--data-dir", data_dir.path)
    assert result.code == 3
    assert "accessible to group or others" in result.err
    assert f"hint: chmod 600 {key}" in result.err


def test_missing_master_key(cli: Any, data_dir: Any) -> None:
    (data_dir.path / "master.key").unlink()
    result = cli("principal", "list", "--data-dir", data_dir.path)
    assert result.code == 3
    assert "master key file" in result.err and "does not exist" in result.err


def test_wrong_master_key_is_refused(cli: Any, data_dir: Any) -> None:
    key = data_dir.path / "master.key"
    right = key.read_bytes()
    key.write_bytes(os.urandom(32))
    # A command that would append audit entries refuses to run with a foreign key...
    result = cli("principal", "add", "p", "--role", "reader", "--data-dir", data_dir.path)
    assert result.code == 3
    assert "the master key does not match this database" in result.err
    # ...and so does audit verify: the key opens no generation of this database (spec
    # §rotation), which is a configuration error, not a false tamper alarm.
    result = cli("audit", "verify", "--data-dir", data_dir.path, "--json")
    assert result.code == 3
    error = json.loads(result.err)  # --json: the error is JSON too
    assert error["ok"] is False and error["error"]["kind"] == "config"
    assert "the master key does not match this database" in error["error"]["message"]
    key.write_bytes(right)
    assert cli("audit", "verify", "--data-dir", data_dir.path).code == 0  # nothing appended


def test_corrupt_database_is_unavailable(cli: Any, data_dir: Any) -> None:
    (data_dir.path / "keyserver.db").write_bytes(b"this is not a database" * 100)
    for name in ("keyserver.db-wal", "keyserver.db-shm"):
        (data_dir.path / name).unlink(missing_ok=True)
    result = cli("principal", "list", "--data-dir", data_dir.path)
    assert result.code == 7
    assert "keyserver: error: the database is unavailable" in result.err
    assert "Traceback" not in result.err


def test_migrate(cli: Any, data_dir: Any, tmp_path: Path) -> None:
    result = cli("migrate", "--data-dir", data_dir.path)
    assert (result.code, result.out) == (0, "schema is current\n")
    result = cli("migrate", "--data-dir", tmp_path / "nothing")
    assert result.code == 3
    assert "keyserver init" in result.err


def test_unreadable_config_and_master_key_paths(cli: Any, data_dir: Any, tmp_path: Path) -> None:
    result = cli("principal", "list", "--config", tmp_path)  # a directory, not a file
    assert result.code == 3 and "cannot read config file" in result.err
    key = data_dir.path / "master.key"
    key.unlink()
    key.mkdir()
    result = cli("principal", "list", "--data-dir", data_dir.path)
    assert result.code == 3 and "is not a regular file" in result.err
