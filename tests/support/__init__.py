"""Helpers shared by the test folders, imported by name: ``from tests.support import postgres``.

pytest puts the repository root on ``sys.path`` (``pythonpath`` in pyproject.toml), so test
modules and conftests import these modules like any other package; mypy checks them with the
tests in one run (``make lint``).
"""
