"""kill -9 of the host release committer of ``serve --workers 2``
(keyserver/_release/hostcommit.py).

Readers release keys through both workers; the committer (the one process that commits
every worker's releases) is killed with SIGKILL in the middle. Then:

- every answer was a 200 or a 503 problem (no 500, no dropped connection: the workers
  answer what the dead committer had not answered with ``unavailable``);
- the supervisor started another committer, and releases go on through it;
- the audit log holds at least every acknowledged release (each 200 was committed, and
  audited, before it was sent), and its chain verifies;
- a suspension acknowledged after the restart is in force for the next release.

SQLite and PostgreSQL, each over a real socket. Figures are printed; nothing is timed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest

from tests.support import e2e, postgres
from tests.support.release_load import (
    NO_CAPS,
    Load,
    acknowledged_action,
    committed_container,
    evaluate,
)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _committers(server: e2e.KeyServer) -> list[int]:
    assert server.proc is not None
    found = []
    for pid in _children(server.proc.pid):
        with suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "rwc-committer":
                found.append(pid)
    return found


def _committers_left(pid: int) -> bool:
    """True while ``pid`` still runs (not a zombie: it was the supervisor's child)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


def _wait_committer(server: e2e.KeyServer, other_than: int | None = None) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [p for p in _committers(server) if p != other_than]
        if len(pids) == 1:
            return pids[0]
        time.sleep(0.05)
    pytest.fail(f"no release committer; log:\n{server.log_text()}")


@contextmanager
def _server(tmp_path: Path, db: str) -> Iterator[tuple[e2e.KeyServer, list[str], str]]:
    """``serve --workers 2`` on SQLite or PostgreSQL; its location options; its SQL URL."""
    env = {**NO_CAPS, "KEYSERVER_HOST_COMMITTER": "true"}
    if db == "sqlite":
        server = e2e.init_server(tmp_path, **env)
        location = ["--data-dir", os.fspath(server.data_dir)]
        server.location = [*location, "--workers", "2"]
        yield server, location, os.fspath(server.data_dir / "keyserver.db")
        return
    with postgres.fresh_database("ks_committer") as name:
        server, location = e2e.init_postgres_server(tmp_path, name, "--workers", "2", **env)
        yield server, location, name


def _released(db: str, where: str, cid: str) -> int:
    sql = (
        "SELECT count(*) FROM audit_log WHERE action = 'evaluate' AND outcome = 'ok'"
        " AND actor = 'reader-c9' AND container = "
    )
    if db == "sqlite":
        with sqlite3.connect(where) as conn:
            return int(conn.execute(sql + "?", (cid,)).fetchone()[0])
    with psycopg.connect(postgres.conninfo(where)) as conn:
        row = conn.execute(sql + "%s", (cid,)).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_committer_kill_9_answers_503_and_restarts(tmp_path: Path, db: str) -> None:
    with _server(tmp_path, db) as (server, location, where):
        server.start()
        try:
            first = _wait_committer(server)
            writer = e2e.add_principal_http(server, "writer-c9", "writer")
            reader = e2e.add_principal_http(server, "reader-c9", "reader")
            official = e2e.add_principal_http(server, "official-c9", "official")
            cid = committed_container(server, writer, "reader-c9")
            load = Load(server.url, reader, cid)
            try:
                load.until(100)
                os.kill(first, signal.SIGKILL)
                at_kill = load.acked()
                second = _wait_committer(server, other_than=first)
                load.until(at_kill + 100)
            finally:
                load.stop()
            acknowledged = load.acked()
            recorded = _released(db, where, cid)
            print(
                f"\n[faults] {db}, 2 workers, kill -9 of the release committer under load:"
                f" answers {dict(load.codes)}, {acknowledged} acknowledged, {recorded} recorded"
            )
            assert first != second
            assert set(load.codes) <= {200, 503}, (dict(load.codes), dict(load.failures))
            assert acknowledged >= at_kill + 100, "no release after the committer restarted"
            assert recorded >= acknowledged
            assert "Traceback" not in server.log_text(tail=None)

            # Revocations stay linearizable through the committer: a suspension that has
            # returned refuses the next release, whichever worker serves it.
            acknowledged_action(server, official, cid, "suspend")
            for _ in range(4):  # new connections: both workers (kernel's balancing)
                after = evaluate(server, reader, cid)
                assert after.status_code == 423, after.text
            # SIGTERM to every process, as a service manager stops the unit: the workers
            # finish (the committer ignores it until they are gone); a clean exit.
            assert server.proc is not None
            for pid in [server.proc.pid, *_children(server.proc.pid)]:
                os.kill(pid, signal.SIGTERM)
            assert server.proc.wait(timeout=60) == 0, server.log_text()
            assert not _committers_left(second)
        finally:
            server.stop()
        verify = e2e.run([e2e.KEYSERVER, "audit", "verify", *location], e2e.clean_env())
        e2e.expect(verify, 0)
