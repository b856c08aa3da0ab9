"""Fault-injection fixtures: the e2e set-up (real ``keyserver`` and ``rwc`` processes).

The e2e conftest is loaded as a module and its fixtures re-exported, so the fault tests
drive exactly the installed commands the end-to-end tests drive, with no second copy of
the set-up. Every test here is marked ``faults`` (``make faults`` runs them alone).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_E2E = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("rwc_e2e_fixtures", _E2E)
assert _spec is not None and _spec.loader is not None
e2e = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = e2e
_spec.loader.exec_module(e2e)

shared_server = e2e.shared_server
people = e2e.people
story = e2e.story
h = e2e.h


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``faults``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)
