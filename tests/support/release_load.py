"""Key releases under load over HTTP, for the kill -9 tests of tests/faults.

A committed container a reader may release without receipts (``committed_container``),
readers releasing its key in threads until stopped (:class:`Load`), one release or an
official's acknowledged action, and the SIGKILL of a ``serve --workers N`` supervisor
with its workers (``kill_all``). ``NO_CAPS``: the sliding-window caps off (spec
§receipt), which are not these tests' subject.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from voprf import ristretto as r

from tests.support import e2e

READERS = 4


# One reader releasing without receipts: the sliding-window caps (spec §receipt) would
# refuse it after 30, which is not the subject here.
NO_CAPS = {"KEYSERVER_PRINCIPAL_ATTEMPT_CAP": "1000000", "KEYSERVER_MEDIUM_ATTEMPT_CAP": "1000000"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def blinded() -> str:
    _, blinded = r.Client.blind(b"pw")
    return b64(blinded.serialize())


def committed_container(server: e2e.KeyServer, writer: str, reader: str) -> str:
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
        json={"blinded_element": blinded()},
        headers=auth,
        timeout=30,
    )
    assert ev.status_code == 200, ev.text
    commit = {"header_digest": b64(b"\1" * 32), "receipt_key": b64(b"\2" * 32)}
    done = requests.post(
        f"{server.url}/v1/containers/{cid}/commit", json=commit, headers=auth, timeout=30
    )
    assert done.status_code == 200, done.text
    return str(cid)


class Load:
    """``READERS`` threads releasing ``cid``'s key through ``base`` until stopped.

    ``codes`` counts the answers by status (0: no answer at all, ``failures`` says why).
    """

    def __init__(self, base: str, token: str, cid: str, *, verify: str | bool = True) -> None:
        self.codes: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._args = (f"{base}/v1/containers/{cid}/evaluate", token, verify)
        self._threads = [threading.Thread(target=self._run) for _ in range(READERS)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        url, token, verify = self._args
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while not self._stop.is_set():
            try:
                # verify per request: a session's verify loses to REQUESTS_CA_BUNDLE.
                resp = session.post(
                    url, json={"blinded_element": blinded()}, timeout=30, verify=verify
                )
            except requests.RequestException as exc:
                with self._lock:
                    self.codes[0] += 1
                    self.failures[type(exc).__name__] += 1
                continue
            with self._lock:
                self.codes[resp.status_code] += 1

    def acked(self) -> int:
        """Releases acknowledged so far."""
        with self._lock:
            return self.codes[200]

    def until(self, acked: int, timeout: float = 60) -> None:
        """Wait until ``acked`` releases were acknowledged (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while self.acked() < acked and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def evaluate(server: e2e.KeyServer, token: str, cid: str) -> requests.Response:
    return requests.post(
        f"{server.url}/v1/containers/{cid}/evaluate",
        json={"blinded_element": blinded()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def acknowledged_action(server: e2e.KeyServer, official: str, cid: str, op: str) -> None:
    """An official's ``op`` (suspend, destroy) of one container, answered 200: a promise
    the server must keep whatever happens next."""
    resp = requests.post(
        f"{server.url}/v1/containers/{cid}/{op}",
        json={"reason": "lost"},
        headers={"Authorization": f"Bearer {official}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text


def kill_all(server: e2e.KeyServer) -> int:
    """SIGKILL the supervisor of ``serve --workers N`` and its workers; how many died."""
    assert server.proc is not None
    pid = server.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    victims = [int(c) for c in children] + [pid]
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    server.proc.wait(timeout=30)
    for victim in victims[:-1]:  # the workers are the supervisor's: reaped by init now
        deadline = time.monotonic() + 30
        while Path(f"/proc/{victim}").exists() and b"Z" not in _state(victim):
            assert time.monotonic() < deadline, f"worker {victim} survived SIGKILL"
            time.sleep(0.01)
    server.proc = None
    return len(victims)


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b"Z"
