"""The audit log (list, export, verify) and health checks; medium reports: medium_report.py."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from keyserver._domain.context import LOCAL, OVERSIGHT, UNAUTHENTICATED_ACTOR, RequestContext
from keyserver._domain.errors import InvalidRequestError, RestorePendingError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.paging import page_limit
from keyserver._domain.settings import ConfigError
from keyserver._domain.validation import (
    ACTION_RE,
    INT64_MAX,
    check_name,
    decode_container_id,
)
from keyserver._domain.verified_head import VerifiedHead
from keyserver._store import audit_progress, repository
from keyserver._store.audit import canonical_json, entry_document, entry_hash, read_head
from keyserver._store.audit_verify import VerifyResult
from keyserver._store.audit_verify import verify as verify_chain
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry
from keyserver._store.writelock import WriterLockTimeoutError

log = logging.getLogger("keyserver")


# Entries per page of an export (memory stays flat however long the log).
EXPORT_PAGE = 1000
# spec §audit: most entries one verify request checks. A page takes seconds, so a remote
# verification of millions of entries is many short requests, never one that outlasts a
# client's or a proxy's read timeout.
VERIFY_PAGE_MAX = 200_000
# Most entries the console overview verifies per load (issue 12): after an import of
# millions of entries it says "verified up to N of M" and goes on at the next load, rather
# than hold the page for the whole tail. The same bound as a remote verify's page.
OVERVIEW_VERIFY_SLICE = VERIFY_PAGE_MAX

# Actor names the server records for requests without a principal (spec §evaluate).
RECORDED_ACTORS = frozenset({UNAUTHENTICATED_ACTOR})


class ReportOps:
    """Read-only views for officials and auditors, plus start-up/health checks."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    def audit_list(
        self,
        actor: Actor,
        *,
        container: str | None = None,
        action: str | None = None,
        actor_name: str | None = None,
        after_seq: int = 0,
        limit: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """List audit entries (auditors, officials).

        Returns:
            ``{entries: [...], next_after_seq: int | null}``.
        """
        self._ledger.require(
            actor, OVERSIGHT, N_("reading the audit log"), action="audit.list", ctx=ctx
        )
        limit = page_limit(limit, self._settings.max_list_limit)
        if not 0 <= after_seq <= INT64_MAX:
            raise InvalidRequestError(N_("after_seq must be an audit sequence number"))
        if container is not None:
            decode_container_id(container)
        if action is not None and not ACTION_RE.fullmatch(action):
            raise InvalidRequestError(N_("unknown action"))
        # Actors recorded by the server itself are not principal names but are
        # searchable too: who probed a lost medium without a valid token.
        if actor_name is not None and actor_name not in RECORDED_ACTORS:
            check_name(actor_name, "actor")
        filters: list[ColumnElement[bool]] = []
        if container is not None:
            filters.append(AuditEntry.container == container)
        if action is not None:
            filters.append(AuditEntry.action == action)
        if actor_name is not None:
            filters.append(AuditEntry.actor == actor_name)
        # Published (spec §consistency): flushed after the read, before the answer.
        with self._ledger.published_reads() as session:
            rows = repository.audit_page(session, filters, after_seq, limit)
            docs = [export_document(e) for e in rows]
        nxt = docs[-1]["seq"] if len(docs) == limit else None
        return {"entries": docs, "next_after_seq": nxt}

    def audit_export(self, actor: Actor, *, ctx: RequestContext = LOCAL) -> Iterator[str]:
        """Yield every audit entry as one JSON line (with prev_hash and hash, hex).

        A generator: the role check (and its audited refusal) runs at the first ``next``,
        which the router calls before it sends the 200.
        """
        self._ledger.require(
            actor, OVERSIGHT, N_("exporting the audit log"), action="audit.export", ctx=ctx
        )
        # Up to the head read first: the export ends at a head that existed, whatever is
        # appended while it streams (entries up to it never change), so it verifies as a
        # whole and its last line is a head to record.
        # Flushed after the head is read (spec §consistency): every entry up to it is
        # durable before the first line leaves.
        with self._ledger.published_reads() as session:
            head = read_head(session)
        upto = 0 if head is None else head[0]
        after = 0
        while after < upto:
            with self._ledger.reads() as session:
                rows = repository.audit_page(session, [AuditEntry.seq <= upto], after, EXPORT_PAGE)
                lines = [canonical_json(export_document(e)) + "\n" for e in rows]
            if not rows:
                return
            yield from lines
            after = rows[-1].seq

    def audit_verify(
        self,
        actor: Actor,
        expected_head: tuple[int, bytes] | None = None,
        *,
        start: tuple[int, bytes] | None = None,
        limit: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Verify the keyed audit chain (auditors, officials).

        ``start``: a head an earlier run verified; only what follows it is checked
        (incremental). ``limit``: at most this many entries (one page of a long
        verification; ``complete`` says whether the head was reached).
        """
        self._ledger.require(
            actor, OVERSIGHT, N_("verifying the audit log"), action="audit.verify", ctx=ctx
        )
        if limit is not None and not 1 <= limit <= VERIFY_PAGE_MAX:
            raise InvalidRequestError(
                N_("limit must be between 1 and %(max)s", max=VERIFY_PAGE_MAX)
            )
        # The head it returns is recorded by monitoring (expect_head): durable first.
        with self._ledger.published_reads() as session:
            result = verify_chain(
                session, self._keyring.audit_key, expected_head, start=start, limit=limit
            )
        if not result.ok:
            log.error("audit chain verification failed: %s", result.problem)
        if start is None:
            # A verification from the genesis is what the overview resumes from (spec
            # §audit): a complete one refreshes the remembered head and the time of the
            # last full check; a failed one drops it, so that no page goes on saying
            # "verified up to N" past an entry this check found broken. A run resumed
            # from a caller's head is not remembered: the server did not check the
            # entries before that head.
            if not result.ok:
                self._progress(audit_progress.forget)
            else:
                self._remember(result, full=result.complete, resumed_from=0)
        return result.as_dict()

    def audit_chain_status(self, actor: Actor, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """The chain's status for the console overview, verified incrementally (issue 12).

        Only the entries after the remembered head (store/audit_progress.py) are verified,
        at most :data:`OVERVIEW_VERIFY_SLICE` of them, starting from the remembered hash:
        the stored entry at its seq must still have that hash (verify checks it) and its
        MAC must verify, else the chain is reported broken.

        Returns:
            ``ok``, ``problem``, ``first_bad_seq``, ``entries`` (verified by this call),
            ``head_seq`` (verified up to), ``chain_seq`` (the chain's head), ``complete``,
            ``incremental`` (resumed from a remembered head), ``full_at`` (the last
            full verification, or None) and ``altered`` (the remembered head's MAC failed).
        """
        self._ledger.require(
            actor, OVERSIGHT, N_("verifying the audit log"), action="audit.verify", ctx=ctx
        )
        key = self._keyring.audit_key
        with self._ledger.reads() as session:
            remembered = audit_progress.read(session, key)
            chain = read_head(session)
            chain_seq = 0 if chain is None else chain[0]
            if remembered is not None and not remembered.genuine:
                # Written without the audit key: resuming from it could skip an edited
                # entry. Nothing is verified until a full verification replaces it.
                log.error("audit chain verification failed: the remembered head was altered")
                return {
                    "ok": False,
                    "problem": "the remembered verified head was altered",
                    "first_bad_seq": None,
                    "entries": 0,
                    "head_seq": 0,
                    "chain_seq": chain_seq,
                    "complete": False,
                    "incremental": True,
                    "full_at": None,
                    "altered": True,
                }
            head = None if remembered is None else remembered.head
            result = verify_chain(
                session,
                key,
                start=None if head is None else (head.seq, head.hash),
                limit=OVERVIEW_VERIFY_SLICE,
            )
        full_at = None if head is None else head.full_at
        if not result.ok:
            log.error("audit chain verification failed: %s", result.problem)
        elif head is None and result.complete:
            # From the genesis to the head in one load: a full verification (spec §audit).
            full_at = self._remember(result, full=True, resumed_from=0)
        else:
            self._remember(result, full=False, resumed_from=result.from_seq)
        return {
            **result.as_dict(),
            "chain_seq": max(chain_seq, result.head_seq),
            "incremental": head is not None,
            "full_at": full_at,
            "altered": False,
        }

    def _remember(self, result: VerifyResult, *, full: bool, resumed_from: int) -> datetime | None:
        """Remember how far ``result`` verified; the time it was taken if ``full``."""
        now = self._settings.clock()
        if result.head_seq == 0 or (result.head_seq <= resumed_from and not full):
            # An empty chain has no entry to resume from; nothing new verified needs no
            # writing transaction.
            return now if full else None
        new = VerifiedHead(
            result.head_seq, bytes.fromhex(result.head_hash), now, now if full else None
        )
        key = self._keyring.audit_key
        self._progress(
            lambda session: audit_progress.remember(
                session, key, new, full=full, resumed_from=resumed_from
            )
        )
        return new.full_at

    def _progress(self, change: Callable[[Session], None]) -> None:
        """Write the remembered head; skipped while a restore awaits its replay.

        spec §backup: no writing transaction then. Also skipped when SQLite's writer lock
        is not free in time (releases are queued on it): the remembered head only saves
        work, and without it the next load verifies from the last one written (or the
        genesis), so neither is a reason to fail the page that verified.
        """
        try:
            with self._ledger.tx() as session:
                change(session)
        except (RestorePendingError, WriterLockTimeoutError) as exc:
            log.info("audit verified head not remembered: %s", type(exc).__name__)

    def counts_by_state(self) -> dict[str, int]:
        """Number of containers per state (for /metrics)."""
        with self._ledger.reads() as session:
            return repository.counts_by_state(session)

    def check_master_key(self) -> None:
        """Refuse a master key that did not write this database's audit chain.

        A wrong key would not open any sealed seed (nothing could be released) but would
        append entries the right key cannot verify, breaking the chain. Checking the last
        entry's keyed hash at start-up catches it first.

        Raises:
            ConfigError: The last audit entry does not verify under this master key.
        """
        with self._ledger.reads() as session:
            last = session.execute(
                select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
            ).scalar_one_or_none()
            if last is None:
                return
            expected = entry_hash(self._keyring.audit_key, last.prev_hash, last)
            if not hmac.compare_digest(expected, last.hash):
                raise ConfigError("the master key does not match this database")

    def ping(self) -> None:
        """Run a trivial query (readiness)."""
        with self._ledger.reads() as session:
            session.execute(select(1)).scalar_one()


def export_document(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as exported: its hashed content plus prev_hash and hash (hex)."""
    doc = entry_document(entry)
    doc["prev_hash"] = entry.prev_hash.hex()
    doc["hash"] = entry.hash.hex()
    return doc
