"""Audit sequence numbers past 2^31 (PostgreSQL INTEGER was 32-bit: migration 0004_seq_bigint).

The chain head is moved to just below 2^31 with plain SQL (writing two billion entries is
not a test); then releases and a suspension must still be appended, with the sequence
numbers crossing 2^31, and read back through the audit list.
"""

from __future__ import annotations

from sqlalchemy import text

from keyserver._store.engine import make_engine
from tests.support.world import World, activate, blinded_b64, oprf

NEAR = 2**31 - 2


def _jump_head(world: World) -> None:
    engine = make_engine(world.settings)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET seq = :s WHERE id = 1"), {"s": NEAR})
    finally:
        engine.dispose()


def test_releases_and_suspend_cross_2_31(world: World) -> None:
    reg, _ = activate(world)
    cid = reg["container_id"]
    _jump_head(world)
    for _ in range(3):  # NEAR+1 .. NEAR+3: the third is past 2^31
        oprf(world, "reader", cid, reg["public_key"])
    resp = world.call("official", "POST", f"/v1/containers/{cid}/suspend", json={"reason": "lost"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["affected"] == 1
    page = world.call("auditor", "GET", "/v1/audit", params={"after_seq": NEAR}).json()
    seqs = [e["seq"] for e in page["entries"]]
    assert seqs == [NEAR + 1, NEAR + 2, NEAR + 3, NEAR + 4]
    assert seqs[-1] > 2**31
    assert page["entries"][-1]["action"] == "suspend"
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "suspended"
    # After the suspension no key is released, and the refusal is appended past 2^31 too.
    refused = world.call(
        "reader", "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert refused.status_code == 423, refused.text
    last = world.call("auditor", "GET", "/v1/audit", params={"after_seq": NEAR + 4}).json()
    assert [e["seq"] for e in last["entries"]] == [NEAR + 5]
