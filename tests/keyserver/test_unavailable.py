"""The database going away: 503 unavailable problems, nothing released, recovery after."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from keyserver._domain.settings import Settings
from keyserver.testing import new_master_key_b64, running_server
from tests.support import http_client, postgres
from tests.support.world import World, activate, blinded_b64, make_world


@contextmanager
def database_down(settings: Settings) -> Iterator[None]:
    """Make the database refuse service, then bring it back."""
    url = settings.database_url
    if url.startswith("sqlite"):
        # Another process holds the write lock longer than the busy timeout.
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(postgres.conninfo(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_database_down_gives_503_and_releases_nothing(settings: Settings) -> None:
    fast = settings.replace(busy_timeout_ms=300)
    with running_server(fast) as url:
        world = make_world(fast, url)
        try:
            _scenario(world)
        finally:
            world.close()


def _scenario(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    before = world.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"]
    with database_down(world.settings):
        for _ in range(3):
            resp = world.call(
                "reader",
                "POST",
                f"/v1/containers/{cid}/evaluate",
                json={"blinded_element": blinded_b64()},
            )
            assert resp.status_code == 503, resp.text
            doc = resp.json()
            assert doc["type"] == "urn:rwc:problem:unavailable"
            assert "evaluated_element" not in doc and "Traceback" not in resp.text
        resp = world.call(None, "GET", "/readyz")
        # Readiness is a write probe: a server that can still read (SQLite under another
        # writer's lock, in WAL mode) but cannot write is not ready (issue 14).
        assert resp.status_code == 503, resp.text
        assert world.call(None, "GET", "/healthz").status_code == 200
    # Back: the server serves again and no evaluation was recorded while it was down.
    status = world.call(
        "reader", "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    ).status_code
    assert status == 200
    entries = world.call("auditor", "GET", "/v1/audit", params={"after_seq": before}).json()[
        "entries"
    ]
    assert [(e["action"], e["outcome"]) for e in entries] == [("evaluate", "ok")]
    assert world.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True
    assert "rwc_internal_errors_total" not in world.call(None, "GET", "/metrics").text


def test_wrong_master_key_refuses_to_start(settings: Settings) -> None:
    with running_server(settings) as url:
        world = make_world(settings, url)  # writes audit entries under the right key
        world.close()
    wrong = settings.replace(master_key_b64=new_master_key_b64())
    with pytest.raises(RuntimeError), running_server(wrong, timeout=30):
        pass
    with running_server(settings) as url:
        assert http_client.get(url + "/readyz").status_code == 200
