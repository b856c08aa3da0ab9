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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyserver._domain.answers import NOT_OPENED, OPENED, POSSIBLY_OPENED, worst
from keyserver._domain.context import LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
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
# Ids per IN list (well below every backend's parameter limit).
_CHUNK = 500
# Releases asked about per statement in _receipts_after: one OR term each, and SQLite
# refuses an expression tree deeper than 1000 (2,000 such terms were refused).
_CONFIRMING = 100


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
            window_start_seq, answer, containers:
            [{container_id, label, issuer, state, suspend_cause, lost_at,
            loss_reported_at, destroy_after, destroyed_at, answer, releases_after_loss,
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
    ) -> dict[str, Any]:
        details = [json.loads(a.details) for a in attempts]
        kinds = _kinds(attempts, details)
        return {
            "container_id": b64e(c.id),
            "label": c.label,
            "issuer": issuer,
            "state": c.state,
            "suspend_cause": c.suspend_cause,
            "lost_at": fmt_time(c.lost_at),
            "loss_reported_at": fmt_time(c.loss_reported_at),
            "destroy_after": fmt_time(c.destroy_after),
            "destroyed_at": fmt_time(c.destroyed_at),
            "answer": None if start_seq is None else answer(attempts, details),
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


def last_openings_before(
    session: Session, cids: Sequence[str], lost_at: datetime
) -> dict[str, dict[str, Any]]:
    """The last confirmed opening of each container before a time of loss not reported yet.

    For the console's review of a loss report (issue 12: the official checks the time
    typed against it before confirming): the report's own query over the window the report
    would have, the time mapped to a sequence number as ``since`` is (spec §report).
    Containers never opened before it are left out.
    """
    seq = _seq_of(session, lost_at)
    return {cid: _opening(e) for cid, e in _last_receipts_before(session, cids, seq).items()}


# How close before a time of loss a reader's key release makes the console's review ask
# whether the medium was lost after it or before (issue 12, eighth newcomer run): minutes,
# the lag of a phone call between the one who lost it and the official.
CLOSE_TO_LOSS = timedelta(minutes=15)


def releases_close_before(
    session: Session, cids: Sequence[str], lost_at: datetime
) -> dict[str, Any] | None:
    """The reader key releases in the CLOSE_TO_LOSS before a time of loss not reported yet.

    For the console's review of a loss report (issue 12, fourteenth session): each counts
    before the loss as typed, and after it if the medium was lost before it. The review
    asks which, and shows the answer either way, decided as the report decides it
    (:func:`answers_since`, from the time typed and from the first close release). None
    when there is none. Returns ``{first_at, last_at, as_typed: {cid: answer}, before:
    {cid: answer}, releases: {cid: {opened, released}}}``: per container its last
    confirmed opening in the CLOSE_TO_LOSS (or None) and its last key release after that
    opening whose opening was not confirmed before the time of loss (or None), each
    ``{at, actor, answer}`` said at its own time (issue 12, sixteenth session: an opening at
    17:40:15 and a wrong password at 17:40:50 read "opened at 17:40:50"), with the
    container's answer had the medium been lost just before it; the release also carries
    ``confirmed_at``, its receipt's time when that came after the time of loss, else None.
    """
    end = _seq_of(session, lost_at)
    start = _seq_of(session, lost_at - CLOSE_TO_LOSS)
    found: list[tuple[AuditEntry, str]] = []
    for chunk in _chunks(cids):
        stmt = select(AuditEntry).where(
            AuditEntry.container.in_(chunk),
            AuditEntry.action.in_(("evaluate", "receipt")),
            AuditEntry.outcome == "ok",
            AuditEntry.seq >= start,
            AuditEntry.seq < end,
        )
        for e in session.execute(stmt).scalars():
            k = kind(e.action, "ok", json.loads(e.details).get("mode"))
            if k in {RELEASE, CONFIRMED}:  # a writer's sealing is no opening
                found.append((e, k))
    if not found:
        return None
    found.sort(key=lambda pair: pair[0].seq)
    as_typed = answers_since(session, cids, end)
    # Per container, in seq order: the last receipt (the opening, at its own time) and the
    # last release after it. A release before a later receipt in the window is never the
    # unconfirmed one said: lost before it, the receipt after it already makes the answer
    # Opened (spec §report). Each with the answer from its own entry on: the window as
    # typed plus the close entries from it (the same decision, _answer_of).
    kinds: dict[str, list[str]] = {}
    events: dict[str, dict[str, tuple[AuditEntry, int]]] = {}
    for e, k in found:
        cid = str(e.container)
        kinds.setdefault(cid, []).append(k)
        mine = events.setdefault(cid, {})
        if k == CONFIRMED:
            mine["opened"] = (e, len(kinds[cid]) - 1)
            mine.pop("released", None)
        else:
            mine["released"] = (e, len(kinds[cid]) - 1)

    def said(cid: str, entry: AuditEntry, index: int) -> dict[str, Any]:
        answer = worst([as_typed[cid], _answer_of(kinds[cid][index:])])
        return {"at": fmt_time(entry.at), "actor": entry.actor, "answer": answer}

    unconfirmed = {cid: mine["released"][0] for cid, mine in events.items() if "released" in mine}
    late = _receipts_after(session, unconfirmed, end)
    releases: dict[str, dict[str, Any]] = {}
    for cid, mine in events.items():
        opened = mine.get("opened")
        released = mine.get("released")
        releases[cid] = {
            "opened": None if opened is None else said(cid, *opened),
            "released": None
            if released is None
            else {**said(cid, *released), "confirmed_at": late.get(cid)},
        }
    # From the first close release on: the window as typed plus the close releases.
    before = {
        cid: worst([answer, _answer_of(kinds.get(cid, []))]) for cid, answer in as_typed.items()
    }
    return {
        "first_at": fmt_time(found[0][0].at),
        "last_at": fmt_time(found[-1][0].at),
        "as_typed": as_typed,
        "before": before,
        "releases": releases,
    }


def _receipts_after(
    session: Session, releases: dict[str, AuditEntry], end: int
) -> dict[str, str | None]:
    """The time of each release's receipt from seq ``end`` on (after the time of loss).

    spec §receipt: a receipt confirms exactly the evaluation whose challenge it answers,
    by the same principal, and is audited with that evaluation's ``evaluated_at``; the
    release's own entry was written at that same time. So a receipt of the container, by
    the release's actor, whose ``evaluated_at`` is the release's time, confirms it. Within
    one microsecond two releases of one container to one principal cannot be told apart:
    either is then said confirmed, as the report counts the receipt (Opened) either way.
    """
    out: dict[str, str | None] = {}
    if not releases:
        return out
    for chunk in _chunks(sorted(releases), _CONFIRMING):
        # Only the receipt that can confirm each release (issue 12, console20): every
        # receipt of the container since the loss was read before, to the head of the log.
        # Details are canonical JSON (spec §audit), so the member is a substring; the check
        # below stays the decision.
        stmt = select(AuditEntry).where(
            or_(
                *(
                    (AuditEntry.container == cid)
                    & (AuditEntry.actor == releases[cid].actor)
                    & AuditEntry.details.contains(
                        audit.canonical_json({"evaluated_at": fmt_time(releases[cid].at)})[1:-1],
                        autoescape=True,
                    )
                    for cid in chunk
                )
            ),
            AuditEntry.action == "receipt",
            AuditEntry.outcome == "ok",
            AuditEntry.seq >= end,
        )
        for e in session.execute(stmt.order_by(AuditEntry.seq)).scalars():
            cid = str(e.container)
            release = releases[cid]
            if (
                cid not in out
                and e.actor == release.actor
                and json.loads(e.details).get("evaluated_at") == fmt_time(release.at)
            ):
                out[cid] = fmt_time(e.at)
    return out


def _opening(entry: AuditEntry) -> dict[str, Any]:
    """A confirmed opening as the report states it."""
    return {"at": fmt_time(entry.at), "actor": entry.actor, "remote": entry.remote}


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
            "public_reason": details.get("public_reason"),
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
