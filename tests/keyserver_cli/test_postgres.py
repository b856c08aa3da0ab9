"""``keyserver`` local mode on PostgreSQL (a database created and dropped for the test)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from keyserver._domain.settings import Settings
from tests.support import postgres

pytestmark = pytest.mark.postgres


def test_local_mode_on_postgresql(cli: Any, h: ModuleType, pg_url: str, tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "master.key"
    flags = ["--database-url", pg_url, "--master-key-file", str(key)]

    init = cli("init", *flags, "--json")
    assert init.code == 0, init
    admin_token = init.json()["token"]
    assert key.stat().st_mode & 0o777 == 0o600
    again = cli("init", *flags)
    assert again.code == 3 and "already initialised" in again.err

    # The same settings from the environment instead of flags.
    env = h.clean_env(KEYSERVER_DATABASE_URL=pg_url, KEYSERVER_MASTER_KEY_FILE=str(key))
    writer = json.loads(cli("principal", "add", "w", "--role", "writer", "--json", env=env).out)
    reader = cli("principal", "add", "reader", "--role", "reader", env=env)
    assert reader.code == 0

    settings = Settings.load(
        overrides={"database_url": pg_url, "master_key_file": key, "sweep_interval": 0}, env={}
    )
    cid = h.make_container(settings, writer["token"], medium="PG-1")
    result = cli("report-loss", "--medium", "PG-1", "--now", "--reason", "stolen", "--yes", env=env)
    assert result.code == 0, result
    status = cli("status", cid, "--json", env=env).json()
    assert status["state"] == "destroyed"
    # Crypto-erasure in the live table (dead tuples and WAL: see spec/protocol.md §erasure).
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres.conninfo(db)) as conn:
        row = conn.execute("select seed_sealed, receipt_key_sealed from containers").fetchone()
    assert row == (None, None)

    verify = cli("audit", "verify", "--json", env=env)
    assert verify.code == 0 and verify.json()["ok"] is True
    with h.running_server(settings) as url:
        who = cli("whoami", "--json", "--server", url, env=h.clean_env(KEYSERVER_TOKEN=admin_token))
        assert who.json()["name"] == "admin"
    assert cli("migrate", *flags).code == 0

    # A new master key for a database that already has principals: refused, and the new
    # key file is removed again (nothing half-made stays behind).
    other_key = tmp_path / "other.key"
    result = cli("init", "--database-url", pg_url, "--master-key-file", str(other_key))
    assert result.code == 3 and "already has principals" in result.err
    assert not other_key.exists()


def test_postgresql_without_schema(cli: Any, pg_url: str, tmp_path: Path) -> None:
    key = tmp_path / "mk"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    result = cli("principal", "list", "--database-url", pg_url, "--master-key-file", str(key))
    assert result.code == 3
    assert "no current key-server schema" in result.err and "keyserver init" in result.err


def test_postgresql_unreachable(cli: Any, tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens; the error names no password or URL.
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:9/nothing"
    result = cli("init", "--database-url", url, "--master-key-file", str(tmp_path / "mk"))
    assert result.code == 7
    assert "the database is unavailable" in result.err
    assert "s3cret" not in result.err
    assert not (tmp_path / "mk").exists()  # nothing half-made is left behind
