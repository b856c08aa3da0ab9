"""One of each across the two commands (issue 9): names, tables and prefixes exist once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import pytest

import keyserver
import pycontainer


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
