"""An empty database of either backend, moved along the alembic chain by revision.

For migration tests (tests/keyserver/test_migration_*.py): each test gets a database of
its own, SQLite in ``tmp_path`` or a fresh PostgreSQL one, and walks it up or down. A
module takes the fixture by naming it: ``engine = migrations.engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from keyserver._domain.settings import Settings
from keyserver._store.engine import _alembic_config, make_engine
from keyserver._store.models import UTCDateTime
from tests.support import postgres

# The media table's columns every revision has, as the server's code reads and writes them
# (aware UTC), for rows written before a migration.
MEDIA = sa.table(
    "media",
    sa.column("key"),
    sa.column("name"),
    sa.column("created_at", UTCDateTime()),
    sa.column("lost_at", UTCDateTime()),
)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a new, unmigrated database: once on SQLite, once on PostgreSQL."""
    with ExitStack() as stack:
        if request.param == "postgres":
            url = postgres.database_url(stack.enter_context(postgres.fresh_database("ks_mig")))
        else:
            url = f"sqlite:///{tmp_path / 'keyserver.db'}"
        eng = make_engine(Settings(database_url=url, master_key_b64="A" * 43))
        stack.callback(eng.dispose)
        yield eng


def columns(engine: sa.Engine, table: str) -> set[str]:
    """The names of ``table``'s columns as the database has them now."""
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) the database to ``revision``."""
    with engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
