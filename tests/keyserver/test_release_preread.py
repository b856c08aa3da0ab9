"""Tokens and policy are read before the chain-head lock, and revocations still win.

keyserver/_release/batch.py reads the batch's tokens and reader policy outside any
transaction before it takes the head (issue 15), and spec §consistency keeps the promise
that no release is decided on a token whose revocation is ordered before it: a
revocation committed between that read and the lock is found under the lock
(``Batch.lock_head``) and the token is read again. The revocation here is a real one,
committed through the service at that moment; the hook only chooses the moment.
"""

from __future__ import annotations

from typing import Any

import pytest

from keyserver._release.hotpath import Batch
from keyserver._service import KeyService
from keyserver._store.audit_verify import verify
from tests.support.release_jobs import outcome_kind, reader_jobs
from tests.support.world import World, activate


def _token_id(service: KeyService, name: str) -> str:
    tokens = service.list_tokens(service.local_actor("ops"))["tokens"]
    return str(next(t["token_id"] for t in tokens if t["name"] == name))


@pytest.mark.parametrize("containers", [1, 3])  # 1: the single-statement path
def test_a_revocation_between_the_preread_and_the_lock_refuses(
    world: World, service: KeyService, monkeypatch: pytest.MonkeyPatch, containers: int
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(containers)]
    token_id = _token_id(service, "reader")
    preread = Batch.preread

    def preread_then_revoke(batch: Batch, requests: Any) -> None:
        preread(batch, requests)
        assert requests, "the token was found before the lock"
        service.revoke_token(service.local_actor("ops"), token_id)

    monkeypatch.setattr(Batch, "preread", preread_then_revoke)
    outcomes = service.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    assert [outcome_kind(o) for o in outcomes] == ["unauthenticated"] * containers
    entries = world.call("auditor", "GET", "/v1/audit").json()["entries"]
    # The revocation is ordered before the refusals, which name the token's owner.
    assert [(e["action"], e["actor"], e["outcome"]) for e in entries[-containers - 1 :]] == [
        ("token.revoke", "ops", "ok"),
        *[("evaluate", "reader", "refused")] * containers,
    ]
    with service.ledger.reads() as session:
        assert verify(session, service.keyring.audit_key).ok


def test_other_entries_after_the_preread_do_not_matter(
    world: World, service: KeyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    cids = [activate(world)[0]["container_id"] for _ in range(3)]
    preread = Batch.preread

    def preread_then_write(batch: Batch, requests: Any) -> None:
        preread(batch, requests)
        service.issue_token(service.local_actor("ops"), "groupie")  # not a revocation

    monkeypatch.setattr(Batch, "preread", preread_then_write)
    outcomes = service.releases._evaluate_batch(lambda: reader_jobs(world, cids))
    assert [outcome_kind(o) for o in outcomes] == ["ok"] * 3


def test_policy_read_before_the_lock_decides_like_the_locked_read(
    world: World, service: KeyService
) -> None:
    # Jobs taken before the lock get their policy from the preread; the same containers
    # and actors decided on the single-statement path give the same answers.
    allowed, _ = activate(world)
    grouped, _ = activate(world, readers=[], reader_groups=["team-a"])
    jobs = [
        *reader_jobs(world, [allowed["container_id"], grouped["container_id"]]),
        *reader_jobs(world, [allowed["container_id"], grouped["container_id"]], token="groupie"),
        *reader_jobs(world, [allowed["container_id"]], token="outsider"),
    ]
    batched = [outcome_kind(o) for o in service.releases._evaluate_batch(lambda: jobs)]
    alone = [
        outcome_kind(service.releases._evaluate_batch(lambda job=job: [job])[0])  # type: ignore[misc]
        for job in reader_jobs(world, [allowed["container_id"], grouped["container_id"]])
        + reader_jobs(world, [allowed["container_id"], grouped["container_id"]], token="groupie")
        + reader_jobs(world, [allowed["container_id"]], token="outsider")
    ]
    assert batched == alone == ["ok", "not-allowed", "ok", "ok", "not-allowed"]
