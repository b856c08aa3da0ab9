"""The sweep: destroy what is due (expired pending, past not_after, past a loss deadline).

Run periodically by ``keyserver serve`` and by ``keyserver sweep``; every destroy goes
through :meth:`RevocationOps.transition` (one UPDATE, one audit entry per rule). It
destroys nothing on an implausible clock (spec §operations).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from keyserver._domain.clockguard import Reading, clock_problem
from keyserver._domain.context import LOCAL, SYSTEM_ACTOR
from keyserver._domain.lifecycle import Actor, Op, State
from keyserver._domain.settings import utc_now
from keyserver._service.revocation import RevocationOps
from keyserver._store import repository, transitions
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry, Container

log = logging.getLogger("keyserver")


class SweepOps:
    """The periodic sweep."""

    def __init__(self, ledger: Ledger, revocation: RevocationOps) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._revocation = revocation
        # The readings of the last sweep whose clock was plausible (keyserver/_domain/
        # clockguard.py); the monotonic check needs the built-in wall clock, or an
        # injected monotonic clock next to an injected wall clock (tests).
        self._trusted_clock: Reading | None = None
        monotonic = self._settings.monotonic
        if monotonic is None and self._settings.clock is utc_now:
            monotonic = time.monotonic
        self._monotonic = monotonic

    def sweep(self, actor_name: str = SYSTEM_ACTOR, now: datetime | None = None) -> dict[str, int]:
        """Destroy what is due and drop expired challenges.

        Destroys: pending containers past ``pending_expires_at``, containers past
        ``not_after``, and suspended containers past ``destroy_after`` (loss reports).

        Args:
            actor_name: Name recorded in the audit entries.
            now: Evaluation time (default: the injected clock).

        Returns:
            Counts per category.
        """
        actor = Actor(name=actor_name, roles=frozenset(), local=True)
        counts: dict[str, int] = {}
        with self._ledger.tx() as session:
            at = now or self._ledger.now()
            head = lock_head(session)
            problem = self._clock_problem(session, at, head.seq)
            if problem is not None:
                # spec §operations: no destroy on an implausible clock; an alarm instead.
                log.error("sweep: NOT destroying anything: %s; check the clock (NTP)", problem)
                self._ledger.metrics.inc("rwc_sweep_clock_alarms_total")
                return {"clock_alarm": 1}
            for name, cond, why in transitions.sweep_rules(at):
                ids = self._sweep_rule(session, actor, cond, why, at)
                counts[name] = len(ids)
            # Unconfirmed challenges still count in the attempt windows (spec §receipt).
            keep_since = at - self._settings.attempt_window
            counts["challenges_deleted"] = repository.consume_expired_challenges(
                session, at, keep_since
            )
        return counts

    def _clock_problem(self, session: Session, at: datetime, head_seq: int) -> str | None:
        last_at = session.execute(
            select(AuditEntry.at).where(AuditEntry.seq == head_seq)
        ).scalar_one_or_none()
        mono = self._monotonic() if self._monotonic is not None else 0.0
        reading = Reading(at, mono)
        trusted = self._trusted_clock if self._monotonic is not None else None
        problem = clock_problem(reading, last_at, trusted, self._settings.sweep_max_clock_jump)
        if problem is None and self._monotonic is not None:
            self._trusted_clock = reading
        return problem

    def _sweep_rule(
        self, session: Session, actor: Actor, cond: ColumnElement[bool], why: str, at: datetime
    ) -> list[bytes]:
        due = list(
            session.execute(
                select(Container.id).where(
                    cond,
                    Container.state.in_(
                        [State.PENDING.value, State.ACTIVE.value, State.SUSPENDED.value]
                    ),
                )
            ).scalars()
        )
        if not due:
            return []
        return self._revocation.transition(
            session,
            actor,
            Op.DESTROY,
            scope="sweep",
            target=why,
            key="",
            reason=why,
            public_reason=why,
            now=at,
            ctx=LOCAL,
            where=cond,
        )
