"""spec §endpoints: a container may be registered without a medium (``medium: null``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from ks_helpers import PG_ADMIN, PG_URL, World, activate, blinded_b64, oprf
from sqlalchemy import text

from keyserver.db.engine import _alembic_config, make_engine, migrate
from keyserver.lifecycle import Actor
from keyserver.service import KeyService
from keyserver.settings import Settings

CHANGE = {"reason": "test"}


def test_register_without_medium(world: World) -> None:
    # Absent and explicit null are the same.
    absent = world.call(
        "writer", "POST", "/v1/containers", json={"label": "no-medium", "readers": ["reader"]}
    )
    assert absent.status_code == 201, absent.text
    status = world.call("official", "GET", f"/v1/containers/{absent.json()['container_id']}")
    assert status.json()["medium"] is None
    reg, _ = activate(world, medium=None)
    cid = reg["container_id"]
    assert oprf(world, "reader", cid, reg["public_key"])["challenge"] is not None
    # The registration is audited with a null medium.
    log = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()
    assert log["entries"][0]["action"] == "register"
    assert log["entries"][0]["details"]["medium"] is None
    # No medium-scoped action or report reaches it; per id and per issuer still do.
    resp = world.call("official", "POST", "/v1/media/usb-0001/loss-report", json=CHANGE)
    assert resp.status_code == 200 and resp.json()["affected"] == 0
    report = world.call("official", "GET", "/v1/media/usb-0001/report").json()
    assert report["containers"] == []
    found = world.call("official", "GET", "/v1/containers", params={"medium": "usb-0001"})
    assert found.json()["containers"] == []
    resp = world.call("official", "POST", f"/v1/containers/{cid}/suspend", json=CHANGE)
    assert resp.json()["affected"] == 1
    resp = world.call("official", "POST", "/v1/issuers/writer/destroy", json=CHANGE)
    assert cid in resp.json()["container_ids"]
    resp = world.call(
        "reader",
        "POST",
        f"/v1/containers/{cid}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    assert resp.status_code == 410


def test_empty_or_bad_medium_still_refused(world: World) -> None:
    for medium in ("", "a\x00b", 7, "m" * 201):
        resp = world.call(
            "writer",
            "POST",
            "/v1/containers",
            json={"label": "l", "medium": medium, "readers": ["reader"]},
        )
        assert resp.status_code == 400, (medium, resp.text)
        assert resp.json()["type"] == "urn:rwc:problem:invalid-request"


@pytest.fixture
def fresh_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """An EMPTY database (no schema) on the backend, dropped afterwards."""
    key = "B" * 43
    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path}/old.db", master_key_b64=key)
        return
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    name = "ks_mig_" + secrets.token_hex(6)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=PG_URL.format(db=name), master_key_b64=key)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_upgrade_from_0001_keeps_policies(fresh_settings: Settings) -> None:
    engine = make_engine(fresh_settings)
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        service = KeyService(fresh_settings, engine=engine)
        ops = Actor(name="ops", roles=frozenset(), local=True)
        token = service.add_principal(ops, "w", ["writer"])["token"]
        service.add_principal(ops, "r", ["reader"])
        writer = service.authenticate(token)
        old = service.register(writer, label="old", medium="usb", readers=["r"], reader_groups=[])
        migrate(fresh_settings, engine)
        new = service.register(writer, label="new", medium=None, readers=["r"], reader_groups=[])
        assert service.status(ops, old["container_id"])["readers"] == ["r"]
        assert service.status(ops, old["container_id"])["medium"] == "usb"
        assert service.status(ops, new["container_id"])["medium"] is None
        assert service.audit_verify(ops)["ok"] is True
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM container_readers")).scalar() == 2
            if engine.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
