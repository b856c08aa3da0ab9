"""``keyserver --help`` in the official's language (issue 12, ops10).

An official after a loss runs ``keyserver --help`` and ``keyserver report --help`` with a
Japanese locale: before, every line of both was English. Now the help texts are message
ids of the one catalogue, said when --help prints them; a line is wrapped by its width on
the screen (a Japanese character takes two columns, and argparse broke lines only at
spaces). English help is as it was.
"""

from __future__ import annotations

import argparse
import unicodedata
from typing import Any

import pytest

from keyserver._cli.parser import build_parser
from keyserver._domain.i18n import translate
from tests.support import keyserver_cli as h

# The commands of the loss workflow (README, "After a loss"), every option said in Japanese.
OFFICIALS = (
    ("report",),
    ("report-loss",),
    ("reset-budget",),
    ("status",),
    ("media", "list"),
    ("media", "show"),
    ("suspend",),
    ("restore",),
    ("destroy",),
    ("search",),
    ("audit", "list"),
    ("audit", "verify"),
    ("approvals", "approve"),
)


def _columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _subparser(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> Any:
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("names", OFFICIALS, ids=" ".join)
def test_every_option_of_the_loss_workflow_has_its_japanese(names: tuple[str, ...]) -> None:
    parser = _subparser(build_parser(), names)
    for action in parser._actions:
        if action.help in (None, argparse.SUPPRESS):
            continue
        assert isinstance(action.help, str)
        assert translate("ja", action.help) != action.help, (names, action.option_strings)


@pytest.mark.parametrize("env", [{"KEYSERVER_LANG": "ja"}, {"LANG": "ja_JP.UTF-8"}])
def test_help_in_japanese_fits_the_screen(
    cli: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    top = cli("--help", env=h.clean_env(**env))
    assert top.code == 0, top
    assert top.out.startswith("使い方: keyserver")
    for said in (
        "位置引数:",
        "共通オプション:",
        "終了コード:",
        "有効なコンテナの未確認の試行回数を 0 に戻します",
        "紛失後に媒体は開かれたか?",
        "8  確認で中止されました。何も変更されていません",
    ):
        assert said in top.out, said
    report = cli("report", "--help", env=h.clean_env(**env))
    assert report.code == 0, report
    assert "--since TIME          数え始める時刻 (既定: 紛失日時)" in report.out
    assert "show this help" not in report.out and "the medium's identifier" not in report.out
    for shown in (top.out, report.out):
        body = shown.split("\n\n", 1)[1]  # the usage lines are argparse's own
        wide = [line for line in body.splitlines() if _columns(line) > 80]
        assert not wide, wide


def test_help_in_english_is_unchanged(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    top = cli("--help", env=h.clean_env(KEYSERVER_LANG="en"))
    assert top.out.startswith("usage: keyserver")
    assert "common options:\n  --json             machine-readable output\n" in top.out
    assert "\nexit codes:\n    0  success\n" in top.out
    report = cli("report", "--help", env=h.clean_env(KEYSERVER_LANG="en"))
    assert "  --since TIME          window start (default: the time of loss)\n" in report.out
