"""``keyserver``'s command line in local mode: usage errors, modes, configuration precedence.

In-process; exit codes and messages of the command line itself (flags, environment,
TOML), whichever command carries them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyserver._cli import main as cli_module


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
        status = h.container_status(data_dir.settings(), cid)
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


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "mysql://rwc:hunter2@db.example/rwc",
            "database_url: mysql:// is not a database rwc runs on",
        ),
        ("postgresql+asyncpg://rwc:hunter2@db/rwc", "postgresql+asyncpg:// is not a database"),
        ("rwc:hunter2@db.example/rwc", "database_url is not a URL"),
    ],
)
def test_a_database_rwc_does_not_run_on_is_a_configuration_error(
    cli: Any, h: ModuleType, url: str, said: str
) -> None:
    # Was "unexpected ModuleNotFoundError" at the first connection (no driver for it).
    result = cli("principal", "list", env=h.clean_env(KEYSERVER_DATABASE_URL=url))
    assert result.code == 3, result
    assert said in result.err
    assert "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB" in result.err
    assert "hunter2" not in result.err  # the URL may hold a password: never shown


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


@pytest.mark.parametrize("budget", ["0", "1001"])
def test_a_default_attempt_budget_no_container_may_have_is_refused_at_start(
    cli: Any, h: ModuleType, data_dir: Any, budget: str
) -> None:
    # 1001 was accepted, then every registration that named no budget was refused with
    # "attempt_budget must be in 1..1000", as if the writer had asked for it.
    env = h.clean_env(KEYSERVER_DEFAULT_ATTEMPT_BUDGET=budget)
    result = cli("principal", "list", "--data-dir", data_dir.path, env=env)
    assert result.code == 3, result
    assert "default_attempt_budget must be in 1..1000" in result.err


@pytest.mark.parametrize("cap", ["0", "1001"])
def test_a_page_cap_outside_the_protocols_bound_is_refused_at_start(
    cli: Any, h: ModuleType, data_dir: Any, cap: str
) -> None:
    # 1001 was accepted, and then `--limit 1001` was refused by the command though the
    # server allowed it; 0 refused every listing (keyserver/_domain/paging.py).
    env = h.clean_env(KEYSERVER_MAX_LIST_LIMIT=cap)
    result = cli("search", "--limit", "1000", "--data-dir", data_dir.path, env=env)
    assert result.code == 3, result
    assert "max_list_limit must be in 1..1000" in result.err
    assert "KEYSERVER_MAX_LIST_LIMIT" in result.err  # what to change


def test_the_command_takes_the_largest_page_and_a_lower_server_cap_answers_itself(
    cli: Any, h: ModuleType, data_dir: Any
) -> None:
    # One bound (keyserver._domain.paging): the command refuses nothing a server allows,
    # and a server with a lower cap names its own in the refusal.
    assert cli("search", "--limit", "1000", "--data-dir", data_dir.path).code == 0
    env = h.clean_env(KEYSERVER_MAX_LIST_LIMIT="50")
    result = cli("search", "--limit", "51", "--data-dir", data_dir.path, env=env)
    assert result.code != 0 and "1..50" in result.err, result
    result = cli("search", "--limit", "50", "--data-dir", data_dir.path, env=env)
    assert result.code == 0, result


@pytest.mark.parametrize(
    "listing",
    [("search",), ("media", "list"), ("audit", "list"), ("approvals", "list")],
    ids=" ".join,
)
@pytest.mark.parametrize("limit", ["0", "1001", str(10**20)])
def test_every_listing_refuses_a_page_size_alike(
    cli: Any, data_dir: Any, listing: tuple[str, ...], limit: str
) -> None:
    # One option and one check (keyserver/_cli/paging.py): `media list` had none of its own
    # and came back with the server's refusal, exit 6, where the others said exit 2.
    result = cli(*listing, "--limit", limit, "--data-dir", data_dir.path)
    assert (result.code, result.err) == (
        2,
        "keyserver: error: --limit must be between 1 and 1000\n",
    ), result


@pytest.mark.parametrize(
    "listing",
    [("search",), ("media", "list"), ("audit", "list"), ("approvals", "list")],
    ids=" ".join,
)
def test_every_listing_without_limit_works_under_a_low_server_cap(
    cli: Any, h: ModuleType, data_dir: Any, listing: tuple[str, ...]
) -> None:
    # Without --limit the command sent limit=100, and a server whose max_list_limit is
    # lower refused it ("limit must be in 1..50") for a size nobody chose; now it names no
    # size and the server answers its default page, at most its cap (spec §limits).
    env = h.clean_env(KEYSERVER_MAX_LIST_LIMIT="2")
    result = cli(*listing, "--json", "--data-dir", data_dir.path, env=env)
    assert result.code == 0, result


def test_the_default_page_is_the_servers_cap_where_that_is_lower(
    cli: Any, h: ModuleType, data_dir: Any
) -> None:
    for name in ("clerk-a@city.example", "clerk-b@city.example"):  # 3 audit entries in all
        assert (
            cli("principal", "add", name, "--role", "reader", "--data-dir", data_dir.path).code == 0
        )
    env = h.clean_env(KEYSERVER_MAX_LIST_LIMIT="2")
    page = cli("audit", "list", "--json", "--data-dir", data_dir.path, env=env).json()
    assert len(page["entries"]) == 2 and page["next_after_seq"] == 2, page
    result = cli("audit", "list", "--limit", "3", "--data-dir", data_dir.path, env=env)
    assert result.code != 0 and "1..2" in result.err, result
