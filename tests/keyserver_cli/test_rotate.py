"""``keyserver rotate-master-key`` (spec §rotation): every secret moves to a new key while
the server serves, a killed rotation resumes, and the old key is then destroyed.

The promise checked everywhere: each container evaluates to the SAME element before,
during and after the rotation (its seed was re-sealed, not changed), on an instance
started with the old key and on one restarted with the new key; the audit chain keeps
verifying; after ``--finish`` the old key opens nothing.
"""

from __future__ import annotations

import base64
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from voprf import ristretto

from keyserver._domain.settings import Settings
from keyserver.testing import running_server
from tests.support import http_client, softhsm
from tests.support.keyserver_cli import (
    KEYSERVER_BIN,
    DataDir,
    People,
    TtyInput,
    clean_env,
    make_container,
)

# A fixed blinded element: the evaluated element then depends on the container's key only.
_BLINDED = (
    base64.urlsafe_b64encode(bytes(ristretto.Client.blind(b"rwc rotation test")[1].serialize()))
    .decode()
    .rstrip("=")
)


# Releases are repeated many times here: the attempt caps (spec §receipt) are not tested.
_NO_CAPS = {"principal_attempt_cap": 1_000_000, "medium_attempt_cap": 1_000_000}


def _evaluations(url: str, token: str, cids: list[str]) -> dict[str, str]:
    with http_client.client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        out = {}
        for cid in cids:
            resp = client.post(f"/v1/containers/{cid}/evaluate", json={"blinded_element": _BLINDED})
            assert resp.status_code == 200, resp.text
            out[cid] = resp.json()["evaluated_element"]
        return out


def _generations(data: Path) -> dict[int, int]:
    db = sqlite3.connect(data / "keyserver.db")
    try:
        rows = db.execute(
            "select key_generation, count(*) from containers group by key_generation"
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


def _phases(cli: Any, data: Path, **env: str) -> list[str]:
    result = cli(
        "audit", "list", "--data-dir", data, "--json", "--limit", "1000", env=clean_env(**env)
    )
    assert result.code == 0, result
    return [
        e["details"]["phase"]
        for e in result.json()["entries"]
        if e["action"] == "master-key.rotate"
    ]


def test_rotation_while_serving_keeps_every_key_and_destroys_the_old(
    cli: Any, data_dir: DataDir, people: People, tmp_path: Path
) -> None:
    old = data_dir.settings(**_NO_CAPS)
    cids = [make_container(old, people.writer, attempt_budget=1000) for _ in range(25)]
    new_key = tmp_path / "master-2.key"
    with running_server(old) as url:
        before = _evaluations(url, people.reader, cids)
        # Releases go on against the instance started with the OLD key during the rotation.
        stop = threading.Event()
        seen: list[dict[str, str] | BaseException] = []

        def serve() -> None:
            while not stop.is_set():
                try:
                    seen.append(_evaluations(url, people.reader, cids[:5]))
                except AssertionError as exc:  # a refused release: reported below
                    seen.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            result = cli(
                "rotate-master-key",
                "--data-dir",
                data_dir.path,
                "--to-file",
                new_key,
                "--batch",
                "4",
            )
        finally:
            stop.set()
            thread.join()
        assert result.code == 0, result
        assert "rotating from generation 1 to 2: 25 rows to re-seal" in result.err
        assert seen and all(s == {c: before[c] for c in cids[:5]} for s in seen)
        assert (new_key.stat().st_mode & 0o777) == 0o600
        assert _generations(data_dir.path) == {2: 25}
        # The old-key instance still opens every (re-sealed) row, and seals new ones
        # under the new generation.
        assert _evaluations(url, people.reader, cids) == before
        late = make_container(old, people.writer)
        assert _generations(data_dir.path) == {2: 26}
    new = old.replace(master_key_file=new_key)
    with running_server(new) as url:
        assert _evaluations(url, people.reader, cids) == before
        assert _evaluations(url, people.reader, [late])  # sealed under the new key
    # --finish refuses while the old key is configured, then destroys it.
    result = cli("rotate-master-key", "--data-dir", data_dir.path, "--finish", "--yes")
    assert result.code == 6, result
    assert "configure the new one (a key file) and restart every instance" in result.err
    old_file = data_dir.path / "master.key"
    old_copy = tmp_path / "old-copy.key"  # a copy someone kept: refused after --finish
    old_copy.write_bytes(old_file.read_bytes())
    old_copy.chmod(0o600)
    env = clean_env(KEYSERVER_MASTER_KEY_FILE=str(new_key))

    def finish(old_key_file: Path) -> Any:
        argv = ("rotate-master-key", "--data-dir", data_dir.path, "--finish", "--yes")
        return cli(*argv, "--old-key-file", old_key_file, env=env)

    result = finish(new_key)
    assert result.code == 3 and "is not the key of generation 1" in result.err
    assert new_key.exists()
    result = finish(old_file)
    assert result.code == 0, result
    assert not old_file.exists()
    result = cli(
        "status",
        cids[0],
        "--data-dir",
        data_dir.path,
        env=clean_env(KEYSERVER_MASTER_KEY_FILE=str(old_copy)),
    )
    assert result.code == 3
    assert "is generation 1, destroyed by a master-key rotation" in result.err
    assert _phases(cli, data_dir.path, KEYSERVER_MASTER_KEY_FILE=str(new_key)) == [
        "start",
        "done",
        "finish",
    ]
    result = cli("audit", "verify", "--data-dir", data_dir.path, env=env)
    assert result.code == 0, result
    with running_server(new) as url:
        assert _evaluations(url, people.reader, cids) == before


def test_a_killed_rotation_resumes(
    cli: Any, data_dir: DataDir, people: People, tmp_path: Path
) -> None:
    settings = data_dir.settings(**_NO_CAPS)
    cids = [make_container(settings, people.writer, attempt_budget=1000) for _ in range(40)]
    with running_server(settings) as url:
        before = _evaluations(url, people.reader, cids)
    new_key = tmp_path / "master-2.key"
    argv = [
        str(KEYSERVER_BIN),
        "rotate-master-key",
        "--data-dir",
        str(data_dir.path),
        "--to-file",
        str(new_key),
        "--batch",
        "1",
    ]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=clean_env())
    assert proc.stderr is not None
    for line in proc.stderr:
        if "re-sealed 5 of 40" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    moved = _generations(data_dir.path)
    assert moved.get(1, 0) > 0 and moved.get(2, 0) >= 5, moved  # killed mid-way
    result = cli("rotate-master-key", "--data-dir", data_dir.path, "--to-file", new_key)
    assert result.code == 0, result
    assert f"resuming the rotation from generation 1 to 2: {moved[1]} rows" in result.err
    assert _generations(data_dir.path) == {2: 40}
    assert _phases(cli, data_dir.path) == ["start", "done"]
    with running_server(settings.replace(master_key_file=new_key)) as url:
        assert _evaluations(url, people.reader, cids) == before
    result = cli("audit", "verify", "--data-dir", data_dir.path)
    assert result.code == 0, result


def test_rotation_file_to_hsm_then_hsm_to_hsm(
    cli: Any,
    data_dir: DataDir,
    people: People,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = softhsm.new_token(tmp_path, monkeypatch)
    file_settings = data_dir.settings(**_NO_CAPS)
    cids = [make_container(file_settings, people.writer, attempt_budget=1000) for _ in range(6)]
    with running_server(file_settings) as url:
        before = _evaluations(url, people.reader, cids)
    data = data_dir.path
    # file -> HSM: the HSM named by flags, its PIN in the environment.
    result = cli(
        "rotate-master-key",
        "--data-dir",
        data,
        "--to-hsm-key",
        "k1",
        "--to-hsm-module",
        token.module,
        "--to-hsm-token-label",
        token.label,
        env=clean_env(KEYSERVER_HSM_PIN=token.pin),
    )
    assert result.code == 0, result
    assert token.pin not in result.out + result.err
    k1 = clean_env(**token.env("k1"))
    result = cli(
        "rotate-master-key",
        "--data-dir",
        data,
        "--finish",
        "--yes",
        "--old-key-file",
        data / "master.key",
        env=k1,
    )
    assert result.code == 0, result
    assert not (data / "master.key").exists()
    # HSM -> HSM: a new key in the same token; --finish destroys the old one in the HSM.
    result = cli("rotate-master-key", "--data-dir", data, "--to-hsm-key", "k2", env=k1)
    assert result.code == 0, result
    k2 = clean_env(**token.env("k2"))
    result = cli("rotate-master-key", "--data-dir", data, "--finish", "--yes", env=k2)
    assert result.code == 0, result
    assert "destroyed the HSM key 'k1'" in result.err
    lib = pkcs11.lib(str(token.module))
    lib.reinitialize()
    with lib.get_token(token_label=token.label).open(user_pin=token.pin) as sess:
        labels = {o[pkcs11.Attribute.LABEL] for o in sess.get_objects()}
    assert labels == {"k2"}
    result = cli("status", cids[0], "--data-dir", data, env=k1)
    assert result.code == 3
    assert "the HSM key 'k1' is generation 2, destroyed by a master-key rotation" in result.err
    assert _generations(data) == {3: 6}
    hsm_settings = Settings.load(data_dir=data, overrides={"sweep_interval": 0, **_NO_CAPS}, env=k2)
    with running_server(hsm_settings) as url:
        assert _evaluations(url, people.reader, cids) == before
    result = cli("audit", "verify", "--data-dir", data, env=k2)
    assert result.code == 0, result
    result = cli("rotate-master-key", "--data-dir", data, "--status", "--json", env=k2)
    assert [(g["generation"], g["source"], g["state"]) for g in result.json()] == [
        (1, "file", "destroyed"),
        (2, "hsm", "destroyed"),
        (3, "hsm", "current"),
    ]


@pytest.mark.postgres
def test_rotation_on_postgresql(cli: Any, pg_url: str, tmp_path: Path) -> None:
    key, new_key = tmp_path / "master.key", tmp_path / "master-2.key"
    flags = ["--database-url", pg_url]
    result = cli("init", *flags, "--master-key-file", key)
    assert result.code == 0, result
    env = clean_env(KEYSERVER_DATABASE_URL=pg_url, KEYSERVER_MASTER_KEY_FILE=str(key))
    tokens = {}
    for name in ("writer", "reader"):
        result = cli("principal", "add", name, "--role", name, "--json", env=env)
        assert result.code == 0, result
        tokens[name] = result.json()["token"]
    settings = Settings.load(
        overrides={"database_url": pg_url, "master_key_file": key, "sweep_interval": 0, **_NO_CAPS},
        env={},
    )
    cids = [make_container(settings, tokens["writer"], medium=f"PG-{i}") for i in range(8)]
    # A destroyed container has no secret left: it moves generation and stays destroyed.
    result = cli("destroy", cids[0], "--reason", "lost", "--yes", env=env)
    assert result.code == 0, result
    with running_server(settings) as url:
        before = _evaluations(url, tokens["reader"], cids[1:])
        result = cli("rotate-master-key", "--to-file", new_key, "--batch", "3", env=env)
        assert result.code == 0, result
        assert _evaluations(url, tokens["reader"], cids[1:]) == before  # old-key instance
    new_env = clean_env(KEYSERVER_DATABASE_URL=pg_url, KEYSERVER_MASTER_KEY_FILE=str(new_key))
    result = cli("rotate-master-key", "--finish", "--yes", "--old-key-file", key, env=new_env)
    assert result.code == 0, result
    with running_server(settings.replace(master_key_file=new_key)) as url:
        assert _evaluations(url, tokens["reader"], cids[1:]) == before
    status = cli("rotate-master-key", "--status", "--json", env=new_env).json()
    assert [(g["generation"], g["state"], g["rows"]) for g in status] == [
        (1, "destroyed", 0),
        (2, "current", 8),
    ]
    assert cli("status", cids[0], "--json", env=new_env).json()["state"] == "destroyed"
    assert cli("audit", "verify", env=new_env).code == 0


def test_finish_asks_in_the_officials_language(cli: Any, data_dir: DataDir, tmp_path: Path) -> None:
    """``--finish``'s question was English only (issue 12, ops12): now in both languages."""
    new_key = tmp_path / "master-2.key"
    where = ("rotate-master-key", "--data-dir", data_dir.path)
    assert cli(*where, "--to-file", new_key).code == 0
    old_file = data_dir.path / "master.key"
    said = {}
    for lang in ("ja", "en"):
        env = clean_env(KEYSERVER_MASTER_KEY_FILE=str(new_key), KEYSERVER_LANG=lang)
        declined = cli(
            *where, "--finish", "--old-key-file", old_file, env=env, stdin=TtyInput("no\n")
        )
        assert declined.code == 8, declined  # aborted: nothing was destroyed
        assert old_file.exists()
        said[lang] = declined.err
    assert f"マスター鍵の世代 1 (古い鍵ファイル {old_file}) を破棄しますか?" in said["ja"]
    assert "二度と使えなくなります" in said["ja"] and "Destroy" not in said["ja"]
    assert f"Destroy master-key generation 1 (the old key file {old_file})?" in said["en"]
    assert "Type 'yes' to confirm" in said["en"]
