"""Jobs for the key-release path driven below HTTP (batch, group commit, early release).

A reader's bearer jobs as the fast path queues them (keyserver/_release/jobs.py), one per
container, each with a blinded element of its own; and what a job's outcome was, as a
word: ``ok`` or the refusal's problem slug (spec §errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from voprf import ristretto

from keyserver._domain.context import RequestContext
from keyserver._release.jobs import EvalJob, bearer_job
from tests.support.world import World

#: Where the jobs come from: TEST-NET-1 (RFC 5737), recorded as the audit entries' remote.
CTX = RequestContext(remote="192.0.2.7")


def blinded() -> bytes:
    """A fresh blinded element (the server evaluates whatever a reader blinded)."""
    return bytes(ristretto.Client.blind(b"x")[1].serialize())


def reader_jobs(world: World, cids: Sequence[str], token: str = "reader") -> list[EvalJob]:
    """One release job per container in ``cids``, as ``token``'s principal asks for it."""
    auth = f"Bearer {world.tokens[token]}"
    return [bearer_job(auth, cid, blinded(), CTX) for cid in cids]


def outcome_kind(outcome: Any) -> str:
    """``ok``, or the slug of the refusal a job's outcome is."""
    # The refusals are ProblemErrors (they carry a slug); isinstance narrows to Exception.
    return str(cast(Any, outcome).slug) if isinstance(outcome, Exception) else "ok"
