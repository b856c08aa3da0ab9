"""kill -9 of the key server under load: nothing acknowledged is lost (SQLite, 1 worker).

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
from typing import Any

import requests
from voprf import ristretto as r

from tests.support import e2e

READERS = 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _blinded() -> str:
    _, blinded = r.Client.blind(b"pw")
    return _b64(blinded.serialize())


def _container(server: e2e.KeyServer, writer: str, reader: str) -> str:
    auth = {"Authorization": f"Bearer {writer}"}
    body: dict[str, Any] = {
        "label": "kill-9",
        "medium": "usb-k9",
        "readers": [reader],
        "reader_groups": [],
        "not_after": None,
        "password_required": True,
        "attempt_budget": 1000,
    }
    reg = requests.post(f"{server.url}/v1/containers", json=body, headers=auth, timeout=30)
    assert reg.status_code == 201, reg.text
    cid = reg.json()["container_id"]
    ev = requests.post(
        f"{server.url}/v1/containers/{cid}/evaluate",
        json={"blinded_element": _blinded()},
        headers=auth,
        timeout=30,
    )
    assert ev.status_code == 200, ev.text
    commit = {"header_digest": _b64(b"\1" * 32), "receipt_key": _b64(b"\2" * 32)}
    done = requests.post(
        f"{server.url}/v1/containers/{cid}/commit", json=commit, headers=auth, timeout=30
    )
    assert done.status_code == 200, done.text
    return str(cid)


def _released(db: Path, cid: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'evaluate' AND outcome = 'ok'"
            " AND container = ? AND actor != 'writer-k9'",
            (cid,),
        ).fetchone()
    return int(row[0])


def _verify(server: e2e.KeyServer) -> None:
    resp = requests.get(
        f"{server.url}/v1/audit/verify",
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=120,
    )
    assert resp.status_code in {200, 403}, resp.text
    proc = server.ks_local("audit", "verify")
    e2e.expect(proc, 0)


def test_kill_9_under_load_loses_no_acknowledged_release(tmp_path: Path) -> None:
    server = e2e.init_server(tmp_path)
    server.start()
    try:
        writer = e2e.add_principal_http(server, "writer-k9", "writer")
        reader = e2e.add_principal_http(server, "reader-k9", "reader")
        official = e2e.add_principal_http(server, "official-k9", "official")
        cid = _container(server, writer, "reader-k9")
        acked = 0
        lock = threading.Lock()
        stop = threading.Event()
        url = f"{server.url}/v1/containers/{cid}/evaluate"

        def load() -> None:
            nonlocal acked
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {reader}"
            while not stop.is_set():
                try:
                    resp = session.post(url, json={"blinded_element": _blinded()}, timeout=10)
                except requests.RequestException:
                    continue
                if resp.status_code == 200:
                    with lock:
                        acked += 1

        threads = [threading.Thread(target=load) for _ in range(READERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while acked < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=30)
        with lock:
            acknowledged = acked
        stop.set()
        for t in threads:
            t.join(30)
        server.proc = None
        server.start()
        recorded = _released(server.data_dir / "keyserver.db", cid)
        print(f"\n[faults] kill -9 under load: {acknowledged} acknowledged, {recorded} recorded")
        assert acknowledged > 0
        assert recorded >= acknowledged
        _verify(server)

        # An acknowledged suspension, then kill -9 at once: still suspended after restart.
        resp = requests.post(
            f"{server.url}/v1/containers/{cid}/suspend",
            json={"reason": "lost"},
            headers={"Authorization": f"Bearer {official}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=30)
        server.proc = None
        server.start()
        after = requests.post(
            f"{server.url}/v1/containers/{cid}/evaluate",
            json={"blinded_element": _blinded()},
            headers={"Authorization": f"Bearer {reader}"},
            timeout=30,
        )
        assert after.status_code == 423, after.text
        _verify(server)
    finally:
        server.stop()
