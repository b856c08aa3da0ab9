"""The table of Japanese leads for the library's errors names real classes (failtexts.py).

LIBRARY_JA is keyed by class name (every run imports it, the client it must not): a class
renamed or a name mistyped would silently fall back to a vaguer text, so every name is
checked against the classes a reader can meet, and the most specific text wins.
"""

from __future__ import annotations

import inspect

import pytest

import pycontainer.errors
from pycontainer.cli import failtexts
from pycontainer.cli.exits import SaidError, SaidUsageError, UsageError
from pycontainer.cli.refusals import for_person
from pycontainer.client import server_url, tokens, transport
from pycontainer.errors import ContainerError, FormatError, NotAContainerError

_MODULES = (pycontainer.errors, server_url, tokens, transport)
CLASSES = {
    name: cls
    for module in _MODULES
    for name, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, ContainerError)
} | {"UsageError": UsageError}


@pytest.mark.parametrize("name", sorted(failtexts.LIBRARY_JA))
def test_every_name_is_an_error_class(name: str) -> None:
    assert name in CLASSES, f"{name} is no ContainerError class of {_MODULES}"


def test_every_error_class_gets_a_japanese_lead() -> None:
    for name, cls in CLASSES.items():
        if name in {"EntryNotFoundError", "KeyServerInvalidValueError", "PayloadError"}:
            continue  # constructors of their own, said by class like the rest (other tests)
        exc = cls("what happened", hint="what to do")
        message, hint = for_person(exc, "ja")
        lead = message.removesuffix("(詳細 [en]: what happened)")
        assert lead != message and not lead.isascii(), name
        assert hint is not None and not hint.isascii(), name


def test_the_most_specific_class_wins() -> None:
    wrong_file, _ = for_person(NotAContainerError("x"), "ja")
    damaged, _ = for_person(FormatError("x"), "ja")
    assert wrong_file.startswith("このファイルは rwc コンテナではありません")
    assert damaged.startswith("コンテナが壊れているか")


def test_english_and_said_errors_are_shown_as_raised() -> None:
    assert for_person(FormatError("broken", hint="get a copy"), "en") == ("broken", "get a copy")
    said = UsageError("引数が足りません", hint="`rwc --help` を参照してください")
    said.said = True
    assert for_person(said, "ja") == ("引数が足りません", "`rwc --help` を参照してください")


def test_an_own_error_is_its_english_and_said_by_key() -> None:
    exc = SaidUsageError("no_container_file", path="a.rwc")
    assert (str(exc), exc.hint) == ("a.rwc: no such container file", None)  # --json: as before
    assert for_person(exc, "ja") == (
        "コンテナのファイル a.rwc が見つかりません",
        "ファイルの名前と場所を確認してください",
    )
    assert isinstance(SaidError("interrupted"), ContainerError)
