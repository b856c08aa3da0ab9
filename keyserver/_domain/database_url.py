"""Which database URLs the key server takes (the ``database_url`` setting), without I/O.

The databases rwc runs on, with the drivers it installs (SQLAlchemy's ``postgresql://`` is
psycopg 3 too). Another scheme (``mysql://``) failed at the first connection as "unexpected
ModuleNotFoundError" instead of a configuration error (settings.py turns the ValueError
below into its ConfigError: exit 3, spec §cli).
"""

from __future__ import annotations

DATABASE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"})
_USE = "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"


def check_database_url(url: str) -> None:
    """Refuse a URL of another scheme, or no URL at all.

    The message never holds the URL (it may carry a password), only its scheme.

    Raises:
        ValueError: What is wrong and what to use instead.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(f"database_url is not a URL: {_USE}")
    if scheme.lower() not in DATABASE_SCHEMES:
        raise ValueError(f"database_url: {scheme}:// is not a database rwc runs on: {_USE}")
