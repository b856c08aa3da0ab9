"""Settings precedence, master key handling, SQLite pragmas, migrations vs models."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from keyserver._cli.host import app_factory
from keyserver._domain.keys import KeyRing, SealedDataError
from keyserver._domain.settings import ConfigError, Settings
from keyserver._store import init_database, make_engine, migrations
from keyserver._store.models import Base


def test_precedence_flags_env_file(tmp_path: Path) -> None:
    (tmp_path / "keyserver.toml").write_text(
        'server_id = "from-file"\ncontact = "file@x"\npending_ttl = "60s"\ntrust_proxy = true\n'
    )
    env = {"KEYSERVER_CONTACT": "env@x", "KEYSERVER_CHALLENGE_TTL": "30s"}
    s = Settings.load(
        data_dir=tmp_path, overrides={"contact": "flag@x", "server_id": None}, env=env
    )
    assert s.server_id == "from-file"
    assert s.contact == "flag@x"
    assert s.pending_ttl == timedelta(seconds=60)
    assert s.challenge_ttl == timedelta(seconds=30)
    assert s.trust_proxy is True
    assert s.database_url == f"sqlite:///{tmp_path / 'keyserver.db'}"
    assert s.master_key_file == tmp_path / "master.key"


def test_bad_settings_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Settings.load(env={})  # no database
    with pytest.raises(ConfigError):
        Settings.load(data_dir=tmp_path, env={"KEYSERVER_NO_SUCH_THING": "1"})
    with pytest.raises(ConfigError):
        Settings.load(data_dir=tmp_path, env={"KEYSERVER_TRUST_PROXY": "maybe"})
    with pytest.raises(ConfigError):
        Settings.load(data_dir=tmp_path, overrides={"default_attempt_budget": 0}, env={})


def test_master_key_sources(tmp_path: Path) -> None:
    key = os.urandom(32)
    env = {"KEYSERVER_MASTER_KEY": base64.urlsafe_b64encode(key).decode().rstrip("=")}
    assert Settings.load(data_dir=tmp_path, env=env).load_master_key() == key
    s = Settings.for_data_dir(tmp_path)
    with pytest.raises(ConfigError):
        s.load_master_key()  # file missing
    (tmp_path / "master.key").write_bytes(b"short")
    with pytest.raises(ConfigError):
        s.load_master_key()
    (tmp_path / "master.key").write_bytes(key)
    assert s.load_master_key() == key
    assert "master_key_b64" not in repr(Settings.load(data_dir=tmp_path, env=env))


def test_sealed_values_bound_to_container_and_key() -> None:
    ring = KeyRing.from_master(os.urandom(32))
    sealed = ring.seal(b"\1" * 16, b"seed", b"s" * 32, os.urandom)
    assert ring.open(b"\1" * 16, b"seed", sealed) == b"s" * 32
    with pytest.raises(SealedDataError):
        ring.open(b"\2" * 16, b"seed", sealed)  # another container's row
    with pytest.raises(SealedDataError):
        ring.open(b"\1" * 16, b"receipt-key", sealed)  # another column
    with pytest.raises(SealedDataError):
        KeyRing.from_master(os.urandom(32)).open(b"\1" * 16, b"seed", sealed)


def test_migrations_match_models_and_pragmas(settings: Settings, backend: str) -> None:
    init_database(settings)  # idempotent on an initialised database
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == []
            if backend == "sqlite":
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            # One chain, migrated to its single head.
            assert ScriptDirectory(str(Path(migrations.__file__).parent)).get_heads() == [version]
    finally:
        engine.dispose()


def test_worker_factory_ignores_cli_variables_and_refuses_misspelled_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one uvicorn factory agrees with `keyserver serve`: a misspelled setting fails.

    (The removed keyserver._http.app:app_from_env silently dropped it, so a worker could
    run with the default 72h waiting period while the operator had set another.)
    """
    for name in [k for k in os.environ if k.startswith("KEYSERVER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KEYSERVER_DATABASE_URL", f"sqlite:///{tmp_path / 'ks.store'}")
    monkeypatch.setenv("KEYSERVER_MASTER_KEY", "A" * 43)
    monkeypatch.setenv("KEYSERVER_CONTACT", "c@x")
    # The command's own variables are not settings and are not refused.
    monkeypatch.setenv("KEYSERVER_TOKEN", "rwc_x")
    monkeypatch.setenv("KEYSERVER_SERVER", "https://x")
    app = app_factory()
    assert app.state.service.settings.contact == "c@x"
    monkeypatch.setenv("KEYSERVER_LOSS_WAITNG_PERIOD", "24h")
    with pytest.raises(ConfigError, match="unknown setting 'loss_waitng_period'"):
        app_factory()
