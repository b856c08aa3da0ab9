"""rwc's own texts for readers (pycontainer/cli/texts.py): complete in both languages."""

from __future__ import annotations

import string

import pytest

from pycontainer.cli import texts


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(texts.TEXTS))
def test_every_text_in_both_languages_with_the_same_values(key: str) -> None:
    entry = texts.TEXTS[key]
    assert sorted(entry) == sorted(texts.LANGUAGES)
    assert entry["ja"] and entry["ja"] != entry["en"]
    assert _fields(entry["ja"]) == _fields(entry["en"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"RWC_LANG": "ja"}, "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"RWC_LANG": "en", "LC_ALL": "ja_JP.UTF-8"}, "en"),
        ({"KEYSERVER_LANG": "ja"}, "en"),  # the other command's switch is not rwc's
    ],
)
def test_language_choice(env: dict[str, str], expected: str) -> None:
    assert texts.language(env) == expected


def test_say_fills_values() -> None:
    assert (
        texts.say("attempts_left", "ja", left=2)
        == "あと 2 回失敗すると、鍵サーバーがコンテナを停止します"
    )
    assert texts.say("attempts_left", "en", left=2).startswith("2 attempt(s) left")
