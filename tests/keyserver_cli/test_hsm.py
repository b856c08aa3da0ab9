"""The master key in an HSM (spec §keys-at-rest), against a SoftHSM2 token of each test's own.

Real PKCS#11 (python-pkcs11 over Debian's SoftHSM2), real database, real server: the
wrapping key is created by ``keyserver init`` and never leaves the token; the server
decrypts the generation's data key through it at start-up and releases keys.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass

from keyserver._domain.settings import ConfigError, Settings
from keyserver.testing import running_server
from tests.support import softhsm
from tests.support.keyserver_cli import TOKEN_RE, clean_env
from tests.support.world import World, activate, oprf


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> softhsm.Token:
    return softhsm.new_token(tmp_path, monkeypatch)


def _init(cli: Any, token: softhsm.Token, data: Path, key_label: str = "rwc-master") -> str:
    result = cli("init", "--data-dir", data, env=clean_env(**token.env(key_label)))
    assert result.code == 0, result
    assert token.pin not in result.out + result.err
    match = TOKEN_RE.search(result.out)
    assert match is not None
    return match.group(0)


def _settings(token: softhsm.Token, data: Path, **env: str) -> Settings:
    return Settings.load(data_dir=data, overrides={"sweep_interval": 0}, env={**token.env(), **env})


def test_init_creates_a_wrapping_key_that_never_leaves_the_hsm(
    cli: Any, token: softhsm.Token, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _init(cli, token, data)
    assert not (data / "master.key").exists()  # no key file: the HSM is the master key
    lib = pkcs11.lib(str(token.module))
    lib.reinitialize()
    with lib.get_token(token_label=token.label).open(user_pin=token.pin) as sess:
        key = sess.get_key(object_class=ObjectClass.SECRET_KEY, label="rwc-master")
        assert key.key_type == KeyType.AES and key[Attribute.VALUE_LEN] == 32
        assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE]
        assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
        assert key[Attribute.TOKEN] and key[Attribute.PRIVATE]
        assert not key[Attribute.WRAP]
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.VALUE]  # reading the value is what must fail
    db = sqlite3.connect(data / "keyserver.db")
    try:
        row = db.execute(
            "select generation, source, state, hsm_key_label, length(hsm_wrapped)"
            " from key_generations"
        ).fetchall()
    finally:
        db.close()
    # nonce || AES-GCM(32-byte data key) || tag, made inside the HSM
    assert row == [(1, "hsm", "current", "rwc-master", 12 + 32 + 16)]


def test_a_server_on_the_hsm_releases_keys(cli: Any, token: softhsm.Token, tmp_path: Path) -> None:
    data = tmp_path / "data"
    admin = _init(cli, token, data)
    env = clean_env(**token.env())
    tokens = {}
    for name in ("writer", "reader"):
        result = cli("principal", "add", name, "--role", name, "--data-dir", data, env=env)
        assert result.code == 0, result
        match = TOKEN_RE.search(result.out)
        assert match is not None
        tokens[name] = match.group(0)
    settings = _settings(token, data)
    with running_server(settings) as url:
        world = World(settings=settings, url=url, tokens={"admin": admin, **tokens})
        try:
            reg, _ = activate(world, reader_groups=[])
            first = oprf(world, "reader", reg["container_id"], reg["public_key"])
            again = oprf(world, "reader", reg["container_id"], reg["public_key"])
            assert first["output"] == again["output"]  # the same per-container key
        finally:
            world.close()
    # The chain written under the HSM's data key verifies.
    result = cli("audit", "verify", "--data-dir", data, env=env)
    assert result.code == 0, result


def test_hsm_mistakes_are_clear_and_never_show_the_pin(
    cli: Any, token: softhsm.Token, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _init(cli, token, data)
    wrong_pin = "99999999"
    cases = {
        "wrong PIN": (
            {"KEYSERVER_HSM_PIN": wrong_pin},
            f"the HSM refused the PIN for token {token.label!r}",
        ),
        "wrong token": (
            {"KEYSERVER_HSM_TOKEN_LABEL": "nope"},
            "no HSM token labelled 'nope'",
        ),
        "wrong module": (
            {"KEYSERVER_HSM_MODULE": str(tmp_path / "missing.so")},
            f"cannot load the PKCS#11 module {tmp_path / 'missing.so'}",
        ),
        "unknown key label": (
            {"KEYSERVER_HSM_KEY_LABEL": "other"},
            "the HSM key 'other' does not match this database",
        ),
    }
    for name, (change, message) in cases.items():
        env = clean_env(**{**token.env(), **change})
        result = cli("principal", "list", "--data-dir", data, env=env)
        assert result.code == 3, (name, result)
        assert message in result.err, (name, result.err)
        assert "Traceback" not in result.err
        assert token.pin not in result.err and wrong_pin not in result.err, name


def test_another_hsm_key_does_not_open_the_data_key(
    cli: Any, token: softhsm.Token, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _init(cli, token, data)
    # A second deployment's key in the same token, then its row edited to name ours.
    _init(cli, token, tmp_path / "other", key_label="other-key")
    db = sqlite3.connect(data / "keyserver.db")
    try:
        db.execute("update key_generations set hsm_key_label = 'other-key'")
        db.commit()
    finally:
        db.close()
    env = clean_env(**token.env("other-key"))
    result = cli("principal", "list", "--data-dir", data, env=env)
    assert result.code == 3, result
    assert "the HSM key 'other-key' does not open this database's data key" in result.err


def test_pin_from_a_file_only_if_private(cli: Any, token: softhsm.Token, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _init(cli, token, data)
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(token.pin + "\n", encoding="utf-8")
    env = {k: v for k, v in token.env().items() if k != "KEYSERVER_HSM_PIN"}
    env["KEYSERVER_HSM_PIN_FILE"] = str(pin_file)
    os.chmod(pin_file, 0o644)
    result = cli("principal", "list", "--data-dir", data, env=clean_env(**env))
    assert result.code == 3
    assert f"HSM PIN file {pin_file} is accessible to group or others" in result.err
    os.chmod(pin_file, 0o600)
    result = cli("principal", "list", "--data-dir", data, env=clean_env(**env))
    assert result.code == 0, result


def test_the_pin_is_never_a_flag_nor_in_the_toml_file(cli: Any, tmp_path: Path) -> None:
    result = cli("principal", "list", "--data-dir", tmp_path, "--hsm-pin", "1234")
    assert result.code == 2  # usage: no such option (a PIN on the command line shows in ps)
    (tmp_path / "keyserver.toml").write_text('hsm_pin = "1234"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'hsm_pin'"):
        Settings.load(data_dir=tmp_path, env={})


def test_one_master_key_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configure one master key"):
        Settings.load(
            overrides={
                "database_url": "sqlite:///x.db",
                "hsm_module": "/usr/lib/softhsm/libsofthsm2.so",
                "hsm_token_label": "t",
                "master_key_file": str(tmp_path / "master.key"),
            },
            env={},
        )
    # With a data directory, the HSM replaces the default key file; without, the file.
    hsm = Settings.load(
        data_dir=tmp_path,
        overrides={"hsm_module": "/x.so", "hsm_token_label": "t"},
        env={},
    )
    assert hsm.uses_hsm and hsm.master_key_file is None
    assert Settings.load(data_dir=tmp_path, env={}).master_key_file == tmp_path / "master.key"
