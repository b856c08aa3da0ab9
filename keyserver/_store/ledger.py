"""The ledger: sessions, transactions, audit appends and refusal records, in one object.

Every writing transaction runs through :meth:`Ledger.tx` (the key-release batch through
:meth:`Ledger.core_tx`: the same writer lock and transaction on a Core connection, for
statements run on the DB-API cursor); audit entries through :meth:`Ledger.audit`
(keyserver/_store/audit.py explains the keyed chain and its lock); role gates of every
operation but evaluate through :meth:`Ledger.require`. The release path
(keyserver/_release/) and every operation of the service (keyserver/_service/) share one
ledger: they are composed over it, not derived from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from keyserver._domain import keys
from keyserver._domain.context import LOCAL, RequestContext
from keyserver._domain.errors import ForbiddenError, KeyServerError
from keyserver._domain.i18n import Message
from keyserver._domain.lifecycle import Actor, require_role
from keyserver._domain.metrics import Metrics
from keyserver._domain.settings import Settings
from keyserver._store import keystore, rowmacs
from keyserver._store.audit import NewEntry, append
from keyserver._store.durability import Durability
from keyserver._store.engine import READ_ONLY_OPTION, SINGLE_READ_OPTION, make_engine
from keyserver._store.models import AuditEntry, AuditHead, Container
from keyserver._store.restore_state import RestoreGate
from keyserver._store.writelock import engine_write_lock


class Ledger:
    """Configuration, engine, sessions and the audit/refusal helpers, shared by every operation.

    Args:
        settings: Configuration (includes the injectable clock and rng).
        engine: An existing engine; by default one is created from the settings.
        metrics: Counters to update (a fresh set by default).
    """

    def __init__(
        self, settings: Settings, engine: Engine | None = None, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine if engine is not None else make_engine(settings)
        self.metrics = metrics if metrics is not None else Metrics()
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads never take SQLite's write lock (PostgreSQL ignores the option).
        self._read_engine = self.engine.execution_options(**{READ_ONLY_OPTION: True})
        self.reads = sessionmaker(self._read_engine, expire_on_commit=False)
        # spec §backup: no writing transaction while a restore awaits its replay.
        self.restore_gate = RestoreGate()
        # Reads of several statements that must agree (a report: containers, attempts and
        # state changes): one snapshot. SQLite's deferred read transaction already is one
        # (WAL); PostgreSQL's default READ COMMITTED takes a new snapshot per statement, so a
        # suspend committed between two statements would show in one and not the other.
        # REPEATABLE READ on a read-only transaction never fails with a serialization error.
        snapshot_engine = (
            self._read_engine.execution_options(isolation_level="REPEATABLE READ")
            if self.engine.dialect.name == "postgresql"
            else self._read_engine
        )
        self.snapshot = sessionmaker(snapshot_engine, expire_on_commit=False)
        self.single_read_engine = self.engine.execution_options(
            **{READ_ONLY_OPTION: True, SINGLE_READ_OPTION: True}
        )
        # SQLite has one writer at a time anyway; queueing writers (of this process on a
        # re-entrant thread lock, of every process on the host on an flock of the file
        # beside the database) before BEGIN IMMEDIATE hands the database over at once,
        # where SQLite's busy handler would sleep and poll (multi-second tails, busy-timeout
        # errors, two worker processes slower than one). Shared by every engine of the
        # process on the same file; see keyserver/_store/writelock.py.
        self._write_lock: AbstractContextManager[Any] = (
            engine_write_lock(self.engine)
            if self.engine.dialect.name == "sqlite"
            else nullcontext()
        )
        # The release batch commits without waiting for the flush and waits after it,
        # outside the head (issue 15; keyserver/_store/durability.py).
        self.durability = Durability(self.engine, settings)
        # Loaded on first use (the database may not answer yet at construction), often
        # inside a writing transaction: so on a reading connection (no writer lock).
        self.keyring = keys.KeyRing(keystore.loader(settings, self._read_engine))

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    @property
    def now(self) -> Callable[[], datetime]:
        """The injected clock."""
        return self.settings.clock

    @contextmanager
    def published_reads(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A read session whose result leaves the server as part of the log (spec §consistency).

        Release batches commit before they are durable (keyserver/_store/durability.py),
        so a read may see entries that a crash would still lose (their evaluations not
        yet answered). An export, a list of entries, a verified head or a report must
        not hand those out: the flush runs AFTER the reads, so it covers every commit
        they saw, and before the caller answers.

        Args:
            snapshot: One snapshot for all the reads (:attr:`snapshot`), else :attr:`reads`.
        """
        with (self.snapshot if snapshot else self.reads)() as session:
            yield session
        self.durability.flush()

    @contextmanager
    def tx(self, *, restoring: bool = False) -> Iterator[Session]:
        """A writing transaction (writer lock, BEGIN, COMMIT) on an ORM session.

        Refused while a restored database awaits its replay (spec §backup), except for
        the replay itself (``restoring``).
        """
        with self._write_lock, self._write_sessions() as session, session.begin():
            if not restoring:
                self.restore_gate.check(session.connection())
            # Container rows written in this session get their MAC (store/rowmacs.py).
            session.info[rowmacs.RING] = self.keyring
            yield session

    @contextmanager
    def core_tx(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A writing transaction on a Core connection (no ORM session; the release path).

        Same writer lock, BEGIN and COMMIT as :meth:`tx`, without the session's
        bookkeeping, for code that runs its statements on the DB-API cursor.

        Args:
            conn: A connection of :attr:`engine` with no transaction yet, to begin on (the
                release batch read on it first); None: one checked out for this one.
        """
        with self._write_lock, ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.engine.connect())
            with conn.begin():
                self.restore_gate.check(conn)
                yield conn

    def sealing_generation(self, session: Session) -> int:
        """The generation a new row's secrets are sealed under (spec §rotation).

        The newest live generation in the database: once a rotation has started, new
        rows go to its new key, whichever key this instance was started with (the ring
        reloads to reach it through the rotation's bridge).
        """
        newest = keystore.newest_generation(session)
        if newest > self.keyring.generation:
            self.keyring.reload()
        return newest

    def audit(
        self,
        session: Session,
        new: NewEntry,
        at: datetime | None = None,
        *,
        head: AuditHead | None = None,
        stamp: Container | None = None,
    ) -> AuditEntry:
        """Append ``new`` to the chain in ``session``'s transaction (at ``at`` or now).

        ``head``: the chain head this transaction already locked (audit.lock_head), so
        that it is not locked a second time; None: locked here. ``stamp``: the container
        row the entry records a change of, its ``last_audit_seq`` set (audit.append).
        """
        return append(session, self.keyring.audit_key, at or self.now(), new, head, stamp=stamp)

    def audit_ok(
        self,
        session: Session,
        actor: Actor,
        action: str,
        ctx: RequestContext,
        details: Mapping[str, Any],
        *,
        container: str | None = None,
        at: datetime | None = None,
        head: AuditHead | None = None,
        stamp: Container | None = None,
    ) -> AuditEntry:
        """Append the entry of an operation ``actor`` carried out, in ``session``'s transaction.

        The counterpart of :meth:`audit_refusal`: the one place an operation's own entry
        gets its actor, outcome and remote address (spec §audit). ``head`` and ``stamp``:
        as for :meth:`audit`.
        """
        return self._append_as(
            session, actor, action, "ok", ctx, details, container, at, head=head, stamp=stamp
        )

    def refuse(
        self,
        actor: Actor,
        action: str,
        container: str | None,
        ctx: RequestContext,
        error: KeyServerError,
        *,
        target: Mapping[str, Any] | None = None,
    ) -> KeyServerError:
        """Record a refusal in its own committed transaction; return the error to raise."""
        with self.tx() as session:
            self.audit_refusal(session, actor, action, container, ctx, error, target=target)
        return error

    def audit_refusal(  # noqa: PLR0917 - the fields of one refusal record
        self,
        session: Session,
        actor: Actor,
        action: str,
        container: str | None,
        ctx: RequestContext,
        error: KeyServerError,
        at: datetime | None = None,
        *,
        target: Mapping[str, Any] | None = None,
    ) -> None:
        """Count a refusal and append its audit entry in ``session``'s transaction.

        spec §audit: every refusal is recorded, committed with the transaction that
        refuses (or, via :meth:`refuse`, in one of its own). ``target`` adds what the
        request named besides a container (a medium, an issuer, a token), under the keys
        the operation's own entry uses, so a refused attempt on a lost medium is found
        next to the medium's other entries.
        """
        self.metrics.inc("rwc_refusals_total", action=action, reason=error.slug)
        details = {"reason": error.slug, "detail": error.detail, **(target or {})}
        self._append_as(session, actor, action, "refused", ctx, details, container, at)

    def _append_as(  # noqa: PLR0917 - the fields of one entry, in NewEntry's order
        self,
        session: Session,
        actor: Actor,
        action: str,
        outcome: str,
        ctx: RequestContext,
        details: Mapping[str, Any],
        container: str | None,
        at: datetime | None,
        *,
        head: AuditHead | None = None,
        stamp: Container | None = None,
    ) -> AuditEntry:
        return self.audit(
            session,
            NewEntry(
                actor=actor.name,
                action=action,
                outcome=outcome,
                container=container,
                remote=ctx.remote,
                details=details,
            ),
            at,
            head=head,
            stamp=stamp,
        )

    def require(
        self,
        actor: Actor,
        roles: frozenset[str],
        what: str | Message,
        *,
        action: str,
        container: str | None = None,
        target: Mapping[str, Any] | None = None,
        ctx: RequestContext = LOCAL,
    ) -> None:
        """Refuse with 403 forbidden unless the actor holds one of ``roles``; audit it.

        The role gate of every operation except evaluate (which audits its own refusals in
        its batch, keyserver/_release/batch.py). Call it before any transaction is open:
        the refusal is committed in a transaction of its own.

        Args:
            actor: Who is acting (a local operator always passes).
            roles: Roles of which the actor needs at least one.
            what: What is refused, for the problem detail (``N_("loss reports")``).
            action: Audit action: the one the operation records when it succeeds, or the
                name of the read it would have been (``audit.list``).
            container: Container id the request names, already decoded once (so only
                well-formed ids reach the log), or None.
            target: Other things the request names, each already validated or left
                out (``validation.recordable``), recorded in the refusal's details.
            ctx: Request origin, recorded as ``remote``.

        Raises:
            ForbiddenError: The actor lacks every one of ``roles`` (after the audit commit).
        """
        try:
            require_role(actor, roles, what)
        except ForbiddenError as exc:
            # spec §audit: every refusal lands in the tamper-evident log, role refusals too:
            # a token used outside its role (a reader trying to suspend, a writer reading
            # the log) may be a stolen or misused credential, and the officials need to see
            # it. Committed before the 403 is answered, like evaluate's refusals.
            raise self.refuse(actor, action, container, ctx, exc, target=target) from None
