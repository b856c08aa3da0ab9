"""spec §row-integrity: an edited row, or a row copied back from an older backup, is refused.

Both backends, real server over HTTP. The "backup" is the row as it was read from the
database earlier; "restoring" it writes those values back with plain SQL, as someone with
write access to the database (and no master key) would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    insert,
    inspect,
    select,
    text,
    update,
)

from keyserver._domain import rowmac
from keyserver._domain.keys import KeyRing
from keyserver._domain.settings import Settings
from keyserver._store.engine import make_engine, migrate
from keyserver._store.models import AuditEntry, Container, ContainerReader
from keyserver.testing import running_server
from tests.support import migrations
from tests.support.world import World, activate, blinded_b64, make_world, oprf, unb64

PROBLEM = "urn:rwc:problem:row-integrity"


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


def _row(engine: Engine, cid: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(Container).where(Container.id == unb64(cid))).mappings().one()
    return {c.name: row[c.name] for c in Container.__table__.columns}


def _write(engine: Engine, cid: str, values: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(update(Container).where(Container.id == unb64(cid)).values(**values))


def _evaluate(w: World, who: str, cid: str) -> tuple[int, dict[str, Any]]:
    resp = w.call(
        who, "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    return resp.status_code, dict(resp.json())


def _official(w: World, path: str) -> tuple[int, dict[str, Any]]:
    resp = w.call("official", "POST", path, json={"reason": "test", "public_reason": "test"})
    return resp.status_code, dict(resp.json())


def _last_refusal(engine: Engine, action: str) -> dict[str, Any]:
    with engine.connect() as conn:
        entry = conn.execute(
            select(AuditEntry.details)
            .where(AuditEntry.action == action, AuditEntry.outcome == "refused")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).scalar_one()
    return dict(json.loads(entry))


def test_an_edited_row_is_refused_everywhere_but_destroy(world: World, engine: Engine) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    oprf(world, "reader", cid, reg["public_key"])  # the row as the server writes it verifies
    # Someone with database access raises the attempt budget to guess for ever.
    _write(engine, cid, {"attempt_budget": 1000})
    code, doc = _evaluate(world, "reader", cid)
    assert (code, doc["type"]) == (409, PROBLEM), doc
    assert _last_refusal(engine, "evaluate")["reason"] == "row-integrity"
    # Nothing that grants or changes it on its word: restore, suspend (audited).
    for op in ("suspend", "restore"):
        code, doc = _official(world, f"/v1/containers/{cid}/{op}")
        assert (code, doc["type"]) == (409, PROBLEM), (op, doc)
        assert _last_refusal(engine, op)["reason"] == "row-integrity"
    # Destroying is never unsafe: it proceeds, and the row stays refused.
    code, doc = _official(world, f"/v1/containers/{cid}/destroy")
    assert (code, doc["affected"]) == (200, 1), doc
    assert _row(engine, cid)["seed_sealed"] is None
    assert _evaluate(world, "reader", cid)[1]["type"] == PROBLEM


def test_a_row_from_an_old_backup_is_refused(world: World, engine: Engine) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    backup = _row(engine, cid)
    code, _ = _official(world, f"/v1/containers/{cid}/destroy")
    assert code == 200
    assert _evaluate(world, "reader", cid)[1]["type"] == "urn:rwc:problem:destroyed"
    # The whole row as it was before the destroy: its MAC verifies, but the audit log has
    # the destroy after the row's last_audit_seq.
    _write(engine, cid, backup)
    code, doc = _evaluate(world, "reader", cid)
    assert (code, doc["type"]) == (409, PROBLEM), doc
    assert "older than audit entry" in doc["detail"]
    # A restore on its word is refused too (a suspended copy would otherwise come back).
    code, doc = _official(world, f"/v1/containers/{cid}/restore")
    assert (code, doc["type"]) == (409, PROBLEM), doc


def test_a_row_from_before_a_medium_loss_report_is_refused(world: World, engine: Engine) -> None:
    reg, _ = activate(world, medium="usb-lost-1")
    other, _ = activate(world, medium="usb-kept-1")
    cid = reg["container_id"]
    backup = _row(engine, cid)
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-lost-1/loss-report",
        json={"reason": "lost on a train", "now": True},
    )
    # spec §approvals: the loss is reported at once (a bulk suspend); the early destroy
    # waits for a second official. Either bulk entry names the container.
    assert resp.status_code == 202, resp.text
    _write(engine, cid, backup)
    code, doc = _evaluate(world, "reader", cid)
    assert (code, doc["type"]) == (409, PROBLEM), doc
    # A container of another medium is not concerned by that bulk entry.
    oprf(world, "reader", other["container_id"], other["public_key"])


def test_rolling_back_the_attempt_count_is_refused(world: World, engine: Engine) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    before = _row(engine, cid)
    for _ in range(3):
        oprf(world, "reader", cid, reg["public_key"])
    assert _row(engine, cid)["unconfirmed"] == 3
    _write(engine, cid, before)
    code, doc = _evaluate(world, "reader", cid)
    assert (code, doc["type"]) == (409, PROBLEM), doc


def test_a_row_moved_to_another_id_is_refused(world: World, engine: Engine) -> None:
    one, _ = activate(world)
    two, _ = activate(world)
    row = _row(engine, one["container_id"])
    del row["id"]
    _write(engine, two["container_id"], row)
    code, doc = _evaluate(world, "reader", two["container_id"])
    assert (code, doc["type"]) == (409, PROBLEM), doc


def test_a_bulk_suspend_keeps_a_tampered_row_refused(world: World, engine: Engine) -> None:
    good, _ = activate(world, medium="usb-bulk-1")
    bad, _ = activate(world, medium="usb-bulk-1")
    _write(engine, bad["container_id"], {"attempt_budget": 999})

    def stored() -> dict[bytes, tuple[str, bytes]]:
        with engine.connect() as conn:
            rows = conn.execute(select(Container.id, Container.state, Container.row_mac))
            return {bytes(i): (state, bytes(mac or b"")) for i, state, mac in rows}

    before = stored()
    code, doc = _official(world, "/v1/media/usb-bulk-1/suspend")
    assert (code, doc["affected"]) == (200, 2), doc
    after = stored()
    # Both suspended in the one UPDATE; the tampered row keeps the MAC it failed with
    # (never a fresh one), the verified row gets a new one (its state changed).
    bad_id, good_id = unb64(bad["container_id"]), unb64(good["container_id"])
    assert after[bad_id] == ("suspended", before[bad_id][1])
    assert after[good_id][0] == "suspended" and after[good_id][1] != before[good_id][1]
    with engine.connect() as conn:
        details = conn.execute(
            select(AuditEntry.details)
            .where(AuditEntry.action == "suspend")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).scalar_one()
    failed = json.loads(details)["row_integrity_failed"]
    assert failed["count"] == 1 and failed["container_ids"] == [bad["container_id"]]
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-bulk-1/restore",
        json={"reason": "found", "cause": "official"},
    )
    assert resp.status_code == 200, resp.text
    # The verified row came back; the tampered one was not blessed by the bulk changes.
    oprf(world, "reader", good["container_id"], good["public_key"])
    assert _evaluate(world, "reader", bad["container_id"])[1]["type"] == PROBLEM


def test_a_bulk_suspend_macs_the_time_columns_as_every_reader_reads_them(
    world: World, engine: Engine
) -> None:
    """The bulk path reads the time columns unprocessed and converts them itself (issue 15).

    Rows with a (microsecond) ``not_after``: the MACs the suspend writes must verify for the
    restore (which reads through SQLAlchemy's types) and for the release path after it.
    """
    regs = [
        activate(world, medium="usb-times-1", not_after="2099-01-02T03:04:05.123456Z")[0]
        for _ in range(2)
    ]
    code, doc = _official(world, "/v1/media/usb-times-1/suspend")
    assert (code, doc["affected"]) == (200, 2), doc
    row = _row(engine, regs[0]["container_id"])
    assert row["state"] == "suspended" and row["not_after"].microsecond == 123456
    resp = world.call(
        "official",
        "POST",
        "/v1/media/usb-times-1/restore",
        json={"reason": "found", "cause": "official"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["affected"] == 2 and "row_integrity_failed" not in resp.text
    for reg in regs:
        oprf(world, "reader", reg["container_id"], reg["public_key"])


# It drops and re-adds tables: the shared server's prepared statements and the shared
# database's tables must not be the ones it changed.
@pytest.mark.own_database
def test_migration_0008_macs_existing_rows(world: World, settings: Settings) -> None:
    """A database from before 0008_row_mac (no row_mac column) upgrades to rows that verify."""
    reg, _ = activate(world)
    cid = reg["container_id"]
    eng = make_engine(settings)
    try:
        # 0016_container_people and 0015_challenges_by_container, the newest, by their
        # own downgrades (0016 drops its column in place; 0015 copies the challenges
        # table on SQLite, which nothing refers to, so nothing cascades).
        migrations.to(eng, "0014_told_at", down=True)
        with eng.begin() as conn:
            # As 0007_tlog_bigint left it (plain DROP COLUMN: a batch downgrade on SQLite would
            # copy the table and cascade the policy rows away).
            conn.execute(text("ALTER TABLE containers DROP COLUMN row_mac"))
            conn.execute(text("DROP TABLE restore_state"))  # 0009, after it
            # 0011_key_generations, after that
            conn.execute(text("DROP INDEX ix_containers_key_generation"))
            conn.execute(text("ALTER TABLE containers DROP COLUMN key_generation"))
            conn.execute(text("DROP TABLE key_generations"))
            conn.execute(text("DROP TABLE approvals"))  # 0010, after it
            # 0012_tlog_tiles, last (this server keeps no log: the tree is empty)
            conn.execute(text("DROP TABLE tlog_tiles"))
            conn.execute(text("DROP TABLE audit_verified_head"))  # 0013, after it
            conn.execute(text("ALTER TABLE media DROP COLUMN told_at"))  # 0014, after that
            Table(
                "tlog_nodes",
                MetaData(),
                Column("level", Integer, primary_key=True, autoincrement=False),
                Column("idx", BigInteger, primary_key=True, autoincrement=False),
                Column("hash", LargeBinary(32), nullable=False),
            ).create(conn)
            conn.execute(text("UPDATE alembic_version SET version_num = '0007_tlog_bigint'"))
            assert "row_mac" not in {c["name"] for c in inspect(conn).get_columns("containers")}
    finally:
        eng.dispose()
    migrate(settings)
    oprf(world, "reader", cid, reg["public_key"])


def test_a_policy_row_added_in_the_database_admits_nobody(world: World, engine: Engine) -> None:
    """The reader policy is the registered one (its keyed audit entry), not the table's."""
    reg, _ = activate(world, readers=["reader"], reader_groups=[])
    cid = reg["container_id"]
    resp = world.call(
        "admin", "POST", "/v1/principals", json={"name": "intruder", "roles": ["reader"]}
    )
    assert resp.status_code == 201, resp.text
    world.tokens["intruder"] = resp.json()["token"]
    assert _evaluate(world, "intruder", cid)[1]["type"] == "urn:rwc:problem:not-allowed"
    with engine.begin() as conn:
        conn.execute(insert(ContainerReader).values(container_id=unb64(cid), name="intruder"))
    code, doc = _evaluate(world, "intruder", cid)
    assert (code, doc["type"]) == (409, PROBLEM), doc
    assert _last_refusal(engine, "evaluate")["reason"] == "row-integrity"
    oprf(world, "reader", cid, reg["public_key"])  # the registered reader still opens it


def test_the_mac_a_release_writes_is_the_whole_rows(world: World, engine: Engine) -> None:
    # A release MACs the row it writes back from the parts it verified, encoding only
    # the fields it changed (rowmac.replace_parts, issue 15): the stored MAC must be the
    # MAC of the whole row as read back, after plain releases and after the release that
    # suspends on the budget (state, cause and times change, NULLs become values).
    ring = KeyRing.from_master(world.settings.load_master_key())
    reg, _ = activate(world, attempt_budget=3)
    cid = reg["container_id"]
    for expected in (1, 2, 3):
        assert _evaluate(world, "reader", cid)[0] == 200
        row = _row(engine, cid)
        assert row["unconfirmed"] == expected
        assert row["row_mac"] == rowmac.row_mac(rowmac.key_of(ring, row), row)
    assert (row["state"], row["suspend_cause"]) == ("suspended", "budget")
    # And the next release reads it as intact: refused for its state, not its MAC.
    code, doc = _evaluate(world, "reader", cid)
    assert code != 200 and doc["type"] != PROBLEM, doc
    assert _last_refusal(engine, "evaluate")["reason"] == "suspended"


def test_replaced_parts_are_the_encoding_of_the_new_row() -> None:
    # Every kind of field, set, changed, cleared and filled: the parts with the changed
    # fields encoded again are byte for byte the encoding of the whole new row.
    when = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    old = dict.fromkeys(rowmac.FIELD_NAMES) | {
        "id": b"\x01" * 16,
        "state": "active",
        "issuer_id": 7,
        "seed_sealed": b"seed",
        "password_required": True,
        "unconfirmed": 2,
        "not_after": when,
        "last_audit_seq": 41,
    }
    changes = {
        "state": "suspended",  # text changed
        "unconfirmed": 3,  # int changed
        "password_required": False,  # bool as int
        "not_after": None,  # a time cleared
        "budget_reset_at": when,  # a NULL time filled
        "suspend_cause": "budget",  # a NULL text filled
        "seed_sealed": None,  # bytes cleared
        "last_audit_seq": 42,
        "reason": "not a MACed field",  # ignored
    }
    new = old | changes
    parts = rowmac.encode_parts([old[n] for n in rowmac.FIELD_NAMES])
    replaced = rowmac.replace_parts(parts, changes)
    assert replaced == rowmac.encode_parts([new[n] for n in rowmac.FIELD_NAMES])
    key = b"k" * 32
    assert rowmac.parts_mac(key, replaced) == rowmac.row_mac(key, new)
    assert rowmac.parts_verify(key, replaced, rowmac.row_mac(key, new))
    assert not rowmac.parts_verify(key, parts, rowmac.row_mac(key, new))
    assert not rowmac.parts_verify(key, replaced, None)


def test_a_medium_restore_macs_as_row_by_row_and_keeps_failing_rows_refused(
    world: World, engine: Engine
) -> None:
    """A medium's restore is batched like its suspend (issue 15), with the same guarantees.

    Four suspended containers of one medium, restored with cause ``any``: one suspended by
    its budget (reset), one by an official (its count of unconfirmed attempts kept), one
    copied back from before its own restore (MAC verifies, the audit log is newer), one
    edited. All four change state; the two intact ones get the MAC the per-row function
    gives their row as read back; the other two keep the MAC they had and are named in
    the audit entry.
    """
    ring = KeyRing.from_master(world.settings.load_master_key())
    medium = "usb-restore-1"
    budget, _ = activate(world, medium=medium, attempt_budget=2)
    for _ in range(2):
        assert _evaluate(world, "reader", budget["container_id"])[0] == 200
    official, stale, edited = (activate(world, medium=medium)[0] for _ in range(3))
    assert _evaluate(world, "reader", official["container_id"])[0] == 200
    for reg in (official, stale, edited):
        assert _official(world, f"/v1/containers/{reg['container_id']}/suspend")[0] == 200
    backup = _row(engine, stale["container_id"])
    assert _official(world, f"/v1/containers/{stale['container_id']}/restore")[0] == 200
    _write(engine, stale["container_id"], backup)
    _write(engine, edited["container_id"], {"attempt_budget": 999})
    before = {reg["container_id"]: _row(engine, reg["container_id"]) for reg in (stale, edited)}
    assert _row(engine, budget["container_id"])["suspend_cause"] == "budget"

    resp = world.call(
        "official", "POST", f"/v1/media/{medium}/restore", json={"reason": "found", "cause": "any"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["affected"] == 4

    rows = {reg["container_id"]: _row(engine, reg["container_id"]) for reg in (budget, official)}
    for row in rows.values():
        assert (row["state"], row["suspend_cause"]) == ("active", None)
        assert row["row_mac"] == rowmac.row_mac(rowmac.key_of(ring, row), row)
    # spec §receipt: only the budget suspension resets the count.
    assert rows[budget["container_id"]]["unconfirmed"] == 0
    assert rows[budget["container_id"]]["budget_reset_at"] is not None
    assert rows[official["container_id"]]["unconfirmed"] == 1
    assert rows[official["container_id"]]["budget_reset_at"] is None
    for cid, old in before.items():
        row = _row(engine, cid)
        assert row["state"] == "active" and row["row_mac"] == old["row_mac"]
        assert _evaluate(world, "reader", cid)[1]["type"] == PROBLEM
    with engine.connect() as conn:
        details = conn.execute(
            select(AuditEntry.details)
            .where(AuditEntry.action == "restore", AuditEntry.outcome == "ok")
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).scalar_one()
    failed = json.loads(details)["row_integrity_failed"]
    assert sorted(failed["container_ids"]) == sorted(before)
    oprf(world, "reader", budget["container_id"], budget["public_key"])
    oprf(world, "reader", official["container_id"], official["public_key"])


def test_a_bulk_change_concerns_the_rows_it_changed_only(world: World) -> None:
    """A bulk suspend or restore makes only the rows it changed newer than their copies.

    Suspending an issuer whose container was suspended already, or restoring a medium
    whose other container was active, left those rows as they were, but they were refused
    as copied back from a backup (older than the entry): not restorable, not openable.
    Here the entries list the ids they changed.
    """
    _bulk_cases(world, "listed")


def test_a_bulk_change_by_digest_concerns_the_rows_it_could_change(settings: Settings) -> None:
    """The same when the entries name their ids by digest only: the rows' states decide."""
    small = settings.replace(audit_inline_ids_max=0)
    with running_server(small) as url:
        w = make_world(small, url)
        try:
            _bulk_cases(w, "digest")
        finally:
            w.close()


def _bulk_cases(w: World, tag: str) -> None:
    # An issuer-wide suspension while one of its containers is suspended by its budget.
    locked, _ = activate(w, attempt_budget=1, medium=f"usb-i1-{tag}")
    oprf(w, "reader", locked["container_id"], locked["public_key"])
    activate(w, medium=f"usb-i2-{tag}")
    code, doc = _official(w, "/v1/issuers/writer/suspend")
    assert (code, doc["affected"]) == (200, 1), doc
    code, doc = _official(w, f"/v1/containers/{locked['container_id']}/restore")
    assert (code, doc["affected"]) == (200, 1), doc
    # A medium restore that lifts one container's suspension leaves the other one openable.
    medium = f"usb-m-{tag}"
    opened, _ = activate(w, medium=medium)
    held, _ = activate(w, medium=medium)
    code, _ = _official(w, f"/v1/containers/{held['container_id']}/suspend")
    assert code == 200
    resp = w.call(
        "official",
        "POST",
        f"/v1/media/{medium}/restore",
        json={"reason": "found", "cause": "official"},
    )
    assert resp.status_code == 200 and resp.json()["affected"] == 1, resp.text
    oprf(w, "reader", opened["container_id"], opened["public_key"])
    oprf(w, "reader", held["container_id"], held["public_key"])
