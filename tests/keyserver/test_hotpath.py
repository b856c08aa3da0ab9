"""The release transaction's compiled DB-API statements (keyserver/_release/compiled.py).

spec §evaluate (the release and its audit entry commit together) and §consistency (the
chain head, then the container row, locked ``FOR UPDATE`` on PostgreSQL; SQLite takes
``BEGIN IMMEDIATE``): what the hot path writes reads back through the ORM exactly as if
the ORM had written it, driver errors become SQLAlchemy's (so spec §problems'
``unavailable`` applies), and the reader-group policy matches for any number of groups.
Both backends, real databases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy.exc as sa_exc
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from keyserver._domain.settings import Settings
from keyserver._release.compiled import HotPath
from keyserver._release.hotpath import Batch
from keyserver._store import evaluation
from keyserver._store.engine import driver_errors, make_engine
from keyserver._store.models import AuditEntry, AuditHead, Challenge, Container
from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64, oprf, unb64


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


class _Calls:
    """The read statements of one batch transaction on one cursor."""

    def __init__(self, hot: HotPath, cur: Any) -> None:
        self._batch = Batch(hot, cur)

    def lock_head(self) -> Any:
        return self._batch.lock_head()

    def evaluation_row(self, cid: bytes, name: str, groups: frozenset[str]) -> Any:
        return self._batch.evaluation_row(cid, name, groups)


def _aware_utc(value: object) -> None:
    assert value is not None and value.tzinfo is not None  # type: ignore[attr-defined]
    assert value.utcoffset() == timedelta(0)  # type: ignore[attr-defined]


def test_what_the_hot_path_writes_reads_back_through_the_orm(
    world: World, clock: FakeClock, engine: Engine, settings: Settings
) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    clock.advance(seconds=61, microseconds=234567)  # sub-second precision survives
    released_at = clock()
    doc = oprf(world, "reader", cid, reg["public_key"])
    clock.advance(seconds=1)
    refused_at = clock()
    resp = world.client(None).post(
        f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert resp.status_code == 401

    with Session(engine) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "evaluate").order_by(AuditEntry.seq)
        ).all()
        head = session.get(AuditHead, 1)
        container = session.get(Container, unb64(cid))
        [challenge] = session.scalars(select(Challenge)).all()
    seal, release, refusal = entries
    assert seal.actor == "writer" and seal.outcome == "ok"
    assert (release.actor, release.outcome, release.container) == ("reader", "ok", cid)
    assert (refusal.actor, refusal.outcome) == ("(unauthenticated)", "refused")
    for entry, at in ((release, released_at), (refusal, refused_at)):
        _aware_utc(entry.at)
        assert entry.at == at and entry.at.tzinfo is not None
        assert entry.at.astimezone(UTC) == at
        assert entry.remote == "127.0.0.1"
    assert head is not None and head.seq == refusal.seq
    assert head.hash == refusal.hash

    _aware_utc(challenge.issued_at)
    _aware_utc(challenge.expires_at)
    assert challenge.issued_at == released_at
    assert challenge.expires_at == released_at + settings.challenge_ttl
    assert challenge.container_id == unb64(cid) and challenge.consumed_at is None
    assert doc["challenge_expires_at"] is not None

    assert container is not None
    assert container.unconfirmed == 1
    assert container.last_audit_seq == release.seq
    assert container.state == "active"

    verify = world.call("auditor", "GET", "/v1/audit/verify").json()
    assert verify["ok"] is True and verify["head_seq"] == refusal.seq
    status = world.call("writer", "GET", f"/v1/containers/{cid}").json()
    assert status["unconfirmed"] == 1


def test_locks_are_compiled_for_the_dialect(engine: Engine, backend: str) -> None:
    hot = HotPath(engine.dialect)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        try:
            calls = _Calls(hot, cur)
            assert calls.lock_head().seq == 0  # genesis
            assert calls.evaluation_row(bytes(16), "nobody", frozenset()) is None
        finally:
            cur.close()
        conn.rollback()
    statements = [hot._lock_head.sql, hot._evaluation[0].sql]
    if backend == "postgres":
        assert all("FOR UPDATE" in sql for sql in statements), statements
        # psycopg's named placeholders, compiled once for the dialect.
        assert "%(" in hot._lock_head.sql and "?" not in hot._lock_head.sql, hot._lock_head.sql
    else:
        assert not any("FOR UPDATE" in sql for sql in statements), statements
        assert "?" in hot._evaluation[0].sql
    # The ordinary path's statement locks alike (one source: keyserver/_store/evaluation.py).
    core = str(evaluation.EVALUATION_STMT.compile(dialect=engine.dialect))
    assert ("FOR UPDATE" in core) == (backend == "postgres")


def test_the_batchs_driver_errors_are_sqlalchemys(engine: Engine, backend: str) -> None:
    """The batch's cursor errors go through engine.driver_errors (one translation)."""
    hot = HotPath(engine.dialect)
    assert hot.dbapi_error is (sqlite3.Error if backend == "sqlite" else psycopg.Error)

    # Bad SQL on a real connection: the class SQLAlchemy itself would raise, kept.
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        with pytest.raises(sa_exc.DBAPIError) as bad_sql, driver_errors(conn, cur):
            cur.execute("SELEC 1")
        raw.rollback()
        assert isinstance(bad_sql.value.orig, hot.dbapi_error)
        assert not bad_sql.value.connection_invalidated and not conn.invalidated
        # sqlite3 reports a syntax error as OperationalError.
        expected = sa_exc.OperationalError if backend == "sqlite" else sa_exc.ProgrammingError
        assert type(bad_sql.value) is expected

    # PostgreSQL: a connection that is gone is invalidated, its error an OperationalError.
    if backend == "postgres":
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cur = raw.cursor()
            raw.close()
            with pytest.raises(sa_exc.OperationalError) as lost, driver_errors(conn, cur):
                cur.execute("SELECT 1")
            assert isinstance(lost.value.orig, psycopg.OperationalError)
            assert lost.value.connection_invalidated and conn.invalidated


GROUP_CASES = {
    # name: (groups, admitted through reader_groups ["team-a"])
    "g0": ([], False),
    "g1": (["team-a"], True),
    "g3": (["aaa", "team-a", "zzz"], True),
    "g3-first": (["team-a", "team-b", "team-c"], True),
    "g3-none": (["aaa", "team-b", "zzz"], False),
}


def test_group_policy_for_0_1_and_3_groups(
    world: World, engine: Engine, subtests: pytest.Subtests
) -> None:
    reg, _ = activate(world, readers=["reader"], reader_groups=["team-a"])
    cid = reg["container_id"]
    for name, (group_names, _) in GROUP_CASES.items():
        resp = world.call(
            "admin",
            "POST",
            "/v1/principals",
            json={"name": name, "roles": ["reader"], "groups": group_names},
        )
        assert resp.status_code == 201, resp.text
        world.tokens[name] = resp.json()["token"]

    # End to end: the server's own HotPath, one compiled form per group count.
    for name, (_, admitted) in GROUP_CASES.items():
        with subtests.test(msg=name):
            resp = world.call(
                name,
                "POST",
                f"/v1/containers/{cid}/evaluate",
                json={"blinded_element": blinded_b64()},
            )
            if admitted:
                assert resp.status_code == 200, (name, resp.text)
            else:
                assert resp.status_code == 403, (name, resp.text)
                assert resp.json()["type"] == "urn:rwc:problem:not-allowed"

    # Statement by statement: the hot path's row equals the ORM path's row.
    hot = HotPath(engine.dialect)
    cases = [(n, frozenset(g), a) for n, (g, a) in GROUP_CASES.items()]
    cases.append(("reader", frozenset(), True))  # admitted by name, no groups
    for name, groups, admitted in cases:
        with subtests.test(msg=name, groups=sorted(groups)):
            with engine.connect() as conn:
                core = evaluation.evaluation_row(conn, unb64(cid), name, groups)
                conn.rollback()
                raw = conn.connection.dbapi_connection
                assert raw is not None
                cur = raw.cursor()
                try:
                    fast = _Calls(hot, cur).evaluation_row(unb64(cid), name, groups)
                finally:
                    cur.close()
                conn.rollback()
            assert fast is not None and core is not None
            assert fast == core, name
            assert bool(fast.view.readers or fast.view.reader_groups) is admitted, name
            assert fast.view.reader_groups == (groups if groups and admitted else frozenset())
    assert sorted(hot._evaluation) == [0, 1, 3]
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True


def test_a_batchs_rows_of_one_table_go_in_as_few_inserts_as_sqlite_allows() -> None:
    """SQLite: one multi-row INSERT per table, cut where the parameters would pass 999."""
    hot = HotPath(create_engine("sqlite://").dialect)
    sql, count = hot.insert_rows("challenges", 16)
    assert count == 16 and sql.count("(?, ?, ?, ?, ?, ?)") == 16
    sql, count = hot.insert_rows("audit_log", 500)
    assert count == 99 and sql.count("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") == 99  # 990 parameters


def test_more_rows_than_one_statement_takes_are_all_written(
    world: World, clock: FakeClock, engine: Engine
) -> None:
    """A part longer than one statement's limit is written whole, in order, on both."""
    reg, _ = activate(world)
    cid = unb64(reg["container_id"])
    now = clock()
    digests = [i.to_bytes(2, "big") * 16 for i in range(400)]  # > 2 x 166 on SQLite
    hot = HotPath(engine.dialect)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        batch = Batch(hot, raw.cursor())
        for digest in digests:
            batch.insert_challenge(digest, cid, 1, now, now + timedelta(minutes=5))
        batch.store_head(batch.lock_head())
    with Session(engine) as session:
        rows = session.scalars(select(Challenge).where(Challenge.container_id == cid)).all()
    assert sorted(r.challenge_hash for r in rows) == digests
    assert {(r.principal_id, r.issued_at) for r in rows} == {(1, now)}


def test_sqlite_keeps_a_prepared_statement_for_every_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release path's texts per batch size (up to 64 jobs) fit sqlite3's statement cache.

    Five texts vary with the batch's size (rows, tokens, facts, two INSERTs): past the
    cache a statement is prepared again under the chain head. The real connect runs;
    only its arguments are recorded.
    """
    seen: list[dict[str, Any]] = []
    real = sqlite3.dbapi2.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3.dbapi2, "connect", connect)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ks.db'}", master_key_b64="A" * 43)
    eng = make_engine(settings)
    try:
        with eng.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        eng.dispose()
    assert seen and seen[0]["cached_statements"] >= 5 * 64 + 10


def test_postgresql_reads_have_one_text_whatever_the_batch_size(
    engine: Engine, backend: str
) -> None:
    """PostgreSQL binds a batch's lists as arrays: one SQL text per read, any batch size.

    keyserver/_release/facts.py, ``member``: a text per batch size was prepared only after
    five runs and planned again until five more, two plans per batch through the server
    (bench/profiles/keyserver.md, eighteenth session). SQLite keeps one placeholder per
    value (no arrays), so a text per size, within sqlite3's statement cache (above).
    """
    hot = HotPath(engine.dialect)
    sizes = (1, 2, 7, 16)
    texts = {
        "rows": {hot._rows_statement(n).sql for n in sizes},
        "tokens": {hot._tokens_statement(n).sql for n in sizes},
        "registers": {hot._registers_statement(n).sql for n in sizes},
        "facts": {hot._facts_statement((1, 1, n, (n, 1), (0, 0))).sql for n in sizes},
        "policy": {hot._facts_statement((0, 0, 0, (n, 2), (n, 3))).sql for n in sizes},
    }
    per_read = 1 if backend == "postgres" else len(sizes)
    assert {read: len(found) for read, found in texts.items()} == dict.fromkeys(texts, per_read)
    if backend == "postgres":
        assert all("= ANY (" in sql for found in texts.values() for sql in found)
