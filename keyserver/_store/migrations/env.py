"""Alembic environment, configured programmatically (see keyserver._store.engine.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from keyserver._store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode recreates tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    conn = context.config.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    # Developer use of the alembic CLI: settings come from the KEYSERVER_* environment.
    from keyserver._domain.settings import Settings  # noqa: PLC0415
    from keyserver._store.engine import make_engine  # noqa: PLC0415

    engine = make_engine(Settings.load())
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


_main()
