"""The commands that need the database itself refuse `--server` with ONE text, in the
official's language (issue 9: one of each). Before, backup, restore-backup, log-key,
checkpoint and rotate-master-key each wrote their own English sentence."""

from __future__ import annotations

import pytest

from keyserver._cli.parser import LOCAL_ONLY_COMMANDS
from tests.support.keyserver_cli import Cli, clean_env

ARGS = {"backup": ("b.db",), "rotate-master-key": ("--status",)}


@pytest.mark.parametrize("command", LOCAL_ONLY_COMMANDS)
def test_local_only_commands_refuse_server_alike(cli: Cli, command: str) -> None:
    env = clean_env(KEYSERVER_LANG="ja", KEYSERVER_TOKEN="rwc_" + "A" * 43)
    argv = (command, *ARGS.get(command, ()), "--server", "https://keys.city.example")
    result = cli(*argv, env=env)
    assert result.code == 2, result
    assert f"`{command}` はデータディレクトリでのみ実行できます" in result.err, result.err
