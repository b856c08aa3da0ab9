"""The two commands speak alike (issue 9), through the installed commands as processes.

--version; --json errors as one JSON document with ``ok``; a closed stdout ends quietly with
status 0; ``-`` as a file name means stdout or is refused clearly; no silent abbreviations;
a mistyped option or subcommand names the nearest one and the (sub)command's help.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.e2e import KeyServer
from tests.support.processes import clean_env
from tests.support.requirements import missing

BIN = Path(sys.executable).parent
RWC = BIN / "rwc"
KEYSERVER = BIN / "keyserver"
TIMEOUT = 120


def run(
    *argv: str | os.PathLike[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_into(stdout: int, *argv: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout the descriptor ``stdout``; stderr captured."""
    return subprocess.run(
        [os.fspath(a) for a in argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_into_closed_pipe(*argv: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader has already gone (`... | head -0`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # before the child starts: its first write fails with EPIPE
    try:
        return run_into(write_end, *argv)
    finally:
        os.close(write_end)


@pytest.fixture
def data_dir(shared_server: KeyServer) -> Path:
    """A key server's data directory with an audit log (the session's server: a `keyserver
    init` of this module's own cost ~1 CPU-s and said nothing more)."""
    return shared_server.data_dir


@pytest.mark.parametrize("command", [RWC, KEYSERVER])
def test_version(command: Path) -> None:
    result = run(command, "--version")
    assert result.returncode == 0, result.stderr
    name, version = result.stdout.split()
    assert name == command.name and version[0].isdigit()


@pytest.mark.parametrize(
    "argv",
    [
        (RWC, "--json", "ls"),  # a missing argument
        (RWC, "ls", "x.rwc", "--json", "--lng"),
        (KEYSERVER, "--json", "search", "--lable", "x"),
        (KEYSERVER, "media", "show", "--json"),  # a missing argument (status has none)
    ],
)
def test_json_usage_errors_are_json(argv: tuple[str | Path, ...]) -> None:
    result = run(*argv)
    assert result.returncode == 2, result.stderr
    doc = json.loads(result.stderr)
    assert doc["ok"] is False
    assert doc["error"]["exit_code"] == 2 and doc["error"]["kind"] == "usage"
    assert doc["error"]["message"] and "--help" in doc["error"]["hint"]
    assert doc["warnings"] == []  # both commands' error documents alike (spec §cli)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("argv", "unknown", "nearest", "help_of"),
    [
        ((RWC, "ls", "x.rwc", "--lng"), "--lng", "--long", "rwc ls"),
        ((RWC, "open", "x.rwc", "--directroy", "d"), "--directroy", "--directory", "rwc open"),
        ((KEYSERVER, "search", "--lable", "x"), "--lable", "--label", "keyserver search"),
        # The typo also leaves a required option missing: the typo is what to fix.
        ((KEYSERVER, "suspend", "--reson", "x"), "--reson", "--reason", "keyserver suspend"),
        ((RWC, "seal", "a", "--outptu", "x"), "--outptu", "--output", "rwc seal"),
        (
            (KEYSERVER, "audit", "verify", "--expect-haed", "1:00"),
            "--expect-haed",
            "--expect-head",
            "keyserver audit verify",
        ),
    ],
)
def test_mistyped_option_names_the_nearest_and_the_subcommand_help(
    argv: tuple[str | Path, ...], unknown: str, nearest: str, help_of: str
) -> None:
    result = run(*argv)
    assert result.returncode == 2, result.stderr
    assert f"unknown option {unknown}" in result.stderr
    assert f"did you mean {nearest}? see `{help_of} --help`" in result.stderr


@pytest.mark.parametrize(
    ("argv", "nearest", "help_of"),
    [
        ((RWC, "sael", "x"), "seal", "rwc"),
        ((KEYSERVER, "suspnd", "--container", "x"), "suspend", "keyserver"),
        ((KEYSERVER, "restor"), "restore, report, destroy", "keyserver"),
        ((KEYSERVER, "principal", "ad", "x"), "add", "keyserver principal"),
    ],
)
def test_mistyped_subcommand_names_the_nearest_in_english_and_japanese(
    argv: tuple[str | Path, ...], nearest: str, help_of: str
) -> None:
    result = run(*argv)
    assert result.returncode == 2, result.stderr
    assert f"hint: did you mean {nearest}? see `{help_of} --help`\n" in result.stderr
    language = {RWC: "RWC_LANG", KEYSERVER: "KEYSERVER_LANG"}[Path(argv[0])]
    ja = run(*argv, env={language: "ja"})
    assert ja.returncode == 2, ja.stderr
    assert f"hint: {nearest} のことですか? `{help_of} --help` を参照してください\n" in ja.stderr


@pytest.mark.parametrize(
    "argv",
    [
        # --lo would have meant --long, --lab --label: a prefix is not an option.
        (RWC, "ls", "x.rwc", "--lo"),
        (KEYSERVER, "search", "--lab", "x"),
        (KEYSERVER, "report-loss", "--medium", "m", "--reason", "r", "--no", "--yes"),
    ],
)
def test_no_silent_abbreviations(argv: tuple[str | Path, ...]) -> None:
    result = run(*argv)
    assert result.returncode == 2, result.stderr
    assert "unknown option" in result.stderr


def test_closed_pipe_ends_quietly_with_status_0(data_dir: Path) -> None:
    for argv in (
        (RWC, "--version"),
        (RWC, "--help"),
        (RWC, "seal", "--help"),
        (KEYSERVER, "--help"),
        (KEYSERVER, "--version"),
        (KEYSERVER, "serve", "--help"),
        (KEYSERVER, "audit", "export", "--data-dir", data_dir),
        (KEYSERVER, "audit", "list", "--json", "--data-dir", data_dir),
        # Text through rich, whose own handling of the closed pipe exited with status 1.
        (KEYSERVER, "audit", "list", "--data-dir", data_dir),
        (KEYSERVER, "whoami", "--data-dir", data_dir),
    ):
        result = run_into_closed_pipe(*argv)
        assert result.returncode == 0, (argv, result.stderr)
        assert result.stderr == "", (argv, result.stderr)


def test_output_onto_a_full_disk_is_a_clear_error(data_dir: Path) -> None:
    """stdout on a full device (`> /dev/full`): both commands say so in the system's words,
    exit 1 (keyserver said "unexpected OSError ... report it"), --help and --version too."""
    full = Path("/dev/full")
    if not full.exists():
        missing("/dev/full (Linux)", "run the suite on Linux")
    for argv in (
        (KEYSERVER, "whoami", "--data-dir", data_dir),
        (KEYSERVER, "audit", "list", "--data-dir", data_dir),
        (KEYSERVER, "audit", "list", "--json", "--data-dir", data_dir),
        (RWC, "--version"),
    ):
        with full.open("w") as stdout:
            result = run_into(stdout.fileno(), *argv)
        assert result.returncode == 1, (argv, result.stderr)
        assert "No space left on device" in result.stderr, (argv, result.stderr)
        assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    # Help and the version too: argparse dropped the failed write and both exited 0.
    for command, *asked in (
        (RWC, "--help"),
        (RWC, "seal", "--help"),
        (KEYSERVER, "--help"),
        (KEYSERVER, "--version"),
        (KEYSERVER, "serve", "--help"),
    ):
        with full.open("w") as stdout:
            result = run_into(stdout.fileno(), command, *asked)
        assert result.returncode == 1, (asked, result.stderr)
        said = f"{command.name}: error: No space left on device\n"
        assert result.stderr == said, (asked, result.stderr)


def test_dash_means_stdout_or_is_refused_clearly(data_dir: Path, tmp_path: Path) -> None:
    exported = run(KEYSERVER, "audit", "export", "-o", "-", "--data-dir", data_dir)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout.splitlines()[0])["seq"] == 1
    source = tmp_path / "a.txt"
    source.write_text("a")
    sealed = run(
        RWC, "seal", source, "-o", "-", "--server", "https://keys.city.example", "--no-password"
    )
    assert sealed.returncode == 2 and "cannot write a container to stdout" in sealed.stderr
    assert not Path("-").exists()
    for sub in ("ls", "info", "verify"):
        result = run(RWC, sub, "-")
        assert result.returncode == 2, result.stderr
        assert "not from stdin (-)" in result.stderr
