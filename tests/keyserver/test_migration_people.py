"""Migration 0016_container_people adds the declared count of people, and back (issue 12).

On SQLite and PostgreSQL: a container registered before the revision declares nothing
(NULL, which the report never prints as 0); a count written after it reads back; the
downgrade drops the column alone, keeping every container's reader policy (a batch copy
of the table on SQLite would have cascaded it away).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from tests.support import migrations

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CID = bytes(16)


engine = migrations.engine  # the fixture: an empty database, on SQLite and on PostgreSQL


def _fill(conn: sa.Connection) -> None:
    """One principal, one container on no medium, one reader of it (as 0015 left them)."""
    conn.execute(
        sa.text("INSERT INTO principals (id, name, created_at) VALUES (1, 'w', :at)"),
        {"at": AT},
    )
    conn.execute(
        sa.text(
            "INSERT INTO containers (id, label, issuer_id, state, public_key, password_required,"
            " attempt_budget, unconfirmed, created_at, key_generation)"
            " VALUES (:id, 'register', 1, 'active', :pk, true, 10, 0, :at, 1)"
        ),
        {"id": CID, "pk": bytes(32), "at": AT},
    )
    conn.execute(
        sa.text("INSERT INTO container_readers (container_id, name) VALUES (:id, 'clerk')"),
        {"id": CID},
    )


def _people(engine: sa.Engine) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT people FROM containers")).scalar_one()


def _readers(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM container_readers")).scalar_one())


def test_upgrade_and_downgrade(engine: sa.Engine) -> None:
    migrations.to(engine, "0015_challenges_by_container")
    with engine.begin() as conn:
        _fill(conn)
    assert "people" not in migrations.columns(engine, "containers")
    migrations.to(engine, "0016_container_people")
    assert _people(engine) is None  # registered before: not declared
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE containers SET people = 460517"))
    assert _people(engine) == 460_517
    migrations.to(engine, "0015_challenges_by_container", down=True)
    assert "people" not in migrations.columns(engine, "containers")
    assert _readers(engine) == 1
