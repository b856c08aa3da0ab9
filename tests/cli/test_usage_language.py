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

from keyserver.cli import _argparse
from keyserver.cli.main import main as keyserver_main
from keyserver.domain.i18n import translations
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


# (argv, the Japanese that must be shown, the English argparse would say)
KEYSERVER_CASES = [
    (["wizard"], "は選べません", "invalid choice: 'wizard'"),
    (["serve", "--port", "x"], "の値として正しくありません", "invalid int value: 'x'"),
    (["audit", "list", "--limit"], "値を 1 つ指定してください", "expected one argument"),
    (["audit", "list", "--limt", "5"], "不明なオプション --limt", "unknown option --limt"),
    (["media", "show"], "次の引数が必要です", "the following arguments are required"),
]


@pytest.mark.parametrize(("argv", "ja", "en"), KEYSERVER_CASES, ids=str)
def test_keyserver_usage_errors_in_japanese_and_english(argv: list[str], ja: str, en: str) -> None:
    code, shown = keyserver(argv, "ja")
    assert code == 2
    assert ja in shown
    assert en not in shown
    assert re.search(r"keyserver: hint: .*--help", shown)
    code, shown = keyserver(argv, "en")
    assert code == 2
    assert en in shown
    # --json: English whatever the language, for scripts.
    code, shown = keyserver([*argv, "--json"], "ja")
    assert code == 2
    assert en in json.loads(shown)["error"]["message"]


def test_keyserver_names_the_nearest_option_in_japanese() -> None:
    code, shown = keyserver(["audit", "list", "--limt", "5"], "ja")
    assert code == 2
    assert "--limit のことですか?" in shown


RWC_CASES = [
    (["wizard"], "は選べません", "invalid choice: 'wizard'"),
    (["ls"], "次の引数が必要です", "the following arguments are required"),
    (["ls", "c.rwc", "--jsn"], "不明なオプション --jsn", "unknown option --jsn"),
]


@pytest.mark.parametrize(("argv", "ja", "en"), RWC_CASES, ids=str)
def test_rwc_usage_errors_in_japanese_and_english(argv: list[str], ja: str, en: str) -> None:
    code, shown = rwc(argv, "ja")
    assert code == 2
    assert ja in shown
    assert en not in shown
    code, shown = rwc(argv, "en")
    assert code == 2
    assert en in shown
    code, shown = rwc([*argv, "--json"], "ja")
    assert code == 2
    assert en in json.loads(shown)["error"]["message"]


def test_rwc_names_the_nearest_option_in_japanese() -> None:
    code, shown = rwc(["ls", "c.rwc", "--jsn"], "ja")
    assert code == 2
    assert "--json のことですか?" in shown


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
    assert translations("ja").gettext(message.msgid) != message.msgid


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
