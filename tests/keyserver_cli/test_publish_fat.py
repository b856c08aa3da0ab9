"""`keyserver` writes its files (audit export, backup, keys) with the ONE atomic publish of
pycontainer/_engine/staging.py, so a USB stick formatted FAT/exFAT (no hard links, no
O_TMPFILE; forced here by making both fail) gets the file, never a half one (issue 9)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.support.fat import pretend_fat
from tests.support.keyserver_cli import Cli, DataDir


@pytest.fixture
def fat(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_fat(monkeypatch)


@pytest.mark.parametrize(
    ("argv", "name"),
    [(("audit", "export", "-o"), "audit.jsonl"), (("backup",), "keyserver.backup")],
)
def test_written_whole_to_a_fat_stick(
    fat: None, cli: Cli, data_dir: DataDir, tmp_path: Path, argv: tuple[str, ...], name: str
) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    out = stick / name
    result = cli(*argv, out, "--data-dir", data_dir.path)
    assert result.code == 0, result
    assert out.stat().st_size > 0
    # spec §backup: a backup holds sealed seeds; an export is evidence: 0600 both.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in stick.iterdir()) == [name]  # nothing left beside it
    if argv[0] == "audit":
        lines = out.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))


def test_audit_export_never_overwrites(cli: Cli, data_dir: DataDir, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    out.write_text("kept\n")
    result = cli("audit", "export", "-o", out, "--data-dir", data_dir.path)
    assert result.code == 2, result
    assert "exists" in result.err
    assert out.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["audit.jsonl"]


def test_audit_state_is_replaced_atomically_on_a_fat_stick(
    fat: None, cli: Cli, data_dir: DataDir, tmp_path: Path
) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    state = stick / "head.txt"
    for _ in range(2):  # the second run replaces the first run's state
        result = cli("audit", "verify", "--state", state, "--data-dir", data_dir.path)
        assert result.code == 0, result
    assert ":" in state.read_text(encoding="ascii")
    assert sorted(p.name for p in stick.iterdir()) == ["head.txt"]


def test_an_unwritable_destination_is_a_clear_error(
    cli: Cli, data_dir: DataDir, tmp_path: Path
) -> None:
    """A stick not mounted (no such directory): one line saying what to check, exit 1."""
    out = tmp_path / "not-mounted" / "audit.jsonl"
    result = cli("audit", "export", "-o", out, "--data-dir", data_dir.path)
    assert result.code == 1, result
    assert f"cannot write {out}" in result.err
    assert "writable" in result.err
    assert "unexpected" not in result.err


@pytest.mark.parametrize("command", ["log-key", "witness"])
def test_new_keys_are_written_whole_to_a_fat_stick(
    fat: None, cli: Cli, data_dir: DataDir, tmp_path: Path, command: str
) -> None:
    """A log or witness key is made by the one policy for new secret files (issue 9)."""
    stick = tmp_path / "stick"
    stick.mkdir()
    if command == "log-key":
        name = "log.key"
        result = cli(
            "log-key", "--create", "--log-key-file", stick / name, "--data-dir", data_dir.path
        )
    else:
        name = "witness.key"
        result = cli("witness", "init", "--name", "witness.example/w1", "--state-dir", stick)
    assert result.code == 0, result
    key = stick / name
    assert key.read_text(encoding="ascii").startswith("PRIVATE+KEY+")
    assert key.read_text(encoding="ascii").endswith("\n")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600  # spec §transparency: a signing key
    assert sorted(p.name for p in stick.iterdir()) == [name]  # nothing left beside it


def test_a_log_key_that_cannot_be_written_is_a_clear_error(
    cli: Cli, data_dir: DataDir, tmp_path: Path
) -> None:
    """Its directory is a file: one line saying what to check, exit 1 (was "unexpected")."""
    (tmp_path / "afile").write_text("")
    key = tmp_path / "afile" / "log.key"
    result = cli("log-key", "--create", "--log-key-file", key, "--data-dir", data_dir.path)
    assert result.code == 1, result
    assert f"cannot write {key}" in result.err
    assert "unexpected" not in result.err
