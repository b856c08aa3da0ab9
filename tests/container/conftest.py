"""Fixtures of the container-library tests (the kit: tests/support/container.py)."""

from __future__ import annotations

import pytest

from tests.support.container import Kit


@pytest.fixture
def kit() -> Kit:
    """A fresh in-process key server with one registered slot, and sealing helpers."""
    return Kit()
