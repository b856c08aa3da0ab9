"""Fault-injection fixtures: the e2e set-up (real ``keyserver`` and ``rwc`` processes).

The e2e fixtures are re-exported, so the fault tests drive exactly the installed commands
the end-to-end tests drive, with no second copy of the set-up. Every test here is marked
``faults`` (``make faults`` runs them alone).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import h, people, shared_server, story

__all__ = ["h", "people", "shared_server", "story"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``faults``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.faults)
