"""What one receipt's transaction sends to the database (issue 15, both backends).

A receipt is the second request of every open; its transaction held the chain head for a
second lock of the head, and wrote its container row twice (two UPDATEs, each with its
row MAC) before its COMMIT. Pinned here: the head is locked once and the row written
once; what is written is checked by reading it back (row MAC verifies, last_audit_seq
is the receipt's entry).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from keyserver._domain.lifecycle import Actor
from keyserver._service import KeyService
from keyserver._store import rowmacs
from keyserver._store.models import AuditEntry, Container
from pycontainer.format.keyschedule import receipt_mac
from tests.support.world import World, activate, oprf, unb64


def test_a_receipt_locks_the_head_once_and_writes_its_row_once(world: World) -> None:
    reg, key = activate(world)
    cid = reg["container_id"]
    service = KeyService(world.settings)
    try:
        actor: Actor = service.authenticate(world.tokens["reader"])
        challenge = unb64(oprf(world, "reader", cid, reg["public_key"])["challenge"])
        sent: list[str] = []

        def record(*args: Any) -> None:
            sent.append(" ".join(str(args[2]).split()))

        engine = service.ledger.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = service.receipt(
                actor, cid, challenge=challenge, mac=receipt_mac(key, unb64(cid), challenge)
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert answer == {"confirmed": True}
        heads = [s for s in sent if s.startswith("SELECT audit_head.")]
        rows = [s for s in sent if s.startswith("UPDATE containers ")]
        assert len(heads) == 1, heads
        assert len(rows) == 1 and "last_audit_seq" in rows[0] and "row_mac" in rows[0], rows

        with service.ledger.tx() as session:
            c = session.execute(select(Container).where(Container.id == unb64(cid))).scalar_one()
            assert rowmacs.session_problem(session, c) is None  # MAC verifies, nothing later
            last = session.execute(
                select(AuditEntry.action, AuditEntry.outcome).where(
                    AuditEntry.seq == c.last_audit_seq
                )
            ).one()
            assert tuple(last) == ("receipt", "ok")
            assert c.unconfirmed == 0 and c.last_confirmed_at is not None
    finally:
        service.close()
