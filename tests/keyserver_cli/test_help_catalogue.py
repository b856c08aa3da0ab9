"""Every help text of every ``keyserver`` command is in the Japanese catalogue (issue 12, ops12).

ops10 made the loss workflow's ``--help`` Japanese (test_help_language.py); the operator
commands (``init``, ``serve``, ``backup``, ``rotate-master-key``, ``witness`` ...) kept
English help: the server settings' flags, ``--limit``, and the options of ``backup``,
``restore-backup``, ``rotate-master-key``, ``witness`` and ``verify-report`` were plain
strings. This walks the whole parser tree, as --help shows it (descriptions, epilogs,
section titles, subcommand lines, options), and fails on any text the Japanese catalogue
does not hold: a new option without its translation fails here, not in front of an official.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from keyserver._cli.parser import build_parser
from keyserver._domain.i18n import translate
from tests.support import keyserver_cli as h

# An epilog line of a table: its indent and code (the exit codes), then its text; the help
# formatter says such a paragraph line by line (keyserver/_cli/_argparse.py).
_TABLE_LINE = re.compile(r"(\s*\d*\s*)(.*)")


def _texts(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, str]]:
    """(where, text) of everything --help prints in words, for the parser and its subparsers."""
    for said in (parser.description, parser.epilog):
        for paragraph in (said or "").split("\n\n"):
            if paragraph.strip():
                yield path, paragraph
    for group in parser._action_groups:  # argparse has no public walker
        if group.title:
            yield path, group.title
    for action in parser._actions:
        if action.help not in (None, argparse.SUPPRESS):
            yield f"{path} {'/'.join(action.option_strings) or action.dest}", str(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for line in action._choices_actions:
                yield f"{path} {line.dest}", str(line.help)
            for name, sub in action.choices.items():
                yield from _texts(sub, f"{path} {name}")


def _in_japanese(text: str) -> bool:
    if translate("ja", text) != text:
        return True
    lines = [_TABLE_LINE.fullmatch(line).group(2) for line in text.split("\n")]  # type: ignore[union-attr]
    return all(translate("ja", line) != line for line in lines if line.strip())


def test_every_help_text_of_every_command_has_its_japanese() -> None:
    texts = list(_texts(build_parser(), "keyserver"))
    assert len(texts) > 1000  # the walk reaches every subcommand's settings flags
    missing = sorted({f"{where}: {text[:60]!r}" for where, text in texts if not _in_japanese(text)})
    assert missing == [], "\n".join(missing)


def test_operator_commands_help_in_japanese(cli: h.Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    env = h.clean_env(KEYSERVER_LANG="ja")
    rotate = cli("rotate-master-key", "--help", env=env)
    assert rotate.code == 0, rotate
    assert "destroy the old key" not in rotate.out and "rows per transaction" not in rotate.out
    assert "古いマスター鍵を破棄" in rotate.out
    serve = cli("serve", "--help", env=env)
    assert "SQLite busy timeout" not in serve.out and "SQLite のビジータイムアウト" in serve.out
    search = cli("search", "--help", env=env)
    # --limit's bounds are filled in after its text is translated.
    assert "page size" not in search.out and "1 ページの件数、1..1000 (既定 100" in search.out
