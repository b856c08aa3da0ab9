"""`-` in `keyserver`: stdin or stdout where a user would expect it, else a clear refusal
(issue 9). Before, `keyserver backup -` wrote a backup into a file named `-`, and
`restore-backup --replay -` read it back and ended in "unexpected UnicodeDecodeError"."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pycontainer.cli.strictargs import NO_DASH
from tests.support.keyserver_cli import Cli, DataDir, clean_env


@pytest.mark.parametrize(
    "argv",
    [
        ("backup", "-"),
        ("restore-backup", "-"),
        ("restore-backup", "--replay", "-"),
        ("restore-backup", "--checkpoint", "-"),
        ("audit", "verify", "--state", "-"),
        ("rotate-master-key", "--to-file", "-"),
        ("whoami", "--config", "-"),
    ],
)
def test_dash_is_refused_where_it_cannot_be_a_stream(
    cli: Cli,
    data_dir: DataDir,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*argv, "--data-dir", data_dir.path, "--json")
    assert result.code == 2, result
    error = json.loads(result.err)["error"]
    assert "needs a file name: - (stdin or stdout) cannot be used here" in error["message"]
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("setting", ["master_key_file", "log_key_file", "hsm_pin_file", "data_dir"])
def test_dash_is_refused_as_a_file_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    """A file setting is a file's name, from a flag, KEYSERVER_* or TOML alike. Before,
    `init --master-key-file -` wrote the master key into a file named `-` here."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    flag = "--" + setting.replace("_", "-")
    env = clean_env(**{"KEYSERVER_" + setting.upper(): "-"})
    if setting == "data_dir":  # `--data-dir -` is the parser's (test_usage_language.py)
        runs = [cli("init", "--json", env=env)]
    else:
        runs = [
            cli("init", "--data-dir", data, "--json", env=env),
            cli("init", "--data-dir", data, flag, "-", "--json"),
        ]
    for result in runs:
        assert result.code == 3, result
        message = json.loads(result.err)["error"]["message"]
        assert message == f"configuration: {setting}: {NO_DASH}", message
    assert sorted(tmp_path.iterdir()) == []  # no file named "-", no half-made data dir


def test_signed_report_to_stdout_and_verified_from_stdin(
    cli: Cli, signed_report: tuple[str, str], tmp_path: Path
) -> None:
    log_key, signed = signed_report
    assert not (tmp_path / "-").exists()
    doc = json.loads(signed)
    verified = cli("verify-report", "-", "--log-key", log_key, stdin=io.StringIO(json.dumps(doc)))
    assert verified.code == 0, verified
    doc["body"]["statement"]["medium"] = "USB-2"
    tampered = cli("verify-report", "-", "--log-key", log_key, stdin=io.StringIO(json.dumps(doc)))
    assert tampered.code == 1, tampered
    assert "TAMPERED" in tampered.err


def test_replay_of_a_file_that_is_not_text_is_a_clear_error(
    cli: Cli, data_dir: DataDir, tmp_path: Path
) -> None:
    binary = tmp_path / "backup-not-export"
    binary.write_bytes(b"SQLite format 3\x00\xf6\xff")
    result = cli("restore-backup", "--replay", binary, "--data-dir", data_dir.path)
    assert result.code == 2, result
    assert "cannot be the audit export" in result.err
    assert "not UTF-8 text" in result.err
    assert "unexpected" not in result.err
