"""The medium report: "was it opened after the loss?", answered three ways (spec §report).

An official answering the press needs an answer that cannot be wrong in the reassuring
direction. Per container, over the window that starts when the medium was *lost* (not
when the loss was reported):

- ``opened``: a key was released and a receipt confirmed it (the content key was
  recovered);
- ``possibly opened``: a key was released without a receipt. The password may have
  been right: a thief who has it simply does not send the receipt;
- ``not opened``: no key was released (refused attempts are listed, but released
  nothing).

Only a *read-mode* release counts as an opening. A seal-mode release is the container's
writer deriving the key to seal it (creation): listed, with its kind, so the table and the
answer never seem to disagree ("not opened" next to a succeeded key request).

The medium's headline answer is the worst of its containers. Restores, suspensions and
destroys in the window are listed with who made them, so a restore between the loss
and its report is visible. Built from the audit log alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyserver._domain.answers import NOT_OPENED, OPENED, POSSIBLY_OPENED, worst
from keyserver._domain.context import LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64e, format_time
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.people import people_of
from keyserver._domain.system_reasons import public_reason_of
from keyserver._domain.validation import fmt_time
from keyserver._service.media import medium_target, resolve_medium
from keyserver._store import audit, loss_window
from keyserver._store.audit import entry_document
from keyserver._store.ledger import Ledger
from keyserver._store.models import AuditEntry, Container, Principal

# What one attempt row is (spec §report, ``kind``). Only RELEASE and CONFIRMED count
# toward an opening: a seal-mode release is the writer creating the container.
CREATION = "creation"
RELEASE = "release"
CONFIRMED = "confirmed"
REFUSED = "refused"
_CHANGES = ("suspend", "restore", "destroy")
# The medium's members of the unsigned report only (spec §report, §transparency), and each
# container's. The declared counts of people are the writer's word, not the audit log's:
# a signed report states what the log proves, so they stay out of it.
UNSIGNED_ONLY = ("told_seq", "answer_from_told_at", "people_up_to", "people_undeclared")
CONTAINER_UNSIGNED_ONLY = ("answer_from_told_at", "people")
# Ids per IN list (well below every backend's parameter limit).
_CHUNK = 500


def kind(action: str, outcome: str, mode: str | None) -> str:
    """What one attempt is, for the answer and for the people reading its row (spec §report).

    An evaluation that succeeded released a key: in seal mode to the writer sealing a
    container (creation, not an opening); in any other mode to a reader. Anything other than
    seal counts as a reader's release on purpose: the report must not be wrong in the
    reassuring direction, even for an entry whose mode is missing.
    """
    if outcome != "ok":
        return REFUSED
    if action == "receipt":
        return CONFIRMED
    return CREATION if mode == "seal" else RELEASE


def answer(attempts: Sequence[AuditEntry], details: Sequence[dict[str, Any]]) -> str:
    """The three-way answer for one container's attempts in the window."""
    return _answer_of(_kinds(attempts, details))


def _answer_of(kinds: Iterable[str]) -> str:
    """The three-way answer from the kinds of a container's attempts in the window."""
    seen = set(kinds)
    if CONFIRMED in seen:
        return OPENED
    return POSSIBLY_OPENED if RELEASE in seen else NOT_OPENED


def answers_since(session: Session, cids: Sequence[str], start_seq: int) -> dict[str, str]:
    """Each container's three-way answer from seq ``start_seq`` on, as the report gives it.

    For a page that shows only the answers (the console's medium page orders its
    containers by them, issue 12): the same decision (:func:`kind`, :func:`_answer_of`)
    over the same window, read from the successful key requests and receipts alone. A
    refused attempt is REFUSED whatever else it says and never moves the answer, so the
    rows a thief's guesses add are not read at all, nor the report's other parts.
    """
    kinds: dict[str, list[str]] = {cid: [] for cid in cids}
    for chunk in _chunks(cids):
        stmt = select(AuditEntry.container, AuditEntry.action, AuditEntry.details).where(
            AuditEntry.container.in_(chunk),
            AuditEntry.action.in_(("evaluate", "receipt")),
            AuditEntry.outcome == "ok",
            AuditEntry.seq >= start_seq,
        )
        for container, action, details in session.execute(stmt):
            kinds[str(container)].append(kind(action, "ok", json.loads(details).get("mode")))
    return {cid: _answer_of(found) for cid, found in kinds.items()}


def _kinds(attempts: Sequence[AuditEntry], details: Sequence[dict[str, Any]]) -> list[str]:
    return [
        kind(a.action, a.outcome, d.get("mode")) for a, d in zip(attempts, details, strict=True)
    ]


class MediumReportOps:
    """``GET /v1/media/{medium}/report`` and ``keyserver report``."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def medium_report(
        self,
        actor: Actor,
        medium: str,
        since: datetime | None = None,
        *,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """What happened to a medium's containers (officials, auditors).

        The window starts at ``since`` if given, else at the medium's time of loss, each
        as an audit sequence number (``window_start_seq``; the loss's was fixed when it
        was reported), so a clock step cannot move an entry in or out of it. Without
        either (no loss reported) every attempt is listed and there is no answer.
        Raises not-found with suggestions for a medium that matches nothing.

        Returns:
            ``{medium, lost_at, lost_seq, told_at, loss_reported_at, window_start,
            window_start_seq, answer, told_seq, answer_from_told_at, containers:
            [{container_id, label, issuer, state, suspend_cause, lost_at,
            loss_reported_at, destroy_after, destroyed_at, answer, answer_from_told_at,
            releases_after_loss,
            confirmed_after_loss, last_confirmed_open_before_loss, attempts_since,
            attempts: [...], state_changes: [...]}]}``.
        """
        self._ledger.require(
            actor,
            OVERSIGHT,
            N_("medium reports"),
            action="medium.report",
            target=medium_target(medium),
            ctx=ctx,
        )
        # A report officials act on: what it shows is durable (spec §consistency).
        with self._ledger.published_reads(snapshot=True) as session:
            m = resolve_medium(session, medium)
            start = since or m.lost_at
            start_seq = _window_start_seq(session, since, m.lost_seq)
            rows = list(
                session.execute(
                    select(Container).where(Container.medium == m.name).order_by(Container.id)
                ).scalars()
            )
            cids = [b64e(c.id) for c in rows]
            attempts = _entries(session, cids, ("evaluate", "receipt"), start_seq)
            told_seq = _told_seq(session, m.told_at, start_seq, m.lost_seq, since)
            before = (
                _last_receipts_before(session, cids, m.lost_seq) if m.lost_seq is not None else {}
            )
            changes = _changes(session, m.name, set(cids), start_seq)
            issuers = _issuer_names(session, {c.issuer_id for c in rows})
            out = [
                self._container_doc(
                    c,
                    issuers.get(c.issuer_id),
                    attempts.get(cid, []),
                    before.get(cid),
                    changes.get(cid, []),
                    start,
                    start_seq,
                    told_seq,
                )
                for c, cid in zip(rows, cids, strict=True)
            ]
        return {
            "medium": m.name,
            "lost_at": fmt_time(m.lost_at),
            "lost_seq": m.lost_seq,
            "told_at": fmt_time(m.told_at),  # spec §report: when the window starts earlier
            "loss_reported_at": fmt_time(m.loss_reported_at),
            "window_start": fmt_time(start),
            "window_start_seq": start_seq,
            "answer": worst(c["answer"] for c in out),
            # spec §report: the answer had the medium been lost at the time told; what
            # people read says "depends on the time of loss" when it differs (answers.as_read).
            "told_seq": told_seq,
            "answer_from_told_at": None
            if told_seq is None
            else worst(c["answer_from_told_at"] for c in out),
            **people_of(out),
            "containers": out,
        }

    @staticmethod
    def _container_doc(  # noqa: PLR0917 - one container's parts of the report
        c: Container,
        issuer: str | None,
        attempts: list[AuditEntry],
        before: AuditEntry | None,
        changes: list[dict[str, Any]],
        start: datetime | None,
        start_seq: int | None,
        told_seq: int | None,
    ) -> dict[str, Any]:
        details = [json.loads(a.details) for a in attempts]
        kinds = _kinds(attempts, details)
        # The same decision over the part of the window from the time told on (spec §report
        # answer_from_told_at): attempts are in seq order, the window's from start_seq.
        from_told = (
            None
            if told_seq is None
            else _answer_of(k for a, k in zip(attempts, kinds, strict=True) if a.seq >= told_seq)
        )
        return {
            "container_id": b64e(c.id),
            "label": c.label,
            "people": c.people,  # spec §endpoints: as the writer declared; None: not
            "issuer": issuer,
            "state": c.state,
            "suspend_cause": c.suspend_cause,
            "lost_at": fmt_time(c.lost_at),
            "loss_reported_at": fmt_time(c.loss_reported_at),
            "destroy_after": fmt_time(c.destroy_after),
            "destroyed_at": fmt_time(c.destroyed_at),
            "answer": None if start_seq is None else answer(attempts, details),
            "answer_from_told_at": from_told,
            "releases_after_loss": kinds.count(RELEASE),
            "confirmed_after_loss": kinds.count(CONFIRMED),
            "last_confirmed_open_before_loss": None if before is None else _opening(before),
            "attempts_since": fmt_time(start),
            "attempts": [_attempt(a, d) for a, d in zip(attempts, details, strict=True)],
            "state_changes": changes,
        }


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _window_start_seq(session: Session, since: datetime | None, lost_seq: int | None) -> int | None:
    """The first sequence number of the window (None: no window, every attempt listed).

    spec §report: the window is decided by sequence numbers, times are for display. The
    loss's was fixed when it was reported; ``since`` maps the same way now (the first entry
    at or after it; none yet: the next entry to come).
    """
    return lost_seq if since is None else _seq_of(session, since)


def _told_seq(
    session: Session,
    told_at: datetime | None,
    start_seq: int | None,
    lost_seq: int | None,
    since: datetime | None,
) -> int | None:
    """The first sequence number at or after the time told (spec §report ``told_seq``).

    None without a time told, and for a window that is not the loss's (``since``): the
    answer from the time told is compared with the answer from the time of loss, nothing
    else. Mapped as the window's start is (:func:`_seq_of`), and never before it: the time
    told is at or after the time of loss (spec §loss), so its part of the window is inside
    the window even if a clock step put an entry's time out of order.
    """
    if told_at is None or since is not None or start_seq is None or lost_seq is None:
        return None
    return max(_seq_of(session, told_at), start_seq)


def _seq_of(session: Session, when: datetime) -> int:
    """The first entry at or after ``when`` (spec §report); none yet: the next to come."""
    found = loss_window.first_seq_at_or_after(session, when)
    if found is not None:
        return found
    head = audit.read_head(session)
    return 1 if head is None else head[0] + 1


def _entries(
    session: Session, cids: Sequence[str], actions: Sequence[str], start: int | None
) -> dict[str, list[AuditEntry]]:
    """The entries of ``actions`` per container from seq ``start`` on, in seq order."""
    out: dict[str, list[AuditEntry]] = {}
    for chunk in _chunks(cids):
        stmt = select(AuditEntry).where(
            AuditEntry.container.in_(chunk), AuditEntry.action.in_(actions)
        )
        if start is not None:
            stmt = stmt.where(AuditEntry.seq >= start)
        for e in session.execute(stmt.order_by(AuditEntry.seq)).scalars():
            out.setdefault(str(e.container), []).append(e)
    return out


def said_at(entry: AuditEntry) -> str:
    """When the report and the console say a release or an opening happened (spec §report).

    An opening happened when its key was released: the receipt only confirms it, seconds
    or minutes later, and carries that release's ``evaluated_at`` (spec §receipt). Said at
    the receipt's own time, one clerk's opening read at two times on one page (issue 12,
    seventeenth session: "12:37:52 to 12:37:53" in the review's question, "12:37:53" by
    container, "Key released ... 12:37:52" on paper). Every other entry at its own time.
    """
    if entry.action == "receipt":
        evaluated = json.loads(entry.details).get("evaluated_at")
        if isinstance(evaluated, str):
            return evaluated
    return format_time(entry.at)


def _opening(entry: AuditEntry) -> dict[str, Any]:
    """A confirmed opening as the report states it: at its key release (:func:`said_at`)."""
    return {"at": said_at(entry), "actor": entry.actor, "remote": entry.remote}


def _last_receipts_before(
    session: Session, cids: Sequence[str], lost_seq: int
) -> dict[str, AuditEntry]:
    """The last confirmed open of each container before the loss (by sequence)."""
    out: dict[str, AuditEntry] = {}
    for chunk in _chunks(cids):
        stmt = select(AuditEntry).where(
            AuditEntry.container.in_(chunk),
            AuditEntry.action == "receipt",
            AuditEntry.outcome == "ok",
            AuditEntry.seq < lost_seq,
        )
        for e in session.execute(stmt.order_by(AuditEntry.seq)).scalars():
            out[str(e.container)] = e  # ordered by seq: the last one wins
    return out


def _changes(
    session: Session, name: str, cids: set[str], start: int | None
) -> dict[str, list[dict[str, Any]]]:
    """Suspensions, restores and destroys of each container in the window.

    Per-container entries name their container; bulk ones (a medium, an issuer, the
    sweep, a budget) list the ids in their details, or (above the inline limit) only
    their digest: those are matched by their medium scope.
    """
    stmt = select(AuditEntry).where(
        AuditEntry.action.in_(_CHANGES),
        AuditEntry.outcome == "ok",
        or_(AuditEntry.container.in_(sorted(cids)), AuditEntry.container.is_(None)),
    )
    if start is not None:
        stmt = stmt.where(AuditEntry.seq >= start)
    out: dict[str, list[dict[str, Any]]] = {}
    for e in session.execute(stmt.order_by(AuditEntry.seq)).scalars():
        details = json.loads(e.details)
        if e.container is not None:
            named = {e.container}
        elif "container_ids" in details:
            named = set(details["container_ids"]) & cids
        elif details.get("scope") == "medium" and details.get("target") == name:
            named = cids
        else:
            named = set()
        doc = {
            "seq": e.seq,
            "at": entry_document(e)["at"],
            "actor": e.actor,
            "action": e.action,
            "cause": details.get("cause"),
            "reason": details.get("reason"),
            # What refused readers were told: the one reason a printed report shows (the
            # internal one stays with officials; issue 12).
            "public_reason": public_reason_of(details),
        }
        for cid in named:
            out.setdefault(cid, []).append(doc)
    return out


def _issuer_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Principal.id, Principal.name).where(Principal.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


def _attempt(a: AuditEntry, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": a.seq,
        "at": entry_document(a)["at"],
        "actor": a.actor,
        "action": a.action,
        "remote": a.remote,
        "outcome": a.outcome,
        "mode": details.get("mode"),
        "kind": kind(a.action, a.outcome, details.get("mode")),
        "reason": details.get("reason"),
    }
