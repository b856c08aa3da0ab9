"""Online master-key rotation (spec §rotation): re-seal every secret under a new key.

The steps, each its own short transaction that takes the audit chain-head lock first (the
lock order of every writer, so a rotation never deadlocks with a release):

1. :meth:`RotationOps.begin` records generation ``n`` (state ``next``) with the bridges
   (``D_{n-1}`` sealed under ``D_n`` and back), audits ``master-key.rotate`` ``start``.
   From that commit on, new rows are sealed under ``n`` and every instance, whichever of
   the two keys it was started with, opens rows of both generations (it reloads its key
   ring when it meets ``n``).
2. :meth:`RotationOps.step` moves one batch of rows: open under their generation, seal
   under ``n``, set ``key_generation = n``. A crash loses at most the batch in flight
   (rolled back); running again resumes where the rows say it stopped.
3. :meth:`RotationOps.complete` marks ``n`` current and ``n-1`` old once no row is left,
   and audits ``done``.
4. :meth:`RotationOps.finish`, run with the new key configured, erases the bridges and
   marks ``n-1`` destroyed (audited); the command then destroys the old key itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyserver._domain import keygen, keys
from keyserver._domain.context import LOCAL
from keyserver._domain.errors import ConflictError
from keyserver._domain.i18n import N_, Message
from keyserver._domain.lifecycle import Actor
from keyserver._domain.settings import ConfigError, Settings
from keyserver._store import keystore
from keyserver._store.audit import lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import Container, KeyGeneration

ACTION = "master-key.rotate"


class RotationOps:
    """The rotation's steps over the ledger (local operation only: the command)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    def _audit(self, session: Session, actor: Actor, details: dict[str, Any]) -> None:
        self._ledger.audit_ok(session, actor, ACTION, LOCAL, details)

    def _records(self, session: Session) -> dict[int, KeyGeneration]:
        rows = session.execute(select(KeyGeneration).with_for_update()).scalars()
        return {row.generation: row for row in rows}

    def _ensure_first(self, session: Session) -> None:
        """A database from before generations: record its key file as generation 1."""
        if self._records(session):
            return
        data_key = self._settings.load_master_key()
        first = keystore.new_generation(
            self._settings,
            1,
            data_key,
            keys.CarriedKeys.from_master(data_key),
            state=keygen.STATE_CURRENT,
            now=self._ledger.now(),
        )
        session.add(first)
        session.flush()

    def remaining(self, to: int) -> int:
        """Rows not yet under generation ``to``."""
        with self._ledger.reads() as session:
            return _count_not_under(session, to)

    def begin(self, actor: Actor, target: Settings) -> dict[str, Any]:
        """Start a rotation to the key ``target`` configures, or resume the one under way.

        Raises:
            ConflictError: Another rotation is under way or awaits ``finish``, or the
                target is a key this database already uses.
            ConfigError: The target key cannot be used (HSM refused, unreadable file).
        """
        with self._ledger.tx() as session:
            lock_head(session)
            self._ensure_first(session)
            rows = self._records(session)
            records = keystore.records(session)
            own, found = keygen.reach(records, keystore.configured_key(self._settings))
            target_gen = _generation_of(records, target)
            states = {g: r.state for g, r in rows.items()}
            pending = [g for g, s in states.items() if s == keygen.STATE_NEXT]
            if pending:
                nxt = pending[0]
                if target_gen != nxt:
                    raise ConflictError(
                        N_(
                            "a rotation to generation %(gen)s (%(key)s) is under way; run the "
                            "command again with that target to resume it",
                            gen=nxt,
                            key=_describe(rows[nxt]),
                        )
                    )
                return {"from": nxt - 1, "to": nxt, "resumed": True}
            if any(s == keygen.STATE_OLD for s in states.values()):
                raise ConflictError(
                    N_(
                        "the previous rotation is done but its old key is not destroyed yet; "
                        "run `keyserver rotate-master-key --finish` first"
                    )
                )
            if target_gen is not None:
                raise ConflictError(
                    N_("the target key is already generation %(gen)s", gen=target_gen)
                )
            if states.get(own) != keygen.STATE_CURRENT:
                raise ConflictError(N_("configure the current master key to start a rotation"))
            new = own + 1
            data_key = (
                self._settings.rng(keygen.DATA_KEY_BYTES)
                if target.uses_hsm
                else target.load_master_key()
            )
            now = self._ledger.now()
            rec = keystore.new_generation(
                target,
                new,
                data_key,
                self._keyring.generations.carried,
                state=keygen.STATE_NEXT,
                now=now,
            )
            rng = self._settings.rng
            rec.prior_under_this = keygen.seal_bridge(data_key, new, found[own], rng)
            rec.this_under_prior = keygen.seal_bridge(found[own], own, data_key, rng)
            session.add(rec)
            rows[own].changed_at = now
            session.flush()
            self._audit(
                session,
                actor,
                {
                    "phase": "start",
                    "from": own,
                    "to": new,
                    "source": rec.source,
                    "rows": _count_not_under(session, new),
                },
            )
        # This process now seals new rows under the new generation and opens both.
        self._keyring.reload()
        return {"from": own, "to": new, "resumed": False}

    def step(self, to: int, batch: int) -> int:
        """Re-seal up to ``batch`` rows under generation ``to``; returns how many moved."""
        ring = self._keyring
        rng = self._settings.rng
        with self._ledger.tx() as session:
            # Chain head first, rows after: the lock order of every writer (store/audit.py).
            lock_head(session)
            rows = (
                session.execute(
                    select(Container)
                    .where(Container.key_generation != to)
                    .order_by(Container.id)
                    .limit(batch)
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            for row in rows:
                old = row.key_generation
                # A destroyed row has no secret left: only its generation moves.
                if row.seed_sealed is not None:
                    seed = ring.open(row.id, keys.PURPOSE_SEED, row.seed_sealed, old)
                    row.seed_sealed = ring.seal(row.id, keys.PURPOSE_SEED, seed, rng, to)
                if row.receipt_key_sealed is not None:
                    key = ring.open(row.id, keys.PURPOSE_RECEIPT, row.receipt_key_sealed, old)
                    row.receipt_key_sealed = ring.seal(row.id, keys.PURPOSE_RECEIPT, key, rng, to)
                row.key_generation = to
        return len(rows)

    def progress(self, actor: Actor, to: int, moved: int) -> None:
        """Audit how far the rotation is (``progress``)."""
        with self._ledger.tx() as session:
            remaining = _count_not_under(session, to)
            self._audit(
                session,
                actor,
                {"phase": "progress", "to": to, "moved": moved, "remaining": remaining},
            )

    def complete(self, actor: Actor, to: int, moved: int) -> bool:
        """If no row is left under the old generation, mark the rotation done (audited)."""
        with self._ledger.tx() as session:
            lock_head(session)
            if _count_not_under(session, to):
                return False
            rows = self._records(session)
            if rows[to].state == keygen.STATE_CURRENT:
                return True  # done already (a rerun after a crash past this point)
            now = self._ledger.now()
            rows[to].state = keygen.STATE_CURRENT
            rows[to - 1].state = keygen.STATE_OLD
            rows[to].changed_at = rows[to - 1].changed_at = now
            self._audit(session, actor, {"phase": "done", "from": to - 1, "to": to, "moved": moved})
        return True

    def finish(self, actor: Actor) -> dict[str, Any]:
        """Erase the bridges and mark the old generation destroyed (audited).

        Must run with the NEW key configured: it proves the configuration was switched,
        and an instance still on the old key stops (spec §rotation) rather than the reverse.

        Raises:
            ConflictError: No rotation awaits it, or the old key is configured.
        """
        with self._ledger.tx() as session:
            lock_head(session)
            rows = self._records(session)
            old = next((r for r in rows.values() if r.state == keygen.STATE_OLD), None)
            if old is None:
                raise ConflictError(N_("no finished rotation awaits --finish"))
            new = rows[old.generation + 1]
            own, _ = keygen.reach(
                keystore.records(session), keystore.configured_key(self._settings)
            )
            if own != new.generation:
                raise ConflictError(
                    N_(
                        "this command runs with the old master key (generation %(own)s); "
                        "configure the new one (%(key)s) and restart every instance with it "
                        "first",
                        own=own,
                        key=_describe(new),
                    )
                )
            if _count_not_under(session, new.generation):
                raise ConflictError(N_("rows are still under the old key; run the rotation again"))
            now = self._ledger.now()
            # spec §rotation: the old data key's copies in the live database go; the
            # record stays (destroyed) so that the old key is recognised and refused.
            old.state = keygen.STATE_DESTROYED
            old.hsm_wrapped = None
            old.prior_under_this = old.this_under_prior = None
            new.prior_under_this = new.this_under_prior = None
            old.changed_at = new.changed_at = now
            result = {
                "destroyed": old.generation,
                "current": new.generation,
                "source": old.source,
                "hsm_key_label": old.hsm_key_label,
            }
            self._audit(session, actor, {"phase": "finish", **result})
        self._keyring.reload()
        return result

    def is_key_of(self, generation: int, data_key: bytes) -> bool:
        """Whether ``data_key`` (a key file's content) is generation ``generation``'s key."""
        with self._ledger.reads() as session:
            records = {r.generation: r for r in keystore.records(session)}
        record = records.get(generation)
        return record is not None and keygen.opens(record, data_key)

    def status(self) -> dict[str, Any]:
        """The generations and how many rows each holds."""
        with self._ledger.reads() as session:
            counts = dict(
                session.execute(
                    select(Container.key_generation, func.count()).group_by(
                        Container.key_generation
                    )
                ).all()
            )
            rows = session.execute(
                select(KeyGeneration).order_by(KeyGeneration.generation)
            ).scalars()
            return {
                "generations": [
                    {
                        "generation": r.generation,
                        "source": r.source,
                        "state": r.state,
                        "hsm_key_label": r.hsm_key_label,
                        "rows": int(counts.get(r.generation, 0)),
                    }
                    for r in rows
                ]
            }


def _count_not_under(session: Session, generation: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Container)
            .where(Container.key_generation != generation)
        ).scalar_one()
    )


def _generation_of(records: list[keygen.GenerationRecord], target: Settings) -> int | None:
    """The live generation whose key ``target`` configures, if any."""
    try:
        own, _ = keygen.reach(records, keystore.configured_key(target))
    except ConfigError:
        return None
    return own


def _describe(row: KeyGeneration) -> Message:
    if row.source == keygen.SOURCE_HSM:
        return N_("HSM key %(label)s", label=repr(row.hsm_key_label))
    return N_("a key file")
