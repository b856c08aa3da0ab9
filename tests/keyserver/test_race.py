"""Two key-server instances on one PostgreSQL database: revocation races evaluation.

One instance is a process of its own, the other runs in the test process (``running_server``),
so the two share no memory, as two hosts do not: a process start (1.4 CPU-s) was all a
second process added.

Once a destroy has returned (on either instance), no evaluation sent afterwards (to
either instance) may succeed, and the shared audit chain stays one valid chain in which
no successful evaluation of a container follows its destroy entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from keyserver._domain.settings import Settings, utc_now
from keyserver.testing import running_server
from tests.support import http_client
from tests.support.processes import free_port
from tests.support.world import World, activate, blinded_b64, make_world

# One reader hammers 8 containers of one medium: the attempt windows (spec §receipt) are
# not what this test is about. Both instances count attempts in the shared database.
NO_CAPS = {"principal_attempt_cap": 1_000_000, "medium_attempt_cap": 1_000_000}


@contextmanager
def server_processes(settings: Settings, count: int) -> Iterator[list[str]]:
    """``count`` separate uvicorn processes serving keyserver._cli.host:app_factory."""
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            proc, url = _spawn(settings)
            procs.append(proc)
            urls.append(url)
        for proc, url in zip(procs, urls, strict=True):
            _wait_ready(proc, url)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _spawn(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "KEYSERVER_DATABASE_URL": settings.database_url,
        "KEYSERVER_MASTER_KEY": settings.master_key_b64 or "",
        "KEYSERVER_SWEEP_INTERVAL": "0",
        "KEYSERVER_CONTACT": settings.contact,
        **{f"KEYSERVER_{name.upper()}": str(value) for name, value in NO_CAPS.items()},
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "keyserver._cli.host:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if http_client.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "server process exited"
        assert time.monotonic() < deadline, "server process did not start"
        time.sleep(0.1)


# Several instances need PostgreSQL: SQLite allows one server per database file.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_instances_revocation_race(settings: Settings, backend: str) -> None:
    # The test controls time only through real clocks here: the process uses its own, and
    # the instance in this process the same real clock (the fixture's stands still).
    with (
        server_processes(settings, 1) as (url_a,),
        running_server(settings.replace(clock=utc_now, **NO_CAPS)) as url_b,
    ):
        world = make_world(settings, url_a)
        try:
            _race(world, url_a, url_b)
        finally:
            world.close()


def _wait_for(condition: Callable[[], bool], lock: threading.Lock, what: str) -> None:
    """Wait until ``condition`` holds over the results (read under ``lock``); hang guard."""
    deadline = time.monotonic() + 120
    while True:
        with lock:
            if condition():
                return
        assert time.monotonic() < deadline, f"never seen: {what}"
        time.sleep(0.01)


def _race(world: World, url_a: str, url_b: str) -> None:
    containers = [
        activate(world, medium="usb-race", attempt_budget=1000)[0]["container_id"] for _ in range(8)
    ]
    destroyed_at: dict[str, float] = {}
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def evaluator(index: int) -> None:
        clients = [
            http_client.client(
                base_url=u,
                timeout=30,
                headers={"Authorization": f"Bearer {world.tokens['reader']}"},
            )
            for u in (url_a, url_b)
        ]
        n = index
        try:
            while not stop.is_set():
                cid = containers[n % len(containers)]
                client = clients[n % 2]
                n += 1
                started = time.monotonic()
                resp = client.post(
                    f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
                )
                with lock:
                    results.append((cid, started, resp.status_code))
        finally:
            for c in clients:
                c.close()

    threads = [threading.Thread(target=evaluator, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    officials = [
        http_client.client(
            base_url=u, timeout=30, headers={"Authorization": f"Bearer {world.tokens['official']}"}
        )
        for u in (url_b, url_a)
    ]
    try:
        # The race needs releases before the destroys and evaluations sent after them:
        # waited for, not slept for (0.3 s sleeps were a guess at a loaded machine's pace).
        _wait_for(lambda: any(code == 200 for _, _, code in results), lock, "a release")
        for i, cid in enumerate(containers):
            resp = officials[i % 2].post(f"/v1/containers/{cid}/destroy", json={"reason": "race"})
            assert resp.status_code == 200 and resp.json()["affected"] == 1
            destroyed_at[cid] = time.monotonic()
            time.sleep(0.05)
        _wait_for(
            lambda: (
                {cid for cid, started, _ in results if started > destroyed_at[cid]}
                == set(containers)
            ),
            lock,
            "an evaluation of each container sent after its destroy",
        )
    finally:
        stop.set()
        for t in threads:
            t.join()
        for c in officials:
            c.close()
    after = [(cid, code) for cid, started, code in results if started > destroyed_at[cid]]
    assert after, "no evaluation was sent after a destroy: the race did not happen"
    assert all(code == 410 for _, code in after), [c for c in after if c[1] != 410][:5]
    assert any(code == 200 for _, _, code in results)
    assert {code for _, _, code in results} <= {200, 410}
    # The shared chain is one valid chain, and in it no release follows a destroy.
    verify = world.call("auditor", "GET", "/v1/audit/verify").json()
    assert verify["ok"] is True, verify
    export = world.call("auditor", "GET", "/v1/audit/export").text.splitlines()
    dead: set[str] = set()
    for line in export:
        entry = json.loads(line)
        if entry["action"] == "destroy":
            dead.add(entry["container"])
        if entry["action"] == "evaluate" and entry["outcome"] == "ok":
            assert entry["container"] not in dead, entry
    assert dead == set(containers)
