"""keyserver's public Python API: the names the package exports, and nothing heavy on import.

The layer packages are private (``keyserver._*``); deployments and integrators use these
names, and the uvicorn factory string ``keyserver:app_factory``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from uvicorn.importer import import_from_string

import keyserver
from keyserver._cli.host import app_factory
from keyserver._domain.lifecycle import Actor
from keyserver._domain.settings import Settings
from keyserver._http.app import create_app
from keyserver._service import KeyService
from keyserver._store import init_database, migrate


def test_exports_are_the_private_definitions() -> None:
    expected = {
        "Actor": Actor,
        "KeyService": KeyService,
        "Settings": Settings,
        "app_factory": app_factory,
        "create_app": create_app,
        "init_database": init_database,
        "migrate": migrate,
    }
    assert keyserver.__all__ == sorted(expected)
    for name, value in expected.items():
        assert getattr(keyserver, name) is value, name
    assert import_from_string("keyserver:app_factory") is app_factory


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'cli'"):
        _ = keyserver.cli


def test_importing_the_package_imports_no_server_stack() -> None:
    code = (
        "import sys, keyserver; "
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'keyserver._store') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_names_where_they_are_defined() -> None:
    assert sorted(keyserver._WHERE) == keyserver.__all__
