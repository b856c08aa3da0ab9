"""kill -9 of the key server under load: nothing acknowledged is lost.

SQLite with 1 worker, and PostgreSQL with ``serve --workers 2`` (the supervisor and its
workers all killed at once, while readers release keys and an official suspends).

Readers release keys as fast as the server answers; the server process is killed with
SIGKILL in the middle; after a restart the audit log holds at least every release that
was acknowledged with a 200 (plus possibly some whose answer was lost in the kill), the
chain verifies, and a suspension acknowledged just before a kill -9 is still in force.
Figures are printed; nothing here asserts a timing.
"""

from __future__ import annotations

import base64
import signal
import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support import e2e, postgres
from tests.support.release_load import (
    NO_CAPS,
    Load,
    acknowledged_action,
    committed_container,
    evaluate,
    kill_all,
)


def _released(db: Path, cid: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'evaluate' AND outcome = 'ok'"
            " AND container = ? AND actor != 'writer-k9'",
            (cid,),
        ).fetchone()
    return int(row[0])


def _verify(server: e2e.KeyServer, official: str) -> None:
    """The chain verifies over HTTP (an official's right; an admin's token is refused, so it
    would prove nothing) and from the database itself."""
    resp = requests.get(
        f"{server.url}/v1/audit/verify",
        headers={"Authorization": f"Bearer {official}"},
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["ok"] is True, resp.text
    proc = server.ks_local("audit", "verify")
    e2e.expect(proc, 0)


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acknowledged_release(tmp_path: Path) -> None:
    server = e2e.init_server(tmp_path, **NO_CAPS)
    server.start()
    try:
        writer = e2e.add_principal_http(server, "writer-k9", "writer")
        reader = e2e.add_principal_http(server, "reader-k9", "reader")
        official = e2e.add_principal_http(server, "official-k9", "official")
        cid = committed_container(server, writer, "reader-k9")
        lost = committed_container(server, writer, "reader-k9")
        load = Load(server.url, reader, cid)
        load.until(50)
        # An acknowledged suspension, then kill -9 at once (under the load): still in force
        # after the restart. One kill for both promises: each restart costs a start-up.
        acknowledged_action(server, official, lost, "suspend")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=30)
        acknowledged = load.acked()
        load.stop()
        server.proc = None
        server.start()
        recorded = _released(server.data_dir / "keyserver.db", cid)
        print(f"\n[faults] kill -9 under load: {acknowledged} acknowledged, {recorded} recorded")
        assert acknowledged > 0
        assert recorded >= acknowledged
        after = evaluate(server, reader, lost)
        assert after.status_code == 423, after.text
        _verify(server, official)
    finally:
        server.stop()


def _pg_released(name: str, cid: str) -> int:
    with psycopg.connect(postgres.conninfo(name)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'evaluate' AND outcome = 'ok'"
            " AND container = %s AND actor = 'reader-k9'",
            (cid,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _pg_states(name: str, cids: list[str]) -> dict[str, tuple[str, int]]:
    """Each container's state and its number of successful suspend entries."""
    out = {}
    with psycopg.connect(postgres.conninfo(name)) as conn:
        for cid in cids:
            raw = base64.urlsafe_b64decode(cid + "=" * (-len(cid) % 4))
            state = conn.execute("SELECT state FROM containers WHERE id = %s", (raw,)).fetchone()
            entries = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'suspend' AND outcome = 'ok'"
                " AND container = %s",
                (cid,),
            ).fetchone()
            assert state is not None and entries is not None
            out[cid] = (str(state[0]), int(entries[0]))
    return out


@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_postgres_two_workers_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """PostgreSQL, ``serve --workers 2``: releases and suspensions under load, then kill -9."""
    with postgres.fresh_database("ks_k9") as name:
        server, location = e2e.init_postgres_server(tmp_path, name, "--workers", "2", **NO_CAPS)
        server.start()
        try:
            writer = e2e.add_principal_http(server, "writer-k9", "writer")
            reader = e2e.add_principal_http(server, "reader-k9", "reader")
            official = e2e.add_principal_http(server, "official-k9", "official")
            load_cid = committed_container(server, writer, "reader-k9")
            doomed = committed_container(server, writer, "reader-k9")
            targets = [committed_container(server, writer, "reader-k9") for _ in range(20)]
            suspended: list[str] = []
            stop = threading.Event()

            def revoke() -> None:
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {official}"
                for cid in targets:
                    if stop.is_set():
                        return
                    try:
                        resp = session.post(
                            f"{server.url}/v1/containers/{cid}/suspend",
                            json={"reason": "kill -9 test"},
                            timeout=10,
                        )
                    except requests.RequestException:
                        continue
                    if resp.status_code == 200:
                        suspended.append(cid)
                    time.sleep(0.05)

            revoker = threading.Thread(target=revoke)
            revoker.start()
            load = Load(server.url, reader, load_cid)
            deadline = time.monotonic() + 60
            while (load.acked() < 200 or len(suspended) < 3) and time.monotonic() < deadline:
                time.sleep(0.05)
            # An acknowledged destroy, then kill -9 at once (under the load): destroyed after
            # the restart. One kill for every promise: each restart costs a start-up.
            acknowledged_action(server, official, doomed, "destroy")
            killed = kill_all(server)
            acknowledged, revoked = load.acked(), list(suspended)
            stop.set()
            load.stop()
            revoker.join(30)
            server.start()
            recorded = _pg_released(name, load_cid)
            states = _pg_states(name, targets)
            print(
                f"\n[faults] PostgreSQL, 2 workers, kill -9 of {killed} processes under load:"
                f" {acknowledged} releases acknowledged, {recorded} recorded;"
                f" {len(revoked)} suspensions acknowledged,"
                f" {sum(s == 'suspended' for s, _ in states.values())} suspended in the database"
            )
            assert acknowledged > 0 and revoked
            assert recorded >= acknowledged
            for cid in revoked:
                assert states[cid] == ("suspended", 1), (cid, states[cid])
            for state, entries in states.values():
                # Suspended if and only if its suspension was recorded with it.
                assert (state == "suspended") == (entries == 1)
            after = evaluate(server, reader, doomed)
            assert after.status_code == 410, after.text
            e2e.expect(e2e.run([e2e.KEYSERVER, "audit", "verify", *location], e2e.clean_env()), 0)
        finally:
            server.stop()
