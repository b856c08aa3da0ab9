"""Usage errors of both commands in the reader's language (argparse's, through one parser).

`keyserver` (officials) says them from the key server's catalogue (KEYSERVER_LANG),
`rwc` (clerks) from pycontainer/cli/texts.py (RWC_LANG); `--json` keeps argparse's English.
The in-process entry points run here with the environment they are given.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from keyserver._cli import _argparse
from keyserver._cli.main import main as keyserver_main
from pycontainer.cli import strictargs, texts
from pycontainer.cli.main import run as rwc_run


def keyserver(argv: list[str], lang: str) -> tuple[int, str]:
    err = io.StringIO()
    code = keyserver_main(argv, stdout=io.StringIO(), stderr=err, env={"KEYSERVER_LANG": lang})
    return code, err.getvalue()


def rwc(argv: list[str], lang: str) -> tuple[int, str]:
    err = io.StringIO()
    code = rwc_run(argv, env={"RWC_LANG": lang}, stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


_DASH = "needs a file name: - (stdin or stdout) cannot be used here"

# (command, argv, the Japanese that must be shown, the English argparse would say)
CASES = [
    ("keyserver", ["wizard"], "は選べません", "invalid choice: 'wizard'"),
    # A whole number: said as one, not as Python's type name ("int").
    ("keyserver", ["serve", "--port", "x"], "'x' は整数ではありません", "invalid int value: 'x'"),
    (
        "rwc",
        ["seal", "a", "--attempt-budget", "x"],
        "'x' は整数ではありません",
        "invalid int value",
    ),
    (
        "keyserver",
        ["audit", "list", "--limit"],
        "値を 1 つ指定してください",
        "expected one argument",
    ),
    ("keyserver", ["audit", "list", "--limt", "5"], "不明なオプション --limt", "unknown option"),
    ("keyserver", ["media", "show"], "次の引数が必要です", "the following arguments are required"),
    ("rwc", ["wizard"], "は選べません", "invalid choice: 'wizard'"),
    ("rwc", ["ls"], "次の引数が必要です", "the following arguments are required"),
    ("rwc", ["ls", "c.rwc", "--jsn"], "不明なオプション --jsn", "unknown option --jsn"),
    # A mistyped option before the command: argparse took its value for the command and
    # said only "invalid choice: 'https://...'" (issue 9).
    (
        "keyserver",
        ["--sever", "https://keys.example", "audit", "list"],
        "不明なオプション --sever",
        "unknown option --sever",
    ),
    ("rwc", ["--server", "https://k.example", "ls", "c.rwc"], "不明なオプション", "unknown option"),
    # `-` where it cannot be stdin or stdout (issue 9): refused, never a file named "-".
    # Before: `--password-file -` "cannot read the password file -" (exit 1), `-C -` made a
    # directory named "-", `--ca-bundle -` "CA bundle not found".
    ("rwc", ["ls", "c.rwc", "--password-file", "-"], "ファイル名を指定してください", _DASH),
    ("rwc", ["seal", "a", "-o", "a.rwc", "--password-file", "-"], "ファイル名を", _DASH),
    ("rwc", ["open", "c.rwc", "-C", "-"], "ファイル名を指定してください", _DASH),
    ("rwc", ["verify", "c.rwc", "--ca-bundle", "-"], "ファイル名を指定してください", _DASH),
    ("keyserver", ["backup", "-"], "ファイル名を指定してください", _DASH),
    ("keyserver", ["--data-dir", "-", "whoami"], "ファイル名を指定してください", _DASH),
]
COMMANDS = {"keyserver": keyserver, "rwc": rwc}


@pytest.mark.parametrize(("command", "argv", "ja", "en"), CASES, ids=str)
def test_usage_errors_in_japanese_and_english(
    command: str, argv: list[str], ja: str, en: str
) -> None:
    call = COMMANDS[command]
    code, shown = call(argv, "ja")
    assert code == 2
    assert ja in shown
    assert en not in shown
    assert re.search(rf"{command}: hint: .*--help", shown)
    code, shown = call(argv, "en")
    assert code == 2
    assert en in shown
    # --json: English whatever the language, for scripts.
    code, shown = call([*argv, "--json"], "ja")
    assert code == 2
    assert en in json.loads(shown)["error"]["message"]


@pytest.mark.parametrize(
    ("command", "argv", "nearest"),
    [
        ("keyserver", ["audit", "list", "--limt", "5"], "--limit"),
        ("rwc", ["ls", "c", "--jsn"], "--json"),
        ("keyserver", ["--data-dri", "d", "whoami"], "--data-dir"),
    ],
)
def test_the_nearest_option_in_japanese(command: str, argv: list[str], nearest: str) -> None:
    code, shown = COMMANDS[command](argv, "ja")
    assert code == 2
    assert f"{nearest} のことですか?" in shown


@pytest.mark.parametrize("key", sorted(strictargs.ENGLISH))
def test_both_commands_say_each_usage_text_alike(key: str) -> None:
    """The same English (argparse's) and the same Japanese in both commands' tables."""
    fields = re.findall(r"\{(\w+)\}", strictargs.ENGLISH[key])
    text = strictargs.UsageText(key, {name: f"<{name}>" for name in fields})
    message = _argparse.usage_message(text)
    assert str(message) == str(text)
    if key == "other":
        return  # said as argparse wrote it
    assert message.text("ja") == texts.USAGE_TEXTS[f"usage_{key}"]["ja"].format(**text.values)
    assert message.text("ja") != str(message)  # translated, not the English fallback
    if message.plural is not None:  # said for several too, in both
        several = text._replace(number=2)
        assert str(_argparse.usage_message(several)) == str(several) != str(text)
        assert _argparse.usage_message(several).text("ja") == message.text("ja")


@pytest.mark.parametrize(
    ("command", "argv"),
    [("keyserver", ["whoami"]), ("rwc", ["ls", "c.rwc"])],
)
def test_leftover_arguments_in_the_singular_and_plural(command: str, argv: list[str]) -> None:
    """One leftover is "argument", two are "arguments" (was "argument(s)" for both)."""
    call = COMMANDS[command]
    one, two = [*argv, "stray"], [*argv, "stray", "more"]
    code, shown = call(one, "en")
    assert code == 2 and f"{command}: error: unexpected argument: stray\n" in shown, shown
    code, shown = call(two, "en")
    assert code == 2 and "error: unexpected arguments: stray more\n" in shown, shown
    for args in (one, two):
        code, shown = call(args, "ja")
        assert code == 2 and "余分な引数があります: stray" in shown, shown
        assert "(s)" not in shown


def test_argparse_messages_are_read_back() -> None:
    """Each pattern matches what this Python's argparse says (else "other", English)."""
    for message in (
        "the following arguments are required: --reason, MEDIUM",
        "argument command: invalid choice: 'x' (choose from 'a', 'b')",
        "argument --port: invalid int value: 'x'",
        "argument --limit: expected one argument",
        "argument --a: not allowed with argument --b",
        "one of the arguments --a --b is required",
    ):
        text = strictargs.argparse_text(message)
        assert text.key != "other", message
        assert str(text) == message
