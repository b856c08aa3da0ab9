"""Reader key releases just before a time of loss not reported yet (spec §report, issue 12).

For the console's review of a loss report and the report's caution under its answer: the
medium report's own decisions (:mod:`keyserver._service.medium_report`) applied to the
minutes before the time typed, split from it along that seam (the report's module was at
the 500-line limit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyserver._domain.answers import worst
from keyserver._domain.validation import fmt_time
from keyserver._service.medium_report import (
    CONFIRMED,
    RELEASE,
    _answer_of,
    _chunks,
    _last_receipts_before,
    _opening,
    _seq_of,
    answers_since,
    kind,
    said_at,
)
from keyserver._store import audit
from keyserver._store.models import AuditEntry

# Releases asked about per statement in _receipts_after: one OR term each, and SQLite
# refuses an expression tree deeper than 1000 (2,000 such terms were refused).
_CONFIRMING = 100


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
    17:40:15 and a wrong password at 17:40:50 read "opened at 17:40:50"), an opening at
    its key release (:func:`~keyserver._service.medium_report.said_at`, as the report's
    ``last_confirmed_open_before_loss``; ``first_at`` and ``last_at`` too), with the
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
    # Per container, in seq order: the last receipt (the opening, at its release) and the
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
        return {"at": said_at(entry), "actor": entry.actor, "answer": answer}

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
    # The span the review asks about, each entry at its release (said_at: an opening's
    # receipt carries its release's time); RFC 3339 UTC of one form, in time order as text.
    times = sorted(said_at(e) for e, _ in found)
    # From the first close release on: the window as typed plus the close releases.
    before = {
        cid: worst([answer, _answer_of(kinds.get(cid, []))]) for cid, answer in as_typed.items()
    }
    return {
        "first_at": times[0],
        "last_at": times[-1],
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
