"""Fixtures of the vector tests: every committed vector, parsed (tests/support/vectors.py)."""

from __future__ import annotations

import pytest

from tests.support.vectors import VectorFile, parse_vector, vector_paths


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that asks for ``vector`` with each committed vector."""
    if "vector" in metafunc.fixturenames:
        paths = vector_paths()
        metafunc.parametrize(
            "vector", [parse_vector(p) for p in paths], ids=[p.name for p in paths]
        )


@pytest.fixture(scope="session")
def all_vectors() -> list[VectorFile]:
    """Every committed vector, parsed."""
    return [parse_vector(p) for p in vector_paths()]


@pytest.fixture(scope="session")
def vector_tools() -> tuple[object, object]:
    """(parse_vector, vector_paths), for tests that read vectors from another directory."""
    return parse_vector, vector_paths
