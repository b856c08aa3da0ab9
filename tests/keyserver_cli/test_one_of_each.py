"""One of each across the two commands (issue 9): names, tables and prefixes exist once."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import keyserver
import pycontainer
from keyserver._cli import errors as keyserver_errors
from keyserver._cli import parser as keyserver_parser
from keyserver._domain import approvals, lifecycle
from pycontainer.cli import exits as rwc_exits
from pycontainer.cli import main as rwc_main

REPO = Path(__file__).resolve().parents[2]


def _modules(package: object) -> list[str]:
    path = getattr(package, "__path__")  # noqa: B009 - a package's search path
    prefix = getattr(package, "__name__") + "."  # noqa: B009
    # Alembic's env.py runs migrations when imported; it defines no exception.
    return [m.name for m in pkgutil.walk_packages(path, prefix) if ".migrations" not in m.name]


def test_exception_class_names_are_unique_in_both_packages() -> None:
    """`KeyServerError` and `ConfigError` each named two different classes."""
    where: dict[str, set[str]] = defaultdict(set)
    for package in (keyserver, pycontainer):
        for name in _modules(package):
            module = importlib.import_module(name)
            for cls_name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == name:
                    where[cls_name].add(f"{name}.{cls_name}")
    twice = {name: sorted(paths) for name, paths in where.items() if len(paths) > 1}
    assert not twice, twice


@pytest.mark.parametrize("package", [keyserver, pycontainer])
def test_problem_type_prefix_is_written_once(package: object) -> None:
    """The problem-type URN is a constant in one module per side of the wire."""
    found = []
    for name in _modules(package):
        source = inspect.getsource(importlib.import_module(name))
        if '"urn:rwc:problem:"' in source:
            found.append(name)
    assert len(found) == 1, found


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


@pytest.mark.parametrize("build", [keyserver_parser.build_parser, rwc_main.build_parser])
def test_every_option_has_a_help_line(build: Callable[[], argparse.ArgumentParser]) -> None:
    missing = [
        f"{parser.prog} {action.option_strings or action.dest}"
        for parser in _parsers(build())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert not missing, missing


@pytest.mark.parametrize("build", [keyserver_parser.build_parser, rwc_main.build_parser])
def test_every_subcommand_help_says_what_it_does(
    build: Callable[[], argparse.ArgumentParser],
) -> None:
    """`keyserver audit list --help` and ten others opened with the usage alone."""
    silent = [parser.prog for parser in _parsers(build()) if not parser.description]
    assert not silent, silent


@pytest.mark.parametrize("build", [keyserver_parser.build_parser, rwc_main.build_parser])
def test_every_help_line_says_what_its_option_does(
    build: Callable[[], argparse.ArgumentParser],
) -> None:
    """A help line shared by several options of one command says what none of them does.

    Issue 12: fifteen settings flags said only "server setting (spec/protocol.md §limits)".
    """
    shared = []
    for parser in _parsers(build()):
        seen: dict[str, str] = {}
        for action in parser._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                continue
            name = "/".join(action.option_strings) or action.dest
            if action.help in seen:
                shared.append(f"{parser.prog}: {seen[action.help]} and {name}")
            seen[action.help] = name
    assert not shared, shared
    # Injected callables are not settings a person can give.
    options = [o for p in _parsers(build()) for a in p._actions for o in a.option_strings]
    assert "--monotonic" not in options and "--clock" not in options


def test_management_commands_do_not_list_the_servers_settings() -> None:
    for parser in _parsers(keyserver_parser.build_parser()):
        listed = parser.format_help()
        if parser.prog.split()[1:2] in [[c] for c in keyserver_parser.LOCAL_ONLY_COMMANDS]:
            assert "--loss-waiting-period" in listed, parser.prog
        elif parser.prog != "keyserver":  # management commands, local or remote
            assert "--pending-ttl" not in listed and "--pool-size" not in listed, parser.prog


@pytest.mark.parametrize(
    ("build", "table"),
    [
        (keyserver_parser.build_parser, keyserver_errors.EXIT_CODE_TABLE),
        (rwc_main.build_parser, rwc_exits.EXIT_CODE_TABLE),
    ],
)
def test_help_prints_the_exit_code_table(
    build: Callable[[], argparse.ArgumentParser], table: tuple[tuple[int, str, str], ...]
) -> None:
    text = build().format_help()
    for code, _, meaning in table:
        assert re.search(rf"^ +{int(code)}  {re.escape(meaning)}$", text, flags=re.MULTILINE), (
            code,
            meaning,
        )


def test_role_and_state_choices_are_the_domains() -> None:
    """`--role` and `--state` offer the domain's roles and states (issue 9: the command kept
    copies of them), wherever they are options."""
    choices: dict[str, set[str]] = defaultdict(set)
    for parser in _parsers(keyserver_parser.build_parser()):
        for action in parser._actions:
            if action.dest in ("role", "state") and action.choices is not None:
                choices[f"{parser.prog} {action.dest}"] = {str(c) for c in action.choices}
    assert choices == {
        "keyserver principal add role": set(lifecycle.ROLES),
        "keyserver search state": {s.value for s in lifecycle.State},
        "keyserver approvals list state": {s.value for s in approvals.State},
    }
