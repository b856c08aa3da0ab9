"""``keyserver`` in local mode (``--data-dir``), in-process, on SQLite.

Every exit code and error path of the local mode; effects are checked in the database
through the service layer, not only in the command's output.

Length: every exit code and error path of the local mode, grouped by command, sharing the
session's initialised data directory (conftest.py).
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyserver.cli import main as cli_module
from keyserver.domain.errors import UnauthenticatedError
from keyserver.service import KeyService

OPERATOR = "operator@" + "".join(
    c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname()
)


def _service(h: ModuleType, dd: Any) -> KeyService:
    return KeyService(h.settings_for(dd.path))


def _state(h: ModuleType, dd: Any, cid: str) -> dict[str, Any]:
    service = _service(h, dd)
    try:
        return service.status(service.local_actor("test"), cid)
    finally:
        service.close()


# -- init ------------------------------------------------------------------------------------


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


# -- principals and tokens -------------------------------------------------------------------


def test_principals_and_tokens(cli: Any, h: ModuleType, data_dir: Any) -> None:
    dd = data_dir.path
    result = cli(
        "principal",
        "add",
        "clerk@city.example",
        "--role",
        "reader",
        "--role",
        "auditor",
        "--group",
        "benefits",
        "--organisation",
        "Amagasaki City",
        "--data-dir",
        dd,
    )
    assert result.code == 0, result
    token = h.TOKEN_RE.findall(result.out)[0]
    service = _service(h, data_dir)
    try:
        clerk = service.authenticate(token)
        assert clerk.roles == frozenset({"reader", "auditor"})
        assert clerk.groups == frozenset({"benefits"})
    finally:
        service.close()

    listed = cli("principal", "list", "--data-dir", dd, "--json")
    assert listed.code == 0
    names = {p["name"]: p for p in listed.json()}
    assert names["clerk@city.example"]["organisation"] == "Amagasaki City"
    assert "clerk@city.example" in cli("principal", "list", "--data-dir", dd).out

    second = cli(
        "token", "create", "clerk@city.example", "--expires-in", "30d", "--json", "--data-dir", dd
    )
    assert second.code == 0, second
    doc = second.json()
    assert doc["expires_at"] is not None and h.TOKEN_RE.fullmatch(doc["token"])

    tokens = cli("token", "list", "--json", "--data-dir", dd).json()
    ids = [t["token_id"] for t in tokens if t["name"] == "clerk@city.example"]
    assert len(ids) == 2
    assert all("token" not in t and "hash" not in json.dumps(t) for t in tokens)

    revoked = cli("token", "revoke", doc["token_id"], "--data-dir", dd, "--json")
    assert revoked.code == 0 and revoked.json()["revoked_at"] is not None
    service = _service(h, data_dir)
    try:
        with pytest.raises(UnauthenticatedError):
            service.authenticate(doc["token"])
        service.authenticate(token)  # the other token still works
    finally:
        service.close()


def test_principal_errors(cli: Any, h: ModuleType, data_dir: Any) -> None:
    dd = data_dir.path
    h.add_principal(cli, data_dir, "dup", "reader")
    result = cli("principal", "add", "dup", "--role", "reader", "--data-dir", dd)
    assert result.code == 6
    assert "(conflict)" in result.err
    result = cli("principal", "add", "x", "--role", "wizard", "--data-dir", dd)
    assert result.code == 2
    assert "invalid choice: 'wizard'" in result.err
    result = cli("principal", "add", "bad name!", "--role", "reader", "--data-dir", dd)
    assert result.code == 6
    assert "(invalid-request)" in result.err
    result = cli("token", "create", "nobody", "--data-dir", dd)
    assert result.code == 5
    assert "(not-found)" in result.err
    # spec §media: a principal name that matches nothing comes with the nearest names.
    result = cli("token", "create", "dupe", "--data-dir", dd)
    assert result.code == 5 and "did you mean dup?" in result.err
    result = cli("token", "revoke", "tk_nothing", "--data-dir", dd)
    assert result.code == 5
    result = cli("token", "create", "dup", "--expires-in", "soon", "--data-dir", dd)
    assert result.code == 2
    assert "'soon' is not a duration" in result.err
    result = cli("token", "create", "dup", "--expires-at", "yesterday", "--data-dir", dd)
    assert result.code == 6
    assert "RFC 3339" in result.err


def test_acting_principal_is_audited(cli: Any, h: ModuleType, data_dir: Any) -> None:
    h.add_principal(cli, data_dir, "a1", "reader")
    result = cli(
        "principal",
        "add",
        "a2",
        "--role",
        "reader",
        "--data-dir",
        data_dir.path,
        "--as",
        "tanaka@city.example",
    )
    assert result.code == 0
    adds = [e for e in h.audit_entries(data_dir.path) if e["action"] == "principal.add"]
    assert [e["actor"] for e in adds] == [OPERATOR, OPERATOR, "tanaka@city.example"]
    assert all(e["remote"] == "local" for e in adds)
    who = cli("whoami", "--data-dir", data_dir.path, "--json").json()
    assert who["name"] == OPERATOR and who["local"] is True
    bad = cli("whoami", "--data-dir", data_dir.path, "--as", "no spaces please")
    assert bad.code == 6 and "actor name" in bad.err


# -- state changes ---------------------------------------------------------------------------


def test_suspend_restore_destroy(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer)
    dd = data_dir.path

    result = cli(
        "suspend", cid, "--reason", "vendor audit", "--public-reason", "ask IT", "--data-dir", dd
    )
    assert result.code == 0, result
    assert "suspend: 1 container changed" in result.out and cid in result.out
    status = _state(h, data_dir, cid)
    assert (status["state"], status["reason"], status["public_reason"]) == (
        "suspended",
        "vendor audit",
        "ask IT",
    )

    result = cli("restore", cid, "--reason", "audit done", "--json", "--data-dir", dd)
    assert result.json() == {"affected": 1, "container_ids": [cid], "left_suspended": {}}
    assert _state(h, data_dir, cid)["state"] == "active"

    # Destructive: no TTY and no --yes is a usage error, and nothing changes.
    result = cli("destroy", cid, "--reason", "contract ended", "--data-dir", dd)
    assert result.code == 2
    assert "keyserver: hint: pass --yes" in result.err
    assert _state(h, data_dir, cid)["state"] == "active"

    result = cli("destroy", cid, "--reason", "contract ended", "--yes", "--data-dir", dd)
    assert result.code == 0, result
    assert _state(h, data_dir, cid)["state"] == "destroyed"
    with sqlite3.connect(dd / "keyserver.db") as db:
        row = db.execute("select seed_sealed, receipt_key_sealed from containers").fetchone()
    assert row == (None, None)  # crypto-erasure

    result = cli("restore", cid, "--reason", "oops", "--data-dir", dd)
    assert result.code == 6
    assert "(destroyed)" in result.err
    result = cli("suspend", "A" * 22, "--reason", "x", "--data-dir", dd)
    assert result.code == 5
    result = cli("suspend", "not-an-id", "--reason", "x", "--data-dir", dd)
    assert result.code == 6 and "(invalid-request)" in result.err

    actions = [
        (e["action"], e["actor"]) for e in h.audit_entries(data_dir.path) if e["container"] == cid
    ]
    assert ("suspend", OPERATOR) in actions and ("destroy", OPERATOR) in actions


def test_confirmation_prompt(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    result = cli(
        "destroy", cid, "--reason", "r", "--data-dir", data_dir.path, stdin=h.TtyInput("no\n")
    )
    assert result.code == 8
    assert "Type 'yes' to confirm" in result.err
    assert "aborted; nothing was changed" in result.err
    assert _state(h, data_dir, cid)["state"] == "active"
    result = cli(
        "destroy", cid, "--reason", "r", "--data-dir", data_dir.path, stdin=h.TtyInput("yes\n")
    )
    assert result.code == 0, result
    assert _state(h, data_dir, cid)["state"] == "destroyed"


def test_bulk_by_medium_and_issuer(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    a = h.make_container(settings, people.writer, medium="USB-A")
    b = h.make_container(settings, people.writer, medium="USB-A")
    c = h.make_container(settings, people.writer, medium="USB-B")
    result = cli(
        "suspend", "--medium", "USB-A", "--reason", "r", "--json", "--data-dir", data_dir.path
    )
    assert result.code == 0
    assert sorted(result.json()["container_ids"]) == sorted([a, b])
    assert _state(h, data_dir, c)["state"] == "active"
    result = cli(
        "destroy",
        "--issuer",
        "writer",
        "--reason",
        "breach",
        "--yes",
        "--json",
        "--data-dir",
        data_dir.path,
    )
    assert result.json()["affected"] == 3
    result = cli("suspend", "--issuer", "nobody", "--reason", "r", "--data-dir", data_dir.path)
    assert result.code == 5
    result = cli("suspend", a, "--medium", "USB-A", "--reason", "r", "--data-dir", data_dir.path)
    assert result.code == 2 and "not allowed with argument" in result.err
    result = cli("suspend", "--medium", "USB-A", "--data-dir", data_dir.path)
    assert result.code == 2 and "--reason" in result.err


def test_report_loss(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="LOST-1")

    def report_loss(*args: str) -> Any:
        return cli("report-loss", "--medium", "LOST-1", *args, "--data-dir", data_dir.path)

    # spec §cli: under short_waiting_period (24 h) it asks, like --now
    result = report_loss("--reason", "bag lost", "--waiting-period", "2h", "--json", "--yes")
    assert result.code == 0, result
    status = _state(h, data_dir, cid)
    assert status["state"] == "suspended"
    lost = datetime.fromisoformat(status["loss_reported_at"])
    assert (datetime.fromisoformat(status["destroy_after"]) - lost).total_seconds() == 7200
    assert result.json()["destroy_after"] == status["destroy_after"]

    refused = [
        (("--now", "--reason", "stolen"), 2, "--yes"),
        (("--now", "--waiting-period", "1h", "--reason", "x", "--yes"), 2, "exclude each other"),
        (("--waiting-period", "3x", "--reason", "x"), 2, "--waiting-period"),
        (("--waiting-period", "9999d", "--reason", "x"), 6, "waiting period"),
    ]
    for args, code, said in refused:
        result = report_loss(*args)
        assert result.code == code and said in result.err, (args, result)
        assert _state(h, data_dir, cid)["state"] == "suspended"
    result = report_loss("--now", "--reason", "stolen", "--yes")
    assert result.code == 0, result
    assert _state(h, data_dir, cid)["state"] == "destroyed"


def test_status_search_report(cli: Any, h: ModuleType, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="REP-1")
    pending = h.make_container(settings, people.writer, medium="REP-1", commit=False)
    h.reader_evaluates(settings, people.reader, cid)
    dd = data_dir.path

    status = cli("status", cid, "--json", "--data-dir", dd)
    assert status.code == 0
    assert status.json()["state"] == "active" and status.json()["unconfirmed"] == 1
    people_view = cli("status", cid, "--data-dir", dd).out
    assert "state" in people_view and "active" in people_view and cid in people_view

    found = cli("search", "--medium", "REP-1", "--json", "--data-dir", dd).json()
    assert {c["container_id"] for c in found["containers"]} == {cid, pending}
    found = cli(
        "search", "--medium", "REP-1", "--state", "pending", "--json", "--data-dir", dd
    ).json()
    assert [c["container_id"] for c in found["containers"]] == [pending]
    page = cli("search", "--limit", "1", "--json", "--data-dir", dd).json()
    assert len(page["containers"]) == 1 and page["next"] is not None
    table = cli("search", "--limit", "1", "--data-dir", dd)
    assert "more: --after" in table.err
    assert cli("search", "--limit", "0", "--data-dir", dd).code == 2
    assert cli("search", "--state", "lost", "--data-dir", dd).code == 2

    cli("report-loss", "--medium", "REP-1", "--reason", "lost", "--data-dir", dd)
    report = cli("report", "--medium", "REP-1", "--json", "--data-dir", dd)
    assert report.code == 0
    doc = report.json()
    assert doc["medium"] == "REP-1"
    assert {c["container_id"] for c in doc["containers"]} == {cid, pending}
    text = cli("report", "--medium", "REP-1", "--data-dir", dd)
    assert text.code == 0 and "REP-1" in text.out
    # spec §media: a medium that matches nothing is not-found (exit 5) with suggestions.
    empty = cli("report", "--medium", "NOTHING", "--data-dir", dd)
    assert empty.code == 5 and "no medium 'NOTHING'" in empty.err
    typo = cli("report", "--medium", "REP-2", "--data-dir", dd)
    assert typo.code == 5 and "did you mean REP-1?" in typo.err


def test_sweep_destroys_expired_pending(
    cli: Any, h: ModuleType, data_dir: Any, people: Any
) -> None:
    # Registered "two days ago": its pending lifetime (24 h) is over.
    old = h.make_container(h.backdated(data_dir.settings(), 2), people.writer, commit=False)
    fresh = h.make_container(data_dir.settings(), people.writer, commit=False)
    result = cli("sweep", "--json", "--data-dir", data_dir.path, "--as", "cron@ks1")
    assert result.code == 0, result
    assert result.json()["pending_expired"] == 1
    assert _state(h, data_dir, old)["state"] == "destroyed"
    assert _state(h, data_dir, fresh)["state"] == "pending"
    sweeps = [e for e in h.audit_entries(data_dir.path) if e["action"] == "destroy"]
    assert sweeps[-1]["actor"] == "cron@ks1"


# -- audit -----------------------------------------------------------------------------------


def test_audit_list_export_verify(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, tmp_path: Path
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    dd = data_dir.path
    listed = cli("audit", "list", "--container", cid, "--json", "--data-dir", dd).json()
    assert [e["action"] for e in listed["entries"]] == ["register", "evaluate", "commit"]
    by_actor = cli("audit", "list", "--actor", "writer", "--json", "--data-dir", dd).json()
    assert {e["actor"] for e in by_actor["entries"]} == {"writer"}
    page = cli("audit", "list", "--limit", "2", "--json", "--data-dir", dd).json()
    assert page["next_after_seq"] == 2
    nxt = cli(
        "audit", "list", "--after-seq", "2", "--limit", "1", "--json", "--data-dir", dd
    ).json()
    assert nxt["entries"][0]["seq"] == 3
    assert "more: --after-seq 2" in cli("audit", "list", "--limit", "2", "--data-dir", dd).err
    assert cli("audit", "list", "--limit", "5000", "--data-dir", dd).code == 2

    out = tmp_path / "audit.jsonl"
    result = cli("audit", "export", "-o", out, "--data-dir", dd)
    assert result.code == 0, result
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert all(len(e["hash"]) == 64 for e in lines)
    assert f"wrote {len(lines)} audit entries" in result.err
    again = cli("audit", "export", "-o", out, "--data-dir", dd)
    assert again.code == 2 and "exists" in again.err
    assert not list(tmp_path.glob(".audit.jsonl.*"))
    stdout_export = cli("audit", "export", "--data-dir", dd)
    assert stdout_export.out == out.read_text()

    ok = cli("audit", "verify", "--data-dir", dd, "--json")
    assert ok.code == 0 and ok.json()["ok"] is True

    # Tamper with one entry the way a database thief without the master key could.
    with sqlite3.connect(dd / "keyserver.db") as db:
        db.execute("update audit_log set actor = 'nobody' where seq = 2")
    bad = cli("audit", "verify", "--data-dir", dd)
    assert bad.code == 1
    assert "keyserver: error: the audit chain does not verify" in bad.err
    assert "first_bad_seq  2" in bad.out


# -- command line and configuration ----------------------------------------------------------


def test_usage_errors(cli: Any) -> None:
    result = cli()
    assert result.code == 2 and result.err.startswith("keyserver: error:")
    result = cli("frobnicate")
    assert result.code == 2 and "invalid choice" in result.err
    assert "keyserver: hint: see `keyserver --help`" in result.err
    result = cli("audit")
    assert result.code == 2
    result = cli("search", "--limit", "many")
    assert result.code == 2 and "invalid int value" in result.err


def test_help_documents_exit_codes(cli: Any) -> None:
    result = cli("--help")  # to the command's stdout, not the interpreter's
    assert result.code == 0
    assert "exit codes:" in result.out and "8  aborted" in result.out
    result = cli("destroy", "--help")
    assert result.code == 0 and "--public-reason" in result.out


def test_both_modes_at_once(cli: Any, data_dir: Any) -> None:
    result = cli("status", "A" * 22, "--data-dir", data_dir.path, "--server", "http://127.0.0.1:9")
    assert result.code == 2
    assert "both --data-dir and --server" in result.err


def test_flags_choose_the_mode_over_the_environment(cli: Any, h: ModuleType, data_dir: Any) -> None:
    dead = "http://127.0.0.1:9"
    env = h.clean_env(KEYSERVER_SERVER=dead, KEYSERVER_TOKEN="rwc_" + "A" * 43)
    # --data-dir beats KEYSERVER_SERVER: local mode.
    result = cli("whoami", "--json", "--data-dir", data_dir.path, env=env)
    assert result.code == 0 and result.json()["local"] is True
    # Local-only commands use the data directory from the environment too.
    env_dd = h.clean_env(KEYSERVER_SERVER=dead, KEYSERVER_DATA_DIR=str(data_dir.path))
    assert cli("sweep", env=env_dd).code == 0
    # KEYSERVER_SERVER alone: remote mode (here: unreachable).
    assert cli("whoami", env=env).code == 7


def test_config_precedence_flag_env_toml(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, tmp_path: Path
) -> None:
    """loss_waiting_period: TOML 1h < KEYSERVER_LOSS_WAITING_PERIOD 2h < --flag 3h."""
    toml = tmp_path / "ks.toml"
    toml.write_text(f'data_dir = "{data_dir.path}"\nloss_waiting_period = "1h"\n')
    settings = data_dir.settings()

    def waiting(*flags: str, **env: str) -> float:
        medium = f"M-{len(flags)}-{len(env)}"
        cid = h.make_container(settings, people.writer, medium=medium)
        result = cli(
            "report-loss",
            "--medium",
            medium,
            "--reason",
            "r",
            *flags,
            env=h.clean_env(KEYSERVER_CONFIG=str(toml), **env),
        )
        assert result.code == 0, result
        status = _state(h, data_dir, cid)
        delta = datetime.fromisoformat(status["destroy_after"]) - datetime.fromisoformat(
            status["loss_reported_at"]
        )
        return delta.total_seconds()

    assert waiting() == 3600
    assert waiting(KEYSERVER_LOSS_WAITING_PERIOD="2h") == 7200
    assert waiting("--loss-waiting-period", "3h", KEYSERVER_LOSS_WAITING_PERIOD="2h") == 10800


@pytest.mark.parametrize("where", ["flag", "env", "toml"])
def test_bare_number_duration_refused_everywhere(
    cli: Any, h: ModuleType, data_dir: Any, tmp_path: Path, where: str
) -> None:
    """`72` is 72 seconds to a program and 72 hours to an official: refused in all three."""
    toml = tmp_path / "ks.toml"
    toml.write_text(
        f'data_dir = "{data_dir.path}"\n'
        + ("loss_waiting_period = 72\n" if where == "toml" else "")
    )
    flags = ["--loss-waiting-period", "72"] if where == "flag" else []
    env = {"KEYSERVER_LOSS_WAITING_PERIOD": "72"} if where == "env" else {}
    result = cli("sweep", *flags, env=h.clean_env(KEYSERVER_CONFIG=str(toml), **env))
    assert result.code == (2 if where == "flag" else 3), result
    assert "no unit and is ambiguous" in result.err and "72h" in result.err
    assert "Traceback" not in result.err


def test_config_file_errors(cli: Any, h: ModuleType, data_dir: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    result = cli("principal", "list", "--config", bad, "--data-dir", data_dir.path)
    assert result.code == 3 and "is not valid TOML" in result.err
    result = cli("principal", "list", "--config", tmp_path / "missing.toml")
    assert result.code == 3 and "does not exist" in result.err
    secret = tmp_path / "secret.toml"
    secret.write_text('token = "rwc_x"\n')
    result = cli("principal", "list", "--config", secret)
    assert result.code == 3 and "must not hold a token" in result.err
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    result = cli("principal", "list", "--config", unknown, "--data-dir", data_dir.path)
    assert result.code == 3 and "unknown setting 'colour'" in result.err
    result = cli(
        "principal",
        "list",
        "--data-dir",
        data_dir.path,
        env=h.clean_env(KEYSERVER_POOL_SIZE="lots"),
    )
    assert result.code == 3 and "invalid value for pool_size" in result.err


def test_verbose_shows_traceback_only_when_asked(
    cli: Any, h: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = cli("status", "A" * 22, "--data-dir", tmp_path)
    assert quiet.code == 3 and "Traceback" not in quiet.err
    loud = cli("status", "A" * 22, "--data-dir", tmp_path, "--verbose")
    assert loud.code == 3 and "Traceback (most recent call last)" in loud.err

    # The last-resort path: a bug inside a command is a message, not a traceback.
    def broken(_ctx: object) -> int:
        raise RuntimeError("bug")

    monkeypatch.setitem(cli_module.HANDLERS, "whoami", broken)
    result = cli("whoami")
    assert result.code == 1
    assert result.err == (
        "keyserver: error: unexpected RuntimeError\n"
        "keyserver: hint: run again with --verbose for the traceback, and report it\n"
    )
    assert "RuntimeError: bug" in cli("whoami", "--verbose").err


def test_interrupt(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_ctx: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli_module.HANDLERS, "whoami", interrupted)
    result = cli("whoami")
    assert (result.code, result.err) == (130, "keyserver: error: interrupted\n")


def test_options_before_the_command(cli: Any, data_dir: Any) -> None:
    result = cli("--json", "--data-dir", str(data_dir.path), "principal", "list")
    assert result.code == 0
    assert isinstance(json.loads(result.out), list)


def test_stdin_is_not_read_without_destructive_action(cli: Any, data_dir: Any) -> None:
    stdin = io.StringIO("yes\n")
    assert cli("principal", "list", "--data-dir", data_dir.path, stdin=stdin).code == 0
    assert stdin.read() == "yes\n"


def test_audit_verify_with_recorded_head_detects_truncation(
    cli: Any, h: ModuleType, data_dir: Any
) -> None:
    dd = data_dir.path
    h.add_principal(cli, data_dir, "p1", "reader")
    first = cli("audit", "verify", "--json", "--data-dir", dd).json()
    head = f"{first['head_seq']}:{first['head_hash']}"
    h.add_principal(cli, data_dir, "p2", "reader")
    assert cli("audit", "verify", "--expect-head", head, "--data-dir", dd).code == 0

    # Cut the tail and roll the head row back consistently: the chain alone still verifies.
    with sqlite3.connect(dd / "keyserver.db") as db:
        db.execute("delete from audit_log where seq > 1")
        db.execute(
            "update audit_head set seq = 1, hash = (select hash from audit_log where seq = 1)"
        )
    assert cli("audit", "verify", "--data-dir", dd).code == 0
    result = cli("audit", "verify", "--expect-head", head, "--json", "--data-dir", dd)
    assert result.code == 1
    assert result.json()["problem"] == "the recorded head is not in the chain (truncated?)"
    assert result.json()["first_bad_seq"] == first["head_seq"]

    wrong = f"1:{'00' * 32}"
    result = cli("audit", "verify", "--expect-head", wrong, "--json", "--data-dir", dd)
    assert result.code == 1 and "not in the chain" in result.json()["problem"]


@pytest.mark.parametrize(
    "bad",
    # The server's grammar (keyserver.domain.validation.parse_head): decimal ASCII seq >= 1,
    # exactly 64 hex digits. The command used to accept 1_0, +1, spaces and other digits.
    [
        "x",
        "0:" + "00" * 32,
        "1:abcd",
        "1_0:" + "00" * 32,
        "+1:" + "00" * 32,
        " 1:" + "00" * 32,
        "1:" + " ".join(["00"] * 32),
        "\u0663:" + "00" * 32,
    ],
)
def test_expect_head_grammar_is_the_servers(cli: Any, data_dir: Any, bad: str) -> None:
    result = cli("audit", "verify", "--expect-head", bad, "--data-dir", data_dir.path)
    assert result.code == 2, result
    assert "--expect-head" in result.err and "SEQ:HASH" in result.err


def test_container_ids_starting_with_a_dash(cli: Any, data_dir: Any) -> None:
    """One id in 64 starts with '-': it is an id, not an option (exit 5, not usage 2)."""
    dashed = "-" + "A" * 21
    dd = data_dir.path
    assert cli("status", dashed, "--data-dir", dd).code == 5
    assert cli("suspend", dashed, "--reason", "r", "--data-dir", dd).code == 5
    assert cli("destroy", "--data-dir", dd, dashed, "--yes", "--reason", "r").code == 5
    listed = cli("audit", "list", "--container", dashed, "--json", "--data-dir", dd)
    assert listed.code == 0 and listed.json()["entries"] == []
    # A real option of the same shape stays an option.
    assert cli("principal", "list", "--data-dir", dd, "--audit-inline-ids-max", "5").code == 0


def test_unreadable_config_and_master_key_paths(cli: Any, data_dir: Any, tmp_path: Path) -> None:
    result = cli("principal", "list", "--config", tmp_path)  # a directory, not a file
    assert result.code == 3 and "cannot read config file" in result.err
    key = data_dir.path / "master.key"
    key.unlink()
    key.mkdir()
    result = cli("principal", "list", "--data-dir", data_dir.path)
    assert result.code == 3 and "is not a regular file" in result.err
