"""A driver error on a DB-API cursor read by hand is raised as SQLAlchemy raises it.

A bulk change reads its rows from the driver's cursor (keyserver/_store/rowmacs.py,
issue 15); ``engine.driver_errors`` keeps its errors on the one database-error path
(503 for an unreachable database, spec §problems). Both backends, real drivers.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from keyserver._domain.settings import Settings
from keyserver._store.engine import driver_errors, make_engine
from keyserver._store.models import Container


def test_a_driver_error_is_sqlalchemys_and_the_connection_stays(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            with (
                pytest.raises(DBAPIError, match="no_such_table") as caught,
                driver_errors(conn, cursor),
            ):
                cursor.execute("SELECT * FROM no_such_table")
            # Not a lost connection: it stays in use, and the driver's error is kept.
            assert not caught.value.connection_invalidated
            assert not conn.invalidated
            assert isinstance(caught.value.orig, conn.dialect.loaded_dbapi.Error)
            raw.rollback()  # the failed statement's transaction (PostgreSQL)
            assert conn.execute(select(Container.id).limit(1)).all() == []
    finally:
        engine.dispose()
