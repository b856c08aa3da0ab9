"""Service operations of the officials' console: sessions and the views it reads.

The console's actions (loss reports, restores, destroys, tokens) call the same service
methods as the HTTP API with the signed-in principal as actor, so they are checked and
audited exactly alike. What is here is what the API has no call for: console sessions
(server-side, in the shared database) and the read-only views an official needs in one
page (overview, partial search, a medium's containers, the audit log filtered by medium
and time).

Length (~575 lines): one method per console page, each the one query that page needs, and
the three helpers below serve only those queries; sessions are the first hundred lines.
Split by page, each module would hold a single query and import the same helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from keyserver._domain import auth
from keyserver._domain.context import ADMIN, LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64d, b64e
from keyserver._domain.errors import InvalidRequestError, UnauthenticatedError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor, Cause, State, loss_effect
from keyserver._domain.media import SEARCH_SEPARATORS_STORED, medium_search_key, nearest
from keyserver._domain.people import people_of
from keyserver._domain.validation import ACTION_RE, check_text, fmt_time
from keyserver._service.attempt_limits import at_limit
from keyserver._service.close_releases import last_openings_before, releases_close_before
from keyserver._service.loss import LossTimes, holding_report, loss_reporter
from keyserver._service.media import medium_target, resolve_medium
from keyserver._service.medium_report import answers_since
from keyserver._service.reports import export_document
from keyserver._store import repository
from keyserver._store.audit import canonical_json, lock_head
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry, ConsoleSession, Container, Principal

# Who may sign in to the console: officials and auditors (oversight) and admins. Readers
# and writers may not: their work is done by `rwc`, and a browser session holding their
# token would be one more place a stolen credential could be used from.
CONSOLE_ROLES = OVERSIGHT | ADMIN
SESSION_ID_BYTES = 32
# last_seen_at is written at most this often: a page view is a read, and a write per view
# would queue every reader of the console behind SQLite's single writer.
_TOUCH_EVERY = timedelta(seconds=30)
FIND_LIMIT = 200
AUDIT_PAGE = 100
# spec §audit: bulk operations record the medium they named as details.target.
_BULK_ACTIONS = ("suspend", "restore", "destroy")


def session_digest(session_id: str) -> bytes:
    """SHA-256 of a session id: the only form the database holds."""
    return hashlib.sha256(session_id.encode("ascii")).digest()


@dataclass(frozen=True)
class ConsoleSignIn:
    """A new console session: who signed in and the session id for the cookie."""

    actor: Actor
    session_id: str


class ConsoleOps:
    """Console sessions and the console's read-only views."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings

    # --- sessions -------------------------------------------------------------------

    def console_sign_in(self, token: str, *, ctx: RequestContext = LOCAL) -> ConsoleSignIn:
        """Open a console session for the principal of ``token``.

        Raises:
            UnauthenticatedError: Malformed, unknown, expired or revoked token.
            ForbiddenError: A reader or writer (audited, like every refusal).
        """
        digest = auth.token_digest(token)
        with self._ledger.single_read_engine.connect() as conn:
            row = repository.token_lookup(conn, digest)
            conn.rollback()
        actor = auth.actor_for(row, digest, self._ledger.now())
        self._ledger.require(
            actor, CONSOLE_ROLES, N_("signing in to the console"), action="console.signin", ctx=ctx
        )
        # A fresh id at every sign-in: a session id known before sign-in (fixation) is
        # never promoted to a signed-in one.
        session_id = b64e(self._settings.rng(SESSION_ID_BYTES))
        with self._ledger.tx() as session:
            now = self._ledger.now()
            lock_head(session)
            # Sessions past their absolute age are dropped here; idle ones with them when
            # they are older than the absolute age (sign-in is rare; no sweep needed).
            session.execute(
                delete(ConsoleSession).where(
                    ConsoleSession.created_at <= now - self._settings.console_max_age
                )
            )
            session.add(
                ConsoleSession(
                    id_hash=session_digest(session_id),
                    token_hash=digest,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            self._ledger.audit_ok(session, actor, "console.signin", ctx, {}, at=now)
        return ConsoleSignIn(actor=actor, session_id=session_id)

    def console_resume(self, session_id: str) -> Actor | None:
        """The principal of a live console session, or None (unknown, expired, revoked).

        Each request is authenticated again by the token rules (keyserver/_domain/auth.py): a
        revoked or expired token, or a principal no longer allowed in, ends the session.
        """
        if len(session_id) > 64 or not session_id.isascii():
            return None
        digest = session_digest(session_id)
        now = self._ledger.now()
        with self._ledger.reads() as session:
            row = session.get(ConsoleSession, digest)
            # The row was found by its hash; comparing again in constant time is defence
            # in depth, as for tokens (keyserver/_domain/auth.py).
            if row is None or not hmac.compare_digest(row.id_hash, digest):
                return None
            created, seen, token_hash = row.created_at, row.last_seen_at, row.token_hash
        if (
            now - created >= self._settings.console_max_age
            or now - seen >= self._settings.console_idle_timeout
        ):
            self._end_session(digest)
            return None
        with self._ledger.single_read_engine.connect() as conn:
            token_row = repository.token_lookup(conn, token_hash)
            conn.rollback()
        try:
            actor = auth.actor_for(token_row, token_hash, now)
        except UnauthenticatedError:
            self._end_session(digest)
            return None
        if not actor.has_any(CONSOLE_ROLES):
            self._end_session(digest)
            return None
        if now - seen >= _TOUCH_EVERY:
            with self._ledger.tx() as session:
                session.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.id_hash == digest)
                    .values(last_seen_at=now)
                )
        return actor

    def console_sign_out(
        self, actor: Actor, session_id: str, *, ctx: RequestContext = LOCAL
    ) -> None:
        """End a console session (audited)."""
        digest = session_digest(session_id)
        with self._ledger.tx() as session:
            lock_head(session)
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == digest))
            self._ledger.audit_ok(session, actor, "console.signout", ctx, {})

    def _end_session(self, digest: bytes) -> None:
        with self._ledger.tx() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == digest))

    # --- views ----------------------------------------------------------------------

    def console_overview(self, actor: Actor, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """Counts by state and media, loss reports, budget suspensions (officials, auditors).

        Also the containers one attempt from their budget (``at_limit``, attempt_limits.py).
        """
        self._ledger.require(actor, OVERSIGHT, N_("the console overview"), action="search", ctx=ctx)
        with self._ledger.reads() as session:
            # The query /metrics counts with (repository.counts_by_state), read in the
            # same transaction as the rest of the page: one snapshot, one definition.
            counts = repository.counts_by_state(session)
            # The counts above are of every container; the page says over how many media,
            # and how many are on none (issue 12: a newcomer read the "active" count as
            # the lost medium's own).
            media, no_medium = session.execute(
                select(
                    func.count(Container.medium.distinct()),
                    func.count().filter(Container.medium.is_(None)),
                )
            ).one()
            losses = session.execute(
                select(
                    Container.medium,
                    func.max(Container.loss_reported_at),
                    func.min(Container.destroy_after),
                    func.count(),
                )
                .where(Container.loss_reported_at.is_not(None), Container.medium.is_not(None))
                .group_by(Container.medium)
                .order_by(func.max(Container.loss_reported_at).desc())
                .limit(20)
            ).all()
            budget = list(
                session.execute(
                    select(Container)
                    .where(
                        Container.state == State.SUSPENDED.value,
                        Container.suspend_cause == Cause.BUDGET.value,
                    )
                    .order_by(Container.suspended_at.desc())
                    .limit(50)
                ).scalars()
            )
            # Issue 12: one more unconfirmed attempt suspends these (attempt_limits.py).
            limit = at_limit(session)
            head = session.execute(select(func.max(AuditEntry.seq))).scalar()
        return {
            "counts": {s.value: counts.get(s.value, 0) for s in State},
            "media": int(media),
            "no_medium": int(no_medium),
            "loss_reports": [
                {
                    "medium": medium,
                    "loss_reported_at": fmt_time(reported),
                    "destroy_after": fmt_time(deadline),
                    "containers": int(n),
                }
                for medium, reported, deadline, n in losses
            ],
            "budget_suspended": [
                {
                    "container_id": b64e(c.id),
                    "label": c.label,
                    "medium": c.medium,
                    "suspended_at": fmt_time(c.suspended_at),
                }
                for c in budget
            ],
            "at_limit": limit,
            "audit_head_seq": int(head or 0),
        }

    def console_find(
        self,
        actor: Actor,
        text: str,
        state: str | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Partial, case-insensitive search over label, medium, issuer and container id.

        Returns:
            ``{media: [{medium, containers, states}], containers: [...], truncated,
            suggestions}`` (suggestions: the nearest medium names when nothing matched).
        """
        self._ledger.require(actor, OVERSIGHT, N_("searching containers"), action="search", ctx=ctx)
        text = text.strip()
        if text:
            check_text(text, "search text")
        elif state is None:
            raise InvalidRequestError(N_("type part of a name, or choose a state"))
        if state is not None and state not in {s.value for s in State}:
            raise InvalidRequestError(N_("unknown state"))
        needle = text.casefold()
        # spec §media: blanks and dashes do not matter in a medium id a person types.
        loose = medium_search_key(text)
        stmt = select(Container, Principal.name).join(
            Principal, Principal.id == Container.issuer_id
        )
        if text:
            # lower() folds ASCII only on SQLite (PostgreSQL: all of Unicode); Japanese
            # has no case, and media, labels and principal names are mostly ASCII.
            matches: list[ColumnElement[bool]] = [
                func.lower(Container.label).contains(needle, autoescape=True),
                func.lower(Container.medium).contains(needle, autoescape=True),
                func.lower(Principal.name).contains(needle, autoescape=True),
            ]
            if loose:
                matches.append(
                    _without_separators(Container.medium).contains(loose, autoescape=True)
                )
            id_range = _id_prefix_range(text)
            if id_range is not None:
                matches.append(Container.id.between(*id_range))
            stmt = stmt.where(or_(*matches))
        if state is not None:
            stmt = stmt.where(Container.state == state)
        with self._ledger.reads() as session:
            rows = session.execute(
                stmt.order_by(Container.medium, Container.label, Container.id).limit(FIND_LIMIT + 1)
            ).all()
            # Nothing found: the nearest medium names, as a not-found medium gets them.
            suggestions = (
                nearest(text, repository.medium_names(session)) if text and not rows else []
            )
        found = []
        for c, issuer in rows[:FIND_LIMIT]:
            cid = b64e(c.id)
            # The id range is a superset of the prefix (whole bytes); keep true matches.
            if text and (
                needle not in c.label.casefold()
                and needle not in (c.medium or "").casefold()
                and not (loose and loose in medium_search_key(c.medium or ""))
                and needle not in issuer.casefold()
                and not cid.startswith(text)
            ):
                continue
            found.append(
                {
                    "container_id": cid,
                    "label": c.label,
                    "medium": c.medium,
                    "issuer": issuer,
                    "state": c.state,
                    "destroy_after": fmt_time(c.destroy_after),
                }
            )
        media: dict[str, dict[str, Any]] = {}
        for doc in found:
            if doc["medium"] is None:
                continue
            entry = media.setdefault(doc["medium"], {"medium": doc["medium"], "containers": 0})
            entry["containers"] += 1
        return {
            "media": sorted(media.values(), key=lambda m: str(m["medium"])),
            "containers": found,
            "truncated": len(rows) > FIND_LIMIT,
            "suggestions": suggestions,
        }

    def console_medium(
        self,
        actor: Actor,
        medium: str,
        *,
        lost_at: datetime | None = None,
        answers: bool = False,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """A medium (matched by its canonical id, spec §media) and its containers.

        Each container carries ``loss_effect``: what a loss report would do to it now
        (:data:`~keyserver._domain.lifecycle.LOSS_EFFECTS`, the grouping report_loss uses),
        so the console's confirmation lists exactly what the report will change. With
        ``lost_at`` (a time of loss about to be reported), each also says whether it was
        sealed after it (``sealed_after_loss``) and its last confirmed opening before it
        (``last_confirmed_open_before_loss``, as the medium report gives it, or None), and
        the medium its reader key releases just before it with the answers either side
        (``close_to_loss``: :func:`~keyserver._service.close_releases.releases_close_before`). A
        medium reported lost names who made the report it carries (``loss_reported_by``)
        and, while the report holds, its destroy deadline (``destroy_after``, the earliest
        of its containers').
        With ``answers``, each container of a medium with a recorded loss carries its
        three-way ``answer`` since the time of loss, decided as the medium report decides
        it (:func:`~keyserver._service.medium_report.answers_since`; None without a loss),
        without building the report (issue 12: the page only orders its rows by it).

        Raises:
            NotFoundError: No medium has that id; ``suggestions`` lists the nearest media
                (a typo must never look like an empty, protected medium).
        """
        self._ledger.require(
            actor,
            OVERSIGHT,
            N_("reading a medium"),
            action="search",
            target=medium_target(medium),
            ctx=ctx,
        )
        with self._ledger.reads() as session:
            m = resolve_medium(session, medium)
            rows = session.execute(
                select(Container, Principal.name)
                .join(Principal, Principal.id == Container.issuer_id)
                .where(Container.medium == m.name)
                .order_by(Container.label, Container.id)
            ).all()
            name, lost, reported, told = m.name, m.lost_at, m.loss_reported_at, m.told_at
            live = (Container.medium == name) & (Container.state != State.DESTROYED.value)
            holding = holding_report(session, m, live)
            reporter = loss_reporter(session, m)
            # spec §report: the window starts at the loss's own sequence number.
            found = (
                answers_since(session, [b64e(c.id) for c, _ in rows], m.lost_seq)
                if answers and m.lost_seq is not None
                else {}
            )
            # Issue 12: the review shows the last confirmed opening before the time typed,
            # so the official can check the time against it (the report's own query).
            before = (
                last_openings_before(session, [b64e(c.id) for c, _ in rows], lost_at)
                if lost_at is not None
                else {}
            )
            # Issue 12, fourteenth session: every reader release just before it, with the
            # answers either side, so the review can ask whether it was lost after them.
            close = (
                releases_close_before(session, [b64e(c.id) for c, _ in rows], lost_at)
                if lost_at is not None
                else None
            )
        containers: list[dict[str, Any]] = [
            {
                "container_id": b64e(c.id),
                "label": c.label,
                "people": c.people,  # spec §endpoints: as its writer declared; None: not
                "issuer": issuer,
                "state": c.state,
                "suspend_cause": c.suspend_cause,
                "loss_effect": loss_effect(State(c.state)),
                "created_at": fmt_time(c.created_at),
                # Issue 12: a container registered after the typed time of loss cannot
                # have been on the medium when it was lost: the time is mistyped or the
                # medium's name was reused. Said before the official confirms, never
                # refused (the report must stay possible under stress).
                "sealed_after_loss": lost_at is not None and c.created_at > lost_at,
                "suspended_at": fmt_time(c.suspended_at),
                "destroy_after": fmt_time(c.destroy_after),
                "destroyed_at": fmt_time(c.destroyed_at),
                "loss_reported_at": fmt_time(c.loss_reported_at),
                "reason": c.reason,
                "public_reason": c.public_reason,
                **({"answer": found.get(b64e(c.id))} if answers else {}),
                **(
                    {"last_confirmed_open_before_loss": before.get(b64e(c.id))}
                    if lost_at is not None
                    else {}
                ),
            }
            for c, issuer in rows
        ]
        states: dict[str, int] = {}
        for c in containers:
            states[c["state"]] = states.get(c["state"], 0) + 1
        return {
            "medium": name,
            "lost_at": fmt_time(lost),
            # spec §loss: the time told, kept beside lost_at when the count starts earlier.
            "told_at": fmt_time(told),
            "loss_reported_at": fmt_time(reported),
            "loss": _loss_state(lost, holding, states),
            "loss_reported_by": reporter,
            "destroy_after": None if holding is None else fmt_time(holding.destroy_after),
            "states": dict(sorted(states.items())),
            **people_of(containers),
            "containers": containers,
            **({"close_to_loss": close} if lost_at is not None else {}),
        }

    def console_audit(
        self,
        actor: Actor,
        *,
        actor_name: str | None = None,
        action: str | None = None,
        container: str | None = None,
        medium: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Audit entries, newest first, filtered (officials, auditors).

        ``medium`` matches the entries of the medium's containers and the bulk entries
        that named the medium.

        Returns:
            ``{entries: [...], next_before_seq: int | null}``.
        """
        self._ledger.require(
            actor, OVERSIGHT, N_("reading the audit log"), action="audit.list", ctx=ctx
        )
        filters: list[ColumnElement[bool]] = []
        if actor_name is not None:
            filters.append(AuditEntry.actor == check_text(actor_name, "actor"))
        if action is not None:
            if not ACTION_RE.fullmatch(action):
                raise InvalidRequestError(N_("unknown action"))
            filters.append(AuditEntry.action == action)
        if container is not None:
            b64d(container, 16, "container id")
            filters.append(AuditEntry.container == container)
        if since is not None:
            filters.append(AuditEntry.at >= since)
        if until is not None:
            filters.append(AuditEntry.at < until)
        if before_seq is not None:
            filters.append(AuditEntry.seq < before_seq)
        # Entries shown are durable (spec §consistency): flushed after the read.
        with self._ledger.published_reads() as session:
            if medium is not None:
                # Matched like everywhere else (spec §media); a typo is not-found with
                # the nearest names, never an empty page that reads as "nothing happened".
                medium = resolve_medium(session, medium).name
                ids = [
                    b64e(i)
                    for i in session.execute(
                        select(Container.id).where(Container.medium == medium)
                    ).scalars()
                ]
                # spec §audit: a bulk entry's details carry {"scope": "medium",
                # "target": <medium>} in canonical JSON, so the exact pair is a substring.
                named = canonical_json({"target": medium})[1:-1]
                filters.append(
                    or_(
                        AuditEntry.container.in_(ids),
                        AuditEntry.details.contains(named, autoescape=True),
                    )
                )
            rows = list(
                session.execute(
                    select(AuditEntry)
                    .where(*filters)
                    .order_by(AuditEntry.seq.desc())
                    .limit(AUDIT_PAGE)
                ).scalars()
            )
            docs = [export_document(e) for e in rows]
        nxt = docs[-1]["seq"] if len(docs) == AUDIT_PAGE else None
        return {"entries": docs, "next_before_seq": nxt}


def _loss_state(
    lost: datetime | None, holding: LossTimes | None, states: dict[str, int]
) -> str | None:
    """Whether the medium's loss is its state now (``current``), or history (``lifted``).

    Current while the report holds (loss.holding_report, the rule a second report keeps
    times by) or when it ended in destruction (nothing is left to lift); lifted once a
    restore took every deadline away: the medium was found. None: never reported lost.
    """
    if lost is None:
        return None
    if holding is not None or set(states) == {State.DESTROYED.value}:
        return "current"
    return "lifted"


def _id_prefix_range(text: str) -> tuple[bytes, bytes] | None:
    """The range of 16-byte ids whose base64url form starts with ``text``, if it can.

    Ids are stored as bytes; a base64url prefix of k characters fixes the first
    floor(6k/8) bytes, so the range of ids with those bytes is a superset the caller
    filters exactly. At least 4 characters (3 bytes), so short words do not match ids.
    """
    if not 4 <= len(text) <= 22 or any(
        not (ch.isascii() and (ch.isalnum() or ch in "-_")) for ch in text
    ):
        return None
    whole = len(text) * 6 // 8
    # Not a protocol value (no canonical check): any trailing bits are cut off below.
    prefix = base64.urlsafe_b64decode(text + "A" * (-len(text) % 4))[:whole]
    return prefix + b"\x00" * (16 - whole), prefix + b"\xff" * (16 - whole)


__all__ = ["CONSOLE_ROLES", "ConsoleOps", "ConsoleSignIn", "session_digest"]


def _without_separators(column: Any) -> Any:
    """``column`` lower-cased without blanks and dashes, in SQL (domain.media_search_key).

    A stored medium id is canonical already (one ASCII dash, single spaces), so removing
    those is the same folding the domain applies to what was typed.
    """
    out = func.lower(column)
    for separator in SEARCH_SEPARATORS_STORED:
        out = func.replace(out, separator, "")
    return out
