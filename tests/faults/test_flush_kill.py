"""kill -9 of the key server between a release batch's COMMIT and its flush: no answer.

The release batch commits without waiting for the log's flush (the chain head is released
at COMMIT) and waits for durability afterwards, before any evaluation is computed
(keyserver/_store/durability.py, spec §consistency). Here a real ``keyserver serve``
(SQLite at the default ``synchronous=FULL``, and PostgreSQL) is stopped inside that
wait: a ``sitecustomize`` on its PYTHONPATH holds the flush once a file exists, after
writing a second file that says the batch got there. Then kill -9:

- the reader gets no answer at all (no 200, no evaluation);
- after a restart the release is in the audit log (it committed: audited, never
  evaluated nor sent, as spec §consistency allows) and the chain verifies.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import e2e, postgres
from tests.support.release_load import NO_CAPS, blinded, committed_container, kill_all

_HOOK = '''\
"""Hold the release batch's flush while RWC_TEST_FLUSH_ARM names an existing file."""
import os
import time
from pathlib import Path

_ARM = os.environ.get("RWC_TEST_FLUSH_ARM")
if _ARM:
    from keyserver._store import durability

    _flush = durability.Durability.flush

    def _held(self, conn=None):
        if Path(_ARM).exists():
            Path(_ARM + ".reached").write_text(str(os.getpid()))
            time.sleep(3600)
        _flush(self, conn)

    durability.Durability.flush = _held
'''


def _hook_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_HOOK)
    arm = tmp_path / "arm"
    path = os.pathsep.join(p for p in (os.fspath(hook), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "RWC_TEST_FLUSH_ARM": os.fspath(arm), **NO_CAPS}, arm


def _release_killed_in_flush(server: e2e.KeyServer, arm: Path) -> str:
    """Release once with the flush held, kill -9 the server there; the container's id."""
    writer = e2e.add_principal_http(server, "writer-fk", "writer")
    reader = e2e.add_principal_http(server, "reader-fk", "reader")
    cid = committed_container(server, writer, "reader-fk")
    arm.write_text("")
    answer: list[Any] = []

    def release() -> None:
        try:
            answer.append(
                requests.post(
                    f"{server.url}/v1/containers/{cid}/evaluate",
                    json={"blinded_element": blinded()},
                    headers={"Authorization": f"Bearer {reader}"},
                    timeout=120,
                )
            )
        except requests.RequestException as exc:
            answer.append(exc)

    client = threading.Thread(target=release)
    client.start()
    reached = arm.with_name(arm.name + ".reached")
    deadline = time.monotonic() + 60
    while not reached.exists():
        assert time.monotonic() < deadline, server.log_text()
        assert not answer, answer  # answered before the flush was reached
        time.sleep(0.02)
    kill_all(server)
    client.join(60)
    assert len(answer) == 1 and isinstance(answer[0], requests.ConnectionError), answer
    arm.unlink()
    return cid


def _audited(server: e2e.KeyServer, cid: str) -> list[tuple[str, str, str]]:
    auditor = e2e.add_principal_http(server, "auditor-fk", "auditor")
    resp = requests.get(
        f"{server.url}/v1/audit",
        params={"container": cid},
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    verified = requests.get(
        f"{server.url}/v1/audit/verify", headers={"Authorization": f"Bearer {auditor}"}, timeout=60
    )
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
    return [(e["action"], e["actor"], e["outcome"]) for e in resp.json()["entries"]]


@contextmanager
def _server(tmp_path: Path, db: str, env: dict[str, str]) -> Iterator[e2e.KeyServer]:
    """A stopped server with the flush hook, on SQLite or on a PostgreSQL database of its own."""
    if db == "sqlite":
        yield e2e.init_server(tmp_path, **env)
        return
    with postgres.fresh_database("ks_fk") as name:
        yield e2e.init_postgres_server(tmp_path, name, **env)[0]


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_in_the_flush_answers_nothing(tmp_path: Path, db: str) -> None:
    env, arm = _hook_env(tmp_path)
    with _server(tmp_path, db, env) as server:
        server.start()
        try:
            cid = _release_killed_in_flush(server, arm)
            server.start()
            assert ("evaluate", "reader-fk", "ok") in _audited(server, cid)
        finally:
            server.stop()
