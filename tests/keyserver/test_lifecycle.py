"""Register -> evaluate -> commit -> receipt over real HTTP, and the state machine."""

from __future__ import annotations

import hmac

from ks_helpers import World, activate, b64, oprf, register, unb64

from keyserver.keys import receipt_mac


def test_register_evaluate_commit_receipt(world: World) -> None:
    reg = register(world)
    assert reg["state"] == "pending"
    assert reg["suite"] == "ristretto255-SHA512"
    assert len(unb64(reg["container_id"])) == 16
    seal = oprf(world, "writer", reg["container_id"], reg["public_key"])
    assert seal["challenge"] is None  # no receipt key before commit
    reg2, receipt_key = activate(world)
    cid = reg2["container_id"]
    # Reader opens: the output must equal the writer's (same key, same input).
    first = oprf(world, "reader", cid, reg2["public_key"])
    again = oprf(world, "groupie", cid, reg2["public_key"])
    assert hmac.compare_digest(first["output"], again["output"])
    challenge = unb64(first["challenge"])
    mac = receipt_mac(receipt_key, unb64(cid), challenge)
    resp = world.call(
        "reader",
        "POST",
        f"/v1/containers/{cid}/receipt",
        json={"challenge": first["challenge"], "mac": b64(mac)},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"confirmed": True}
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["state"] == "active"
    assert status["unconfirmed"] == 0  # a valid receipt resets the counter
    assert status["last_confirmed_at"] is not None
