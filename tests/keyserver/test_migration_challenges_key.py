"""Migration 0015_challenges_by_container: challenges keyed by (container, hash), and back.

Issue 15: a release inserts one challenge; with the hash as the key plus an index on the
container, that insert wrote two b-trees at a random place. On SQLite and PostgreSQL:
upgraded from 0014, the rows are kept, the key is (container_id, challenge_hash), the
index on the container alone is gone and a challenge is still unique within its
container; downgraded, the hash is the key again and the index is back.
"""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from tests.support import migrations

AT = datetime(2026, 12, 7, 4, 0, 0)
CID_A, CID_B = b"\xaa" * 16, b"\xbb" * 16
ROWS = [(b"\x01" * 32, CID_A), (b"\x02" * 32, CID_A), (b"\x03" * 32, CID_B)]


engine = migrations.engine  # the fixture: an empty database, on SQLite and on PostgreSQL


def _fill(conn: sa.Connection) -> None:
    """A principal, two containers and three challenges, as 0014 stores them."""
    conn.execute(
        sa.text("INSERT INTO principals (id, name, created_at) VALUES (1, 'reader', :at)"),
        {"at": AT},
    )
    for cid in (CID_A, CID_B):
        conn.execute(
            sa.text(
                "INSERT INTO containers (id, label, issuer_id, state, public_key,"
                " password_required, attempt_budget, unconfirmed, created_at)"
                " VALUES (:id, 'l', 1, 'active', :pk, false, 10, 0, :at)"
            ),
            {"id": cid, "pk": b"\x00" * 32, "at": AT},
        )
    for digest, cid in ROWS:
        _insert(conn, digest, cid)


def _insert(conn: sa.Connection, digest: bytes, cid: bytes) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO challenges (challenge_hash, container_id, principal_id, issued_at,"
            " expires_at) VALUES (:h, :c, 1, :at, :at)"
        ),
        {"h": digest, "c": cid, "at": AT},
    )


def _shape(engine: sa.Engine) -> tuple[list[str], set[str], list[tuple[bytes, bytes]]]:
    """The table's key columns (in order), its index names, its (hash, container) rows."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        key = inspector.get_pk_constraint("challenges")["constrained_columns"]
        indexes = {str(ix["name"]) for ix in inspector.get_indexes("challenges")}
        rows = conn.execute(
            sa.text("SELECT challenge_hash, container_id FROM challenges ORDER BY challenge_hash")
        ).all()
    return list(key), indexes, [(bytes(h), bytes(c)) for h, c in rows]


def test_upgrade_rekeys_and_keeps_rows_then_downgrade(engine: sa.Engine) -> None:
    migrations.to(engine, "0014_told_at")
    with engine.begin() as conn:
        _fill(conn)
    key, indexes, rows = _shape(engine)
    assert key == ["challenge_hash"] and "ix_challenges_container_id" in indexes

    migrations.to(engine, "0015_challenges_by_container")
    key, indexes, rows = _shape(engine)
    assert key == ["container_id", "challenge_hash"]
    assert "ix_challenges_container_id" not in indexes
    # The attempt windows' indexes stay (the release path counts by them).
    assert {"ix_challenges_principal_window", "ix_challenges_medium_window"} <= indexes
    assert rows == ROWS
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _insert(conn, *ROWS[0])  # one challenge twice in its container: refused

    migrations.to(engine, "0014_told_at", down=True)
    key, indexes, rows = _shape(engine)
    assert key == ["challenge_hash"] and "ix_challenges_container_id" in indexes
    assert rows == ROWS
    migrations.to(engine, "head")
    assert _shape(engine)[0] == ["container_id", "challenge_hash"]


def test_the_indexes_a_release_writes_are_these(engine: sa.Engine) -> None:
    """Every index a key release inserts into, by table: a new one is a decision.

    Each costs every release a b-tree write (on SQLite a WAL page per release when its
    key is random: challenge hash, container), under the chain head's batch; a new one
    belongs here with the query that needs it (bench/profiles/keyserver.md).
    """
    migrations.to(engine, "head")
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        found = {
            table: {str(ix["name"]) for ix in inspector.get_indexes(table)}
            for table in ("challenges", "audit_log")
        }
    assert found == {
        # The attempt windows (spec §receipt), by principal and by medium.
        "challenges": {"ix_challenges_principal_window", "ix_challenges_medium_window"},
        # A container's entries (its newer entries under the row lock, reports), an
        # actor's, an action's (token revocations since the tokens were read).
        "audit_log": {"ix_audit_container_seq", "ix_audit_actor_seq", "ix_audit_action_seq"},
    }
