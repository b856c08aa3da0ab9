"""What one receipt's (and one commit's) transaction sends to the database (issue 15).

A receipt is the second request of every open, a commit the last of every seal; their
transactions held the chain head for a second lock of the head, and wrote the container
row twice (two UPDATEs, each with its row MAC) before COMMIT. Pinned here, both
backends: the head is locked once and the row written once; what is written is checked
by reading it back (row MAC verifies, last_audit_seq is the operation's entry).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, select

from keyserver._domain.lifecycle import Actor
from keyserver._service import KeyService
from keyserver._store import rowmacs
from keyserver._store.models import AuditEntry, Container
from pycontainer.format.keyschedule import receipt_mac
from tests.support.world import World, activate, oprf, register, unb64


@contextmanager
def _sent(engine: Engine) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _once(sent: list[str]) -> None:
    heads = [s for s in sent if s.startswith("SELECT audit_head.")]
    rows = [s for s in sent if s.startswith("UPDATE containers ")]
    assert len(heads) == 1, heads
    assert len(rows) == 1 and "last_audit_seq" in rows[0] and "row_mac" in rows[0], rows


def _last_entry(
    service: KeyService, cid: str, check: Callable[[Container], None]
) -> tuple[str, str]:
    with service.ledger.tx() as session:
        c = session.execute(select(Container).where(Container.id == unb64(cid))).scalar_one()
        assert rowmacs.session_problem(session, c) is None  # MAC verifies, nothing later
        check(c)
        last = session.execute(
            select(AuditEntry.action, AuditEntry.outcome).where(AuditEntry.seq == c.last_audit_seq)
        ).one()
        return (last[0], last[1])


def test_a_receipt_locks_the_head_once_and_writes_its_row_once(world: World) -> None:
    reg, key = activate(world)
    cid = reg["container_id"]
    service = KeyService(world.settings)
    try:
        actor: Actor = service.authenticate(world.tokens["reader"])
        challenge = unb64(oprf(world, "reader", cid, reg["public_key"])["challenge"])
        with _sent(service.ledger.engine) as sent:
            answer = service.receipt(
                actor, cid, challenge=challenge, mac=receipt_mac(key, unb64(cid), challenge)
            )
        assert answer == {"confirmed": True}
        _once(sent)

        def confirmed(c: Container) -> None:
            assert c.unconfirmed == 0 and c.last_confirmed_at is not None

        assert _last_entry(service, cid, confirmed) == ("receipt", "ok")
    finally:
        service.close()


def test_a_commit_locks_the_head_once_and_writes_its_row_once(world: World) -> None:
    reg = register(world)
    cid = reg["container_id"]
    oprf(world, "writer", cid, reg["public_key"])
    service = KeyService(world.settings)
    try:
        actor: Actor = service.authenticate(world.tokens["writer"])
        with _sent(service.ledger.engine) as sent:
            answer = service.commit(
                actor, cid, header_digest=os.urandom(32), receipt_key=os.urandom(32)
            )
        assert answer == {"container_id": cid, "state": "active"}
        _once(sent)

        def active(c: Container) -> None:
            assert c.state == "active" and c.receipt_key_sealed is not None

        assert _last_entry(service, cid, active) == ("commit", "ok")
    finally:
        service.close()
