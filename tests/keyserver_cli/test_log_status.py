"""``keyserver status`` without a container: the transparency log's name, key, checkpoint.

spec §transparency: the public key and name are published at ``/.well-known/rwc-log-key``
and ``/v1/tlog``; the command shows them (and the newest checkpoint) so that an official
can read them out to a journalist or a witness, in both modes.
"""

from __future__ import annotations

import requests

from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import Cli, DataDir


def test_local_status_shows_the_log(cli: Cli, data_dir: DataDir) -> None:
    vkey = cli("log-key", "--data-dir", data_dir.path)
    assert vkey.code == 0, vkey
    before = cli("status", "--json", "--data-dir", data_dir.path)
    assert before.code == 0, before
    log = before.json()["transparency_log"]
    assert log["log_key"] == vkey.out.strip()
    assert log["origin"] == vkey.out.split("+", 1)[0]
    assert log["latest_checkpoint"] is None
    assert log["published_at"] == ["/.well-known/rwc-log-key", "/v1/tlog"]

    assert cli("checkpoint", "--data-dir", data_dir.path).code == 0
    after = cli("status", "--json", "--data-dir", data_dir.path).json()["transparency_log"]
    cp = after["latest_checkpoint"]
    assert cp["size"] >= 1 and len(cp["root_hash"]) == 64 and cp["cosignatures"] == 0
    text = cli("status", "--data-dir", data_dir.path)
    assert text.code == 0
    assert vkey.out.strip() in text.out
    # Each count in its own form, not "entry(s)" or "cosignature(s)".
    entries = "1 entry" if cp["size"] == 1 else f"{cp['size']} entries"
    assert f"{entries}, root {cp['root_hash']}, 0 cosignatures" in text.out
    assert "(s)" not in text.out
    ja = cli("status", "--data-dir", data_dir.path, env=h.clean_env(KEYSERVER_LANG="ja"))
    assert ja.code == 0
    assert f"記録 {cp['size']} 件、ルート {cp['root_hash']}、連署 0 件" in ja.out
    assert "最新のチェックポイント" in ja.out and "latest checkpoint" not in ja.out


def test_remote_status_names_the_published_urls(cli: Cli, data_dir: DataDir, server: str) -> None:
    env = h.clean_env(KEYSERVER_TOKEN=data_dir.admin_token)
    assert cli("checkpoint", "--data-dir", data_dir.path).code == 0
    result = cli("status", "--json", "--server", server, env=env)
    assert result.code == 0, result
    log = result.json()["transparency_log"]
    well_known, info = log["published_at"]
    assert well_known == server + "/.well-known/rwc-log-key"
    assert info == server + "/v1/tlog"
    # What the command shows is what anyone fetches there, without a token.
    assert requests.get(well_known, timeout=10).text.strip() == log["log_key"]
    assert requests.get(info, timeout=10).json()["origin"] == log["origin"]
    assert log["latest_checkpoint"]["size"] >= 1


def test_status_without_a_log_key_says_how_to_make_one(cli: Cli, data_dir: DataDir) -> None:
    (data_dir.path / "log.key").unlink()
    result = cli("status", "--json", "--data-dir", data_dir.path)
    assert result.code == 0, result
    doc = result.json()
    assert doc["transparency_log"] is None
    assert "log-key" in doc["problem"]
    text = cli("status", "--data-dir", data_dir.path)
    assert text.code == 0 and "transparency log: none" in text.out
    ja = cli("status", "--data-dir", data_dir.path, env=h.clean_env(KEYSERVER_LANG="ja"))
    assert ja.code == 0 and "透明性ログ: なし" in ja.out, ja
    assert "透明性ログを持っていません" in ja.out and "keyserver log-key --create" in ja.out
