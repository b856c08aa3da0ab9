"""The medium report and the signed incident documents.

The report page shows the service's three-way answer (opened / possibly opened / not
opened, keyserver/_service/medium_report.py) for the medium and each container, every
attempt and every suspension, restore and destroy since the time of loss; it prints on A4
and downloads as JSON. The signed medium report and the destruction certificate
(keyserver/_service/incident.py) download as files anyone can check offline with
``keyserver verify-report``; the pages show the exact command.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.answers import (
    DEPENDS,
    answer_first,
    depends_views,
    headline_view,
    last_opening,
    worst,
)
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Cause, Op, State
from keyserver._http.console import _security
from keyserver._http.console._documents import (
    CERTIFICATE,
    MEDIUM_REPORT,
    file_name,
    verify_command,
)
from keyserver._http.console._page import Page, SignedInPage
from keyserver._http.console._report_told import (
    before_told,
    legend_answers,
    manager_view,
    read_answer,
    told_view,
)
from keyserver._http.console._routes_media import medium_url

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_MAX_SEQ_DIGITS = 18  # an audit sequence number (BIGINT); longer is not one
# The most table rows (attempts and changes) a container's section may have and still be
# kept on one printed A4 page (issue 12, thirteenth session: a short section split across
# two pages). Its facts, headings and two table headers take about a third of the page; a
# row is about 5 mm in 9 pt, more with a long reason that wraps: 25 leaves room. A longer
# section is not kept whole (Chromium would move it to the next page, leaving most of the
# page before it empty); its tables repeat their header, under its name, on each page.
PRINT_KEEP_ROWS = 25


def keeps_whole(container: dict[str, Any]) -> bool:
    """Whether ``container``'s section of the report is kept on one printed page."""
    return len(container["attempts"]) + len(container["state_changes"]) <= PRINT_KEEP_ROWS


def _download(doc: dict[str, Any], name: str) -> Response:
    return Response(
        json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def print_margin(page: Page, medium: str, generated_at: datetime) -> dict[str, str]:
    """What the margin of every printed page of the report says (issue 12).

    The report's title, when it was prepared (in the configured zone, with its offset),
    the zone every time is shown in (the screen's footer note: printed after the report,
    it made a page of its own, issue 12) and "Page N of M". The margin is drawn by the
    stylesheet (console.css, ``@page``), where only CSS counters can count pages: the
    catalogue's "Page ... of ..." is cut at its two numbers into the texts before,
    between and after them. base.html writes each text as
    a ``data-print-*`` attribute of the root element, which the stylesheet reads; no inline
    style, which the console's CSP refuses. Every translation names the page before the
    count of pages.
    """
    numbering = N_("Page %(page)s of %(pages)s", page="\x00", pages="\x01").text(page.language)
    before, _, rest = numbering.partition("\x00")
    between, _, after = rest.partition("\x01")
    return {
        "title": N_("Medium report: %(medium)s", medium=medium).text(page.language),
        "prepared": N_("Prepared %(at)s", at=page.formats.datetime(generated_at)).text(
            page.language
        ),
        "zone": N_(
            "Times are shown in %(zone)s (UTC%(offset)s).",
            zone=page.formats.zone_name(),
            offset=page.formats.offset(),
        ).text(page.language),
        "page-before": before,
        "page-between": between,
        "page-after": after,
    }


# Between the printed reason and the internal note in the internal reason the console
# records (_routes_loss: "reason / note"); read back by internal_note for the report.
NOTE_SEPARATOR = " / "


def with_note(reason: str, note: str) -> str:
    """The internal reason the console records: the printed reason, then the note if any.

    Issue 12, fifteenth session (the lead's decision): the one reason typed is the public
    one, and the internal note, which can name people, is added to the internal reason
    only, never printed nor shown to readers.
    """
    return f"{reason}{NOTE_SEPARATOR}{note}" if note else reason


def internal_note(reason: str | None, public_reason: str | None) -> str | None:
    """What a change's internal reason says beyond its public one, for the screen only.

    Issue 12, sixteenth session: the report's column on screen was headed "Internal
    reason" (内部向けの理由) while the paper's is the public one, and a Japanese reader was
    alarmed just before printing. The screen now shows what the paper prints, and apart
    from it what is never printed: the note the console added (:func:`with_note`), or the
    whole internal reason where it is another text (a command's ``--reason`` beside its
    ``--public-reason``); None when it says nothing more.
    """
    if not reason or reason == public_reason:
        return None
    if public_reason and reason.startswith(public_reason + NOTE_SEPARATOR):
        return reason.removeprefix(public_reason + NOTE_SEPARATOR) or None
    return reason


def loss_reasons(containers: list[dict[str, Any]]) -> list[str]:
    """The printed reasons of the loss reports in the report's window, each once, in order.

    For page 1 of the report (issue 12, sixteenth session: a manager reads page 1, and the
    reason was only in the tables of the pages after it). A loss report's suspension is a
    change with the cause ``loss-report`` (spec §report ``state_changes``); a medium reported
    again may carry two.
    """
    found = sorted(
        (ch["seq"], ch["public_reason"])
        for c in containers
        for ch in c["state_changes"]
        if ch["action"] == Op.SUSPEND.value
        and ch.get("cause") == Cause.LOSS_REPORT.value
        and ch["public_reason"]
    )
    return list(dict.fromkeys(reason for _, reason in found))


def reasons_printed(containers: list[dict[str, Any]]) -> bool:
    """Whether the paper prints the changes tables' Reason column.

    Only when a change says a public reason page 1 does not (loss_reasons): the loss
    report's is on page 1, and printed again on every container's row it was read four
    times on a medium of three (issue 12, seventeenth session's newcomer runs); none
    given anywhere, the column said "none given" on every row (fourteenth session). On
    screen the column stays, with the internal note apart.
    """
    said = set(loss_reasons(containers))
    return any(
        ch.get("public_reason") and ch["public_reason"] not in said
        for c in containers
        for ch in c["state_changes"]
    )


def _to_the_second(at: datetime | str) -> datetime:
    """A release's time as the console shows it: whole seconds."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.replace(microsecond=0)


def close_view(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Reader key releases just before a time of loss, as the console says them.

    The review's question (the time typed, not reported yet) and the medium report's
    caution under its answer (the time reported) read the same view.

    Issue 12, fourteenth session: a clerk's opening seconds before the time of loss the
    official was given, and another container's unconfirmed release in the same second,
    decide the answer (spec §report: a release at or after the time of loss counts). The
    service finds them and the answers either side (close_releases.releases_close_before);
    here they are put as the page says them: each event (a confirmed opening, a key
    release whose opening was not confirmed before the time of loss) once, in time order,
    at its own time (sixteenth session: an opening at 17:40:15 and a wrong password at
    17:40:50 on one container read "opened at 17:40:50"), with its container's label and
    the answer it gets if the medium was lost before that event, and the medium's answer
    as typed. No gap in seconds: between the times as shown it read "0 s" for 05:06:59
    and 05:07:00 (second newcomer pair).
    """
    close = doc.get("close_to_loss")
    if close is None:
        return None
    labels = {c["container_id"]: c["label"] for c in doc["containers"]}
    containers = sorted(
        (
            {
                "container_id": cid,
                "label": labels[cid],
                # Had it been lost before the first of them.
                "answer": close["before"][cid],
                "opened": _event(cid, labels[cid], r["opened"], confirmed=True),
                "released": _event(cid, labels[cid], r["released"], confirmed=False),
            }
            for cid, r in close["releases"].items()
        ),
        # In the order of their first event (the review's "before" row lists them so).
        key=lambda c: min(str(e["at"]) for e in (c["opened"], c["released"]) if e is not None),
    )
    # Times are RFC 3339 UTC of one form: in time order as text.
    events = sorted(
        (e for c in containers for e in (c["opened"], c["released"]) if e is not None),
        key=lambda e: str(e["at"]),
    )
    # To the second, as the page shows it: the clerk's opening and a wrong password tried a
    # fraction of a second later read "was given its key" (third newcomer pair of the
    # fourteenth session), though the page shows both at 05:41:27.
    last = max(events, key=lambda e: (_to_the_second(e["at"]), e["confirmed"]))
    opened = [e for e in events if e["confirmed"]]
    # Each event after which the medium lost would change its container's answer.
    differing = [e for e in events if e["answer"] != close["as_typed"][e["container_id"]]]
    return {
        "first_at": close["first_at"],
        "last_at": close["last_at"],
        "as_typed": worst(close["as_typed"].values()),
        # The medium's answer had it been lost before them, and the event the report's
        # one-line caution names: the last confirmed opening, else the last release (lost
        # before it, the answer is at least what that release makes it: the same worst).
        "before": worst(close["before"].values()),
        "named": (opened or events)[-1],
        # Per container (the report's boxes: each of its two events on its own row).
        "containers": containers,
        "events": events,
        # The review's question names the latest one (who, when: "lost after that?" is
        # then the time typed), a confirmed opening first within the same second ("opened
        # it" says more than "was given its key"); each answer's detail, only the
        # events whose container's answer an earlier loss would change (second newcomer
        # pair: every line was read).
        "last": last,
        "differing": differing,
        "asked": _asked(differing or [last], close["first_at"]),
    }


def close_to_loss(page: Page, doc: dict[str, Any]) -> dict[str, Any] | None:
    """close_view for the time of loss a medium report ``doc`` counts from (None: none)."""
    if not doc["lost_at"]:
        return None
    lost_at = datetime.fromisoformat(str(doc["lost_at"]))
    near = page.service.console_medium(page.principal, doc["medium"], lost_at=lost_at, ctx=page.ctx)
    return close_view(near)


def _event(
    cid: str, label: str, event: dict[str, Any] | None, *, confirmed: bool
) -> dict[str, Any] | None:
    """One close event as the pages say it: its container, and whether it is an opening."""
    if event is None:
        return None
    return {**event, "container_id": cid, "label": label, "confirmed": confirmed}


def confirmed(event: dict[str, Any]) -> bool:
    """Whether a close event's opening was confirmed by its reader's receipt (spec §receipt).

    An opening is; a key release is when its receipt came after the time of loss
    (``confirmed_at``, close_releases.releases_close_before).
    """
    return bool(event["confirmed"] or event.get("confirmed_at"))


def _asked(releases: list[dict[str, Any]], first_release: str) -> dict[str, Any]:
    """What the review's question names, in one line, and its detail by container.

    Issue 12, sixteenth session: the question said a sentence per person and second,
    each container's label in it, and the "before" row listed the labels again with their
    answers; the review page was the longest read of the newcomers' story (485 and 384
    characters in Japanese, a third of their time). The question now names when (the
    first event to the last, as shown: "lost after that?" is after the last), to whom,
    and the container when there is one, else how many containers' keys; each event
    (which container, opening confirmed or not, the answer it gets if the medium was lost
    before it) is folded under the answers. ``releases``: the events whose container an
    earlier loss would change (``differing``), in time order; the actors in order of
    their first event and the labels in order of their container's first, each once.
    The span starts at ``first_release``, the first close key release (the service's
    ``first_at``), as the "Not sure" button does (sixteenth session's Japanese newcomer:
    "11:22:35" in the question beside "from 11:22:34" on the button); an opening's event
    is at the key release it confirms (medium_report.said_at: seventeenth session,
    "12:37:52 to 12:37:53" for one opening).
    """
    return {
        "actors": list(dict.fromkeys(str(e["actor"]) for e in releases)),
        # By container (two may share a label), each container once, as first met.
        "labels": list({e["container_id"]: str(e["label"]) for e in releases}.values()),
        # Containers whose opening the reader's receipt confirmed, before the time of loss
        # or after it (``confirmed_at``, spec §receipt): the question says "opened
        # (confirmed)" for them (seventeenth session: "key released" undersold an opening
        # the report then answers Opened).
        "opened": len({e["container_id"] for e in releases if confirmed(e)}),
        "first_at": first_release,
        "last_at": releases[-1]["at"],
        "rows": releases,
    }


def _own_loss_reports(page: Page, medium: str, before_seq: int | None) -> list[dict[str, Any]]:
    """This official's loss reports of the medium in the audit log, newest first."""
    entries = page.service.console_audit(
        page.principal,
        action=Op.SUSPEND.value,
        medium=medium,
        before_seq=before_seq,
        ctx=page.ctx,
    )["entries"]
    return [
        e
        for e in entries
        if e["actor"] == page.principal.name
        and e["outcome"] == "ok"
        and e["details"].get("loss_report") is True
        and e["details"].get("target") == medium
    ]


def reported_seq(page: Page, medium: str) -> int | None:
    """The audit entry of the loss report this official just made (for the banner)."""
    own = _own_loss_reports(page, medium, None)
    return int(own[0]["seq"]) if own else None


def loss_banner(page: Page, medium: str, reported: str) -> dict[str, Any] | None:
    """What a loss report did, for the banner on top of the report (issue 12).

    The one-time result after "Report lost" is named by its audit entry's sequence
    number in the URL; everything shown is read back from that entry (the one record
    the report made, spec §loss), and only when it is this official's loss report of
    this medium: a tampered number shows no banner, never someone else's text.
    """
    if not reported.isascii() or not reported.isdigit() or len(reported) > _MAX_SEQ_DIGITS:
        return None
    seq = int(reported)
    own = _own_loss_reports(page, medium, seq + 1)
    if not own or own[0]["seq"] != seq:
        return None
    return {"at": own[0]["at"], **own[0]["details"]}


@router.get("/medium/report")
def medium_report(page: SignedInPage, name: str = "", reported: str = "") -> Response:
    """The medium report: the three-way answer, every attempt and change; printable on A4."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        banner = loss_banner(page, doc["medium"], reported) if reported else None
        generated_at = page.service.now()
        destroyed = any(c["state"] == State.DESTROYED.value for c in doc["containers"])
        # The review's view of reader key releases just before the time of loss (issue 12,
        # fourteenth session): read for the time reported, as the review read it typed.
        close = close_to_loss(page, doc)
        depends, depends_each = depends_views(doc)
        return page.render(
            "report.html",
            doc=doc,
            # The answer first (issue 12); the JSON and signed documents keep id order.
            containers=answer_first(doc["containers"]),
            keeps_whole=keeps_whole,
            last_before=last_opening(doc["containers"]) if doc["lost_at"] else None,
            close=close,
            told=told_view(doc),
            read_answer=read_answer,
            depends=depends,
            headline_v=headline_view(doc),
            depends_each=depends_each,
            # A container reads "depends" whenever the medium does (its worst answer's).
            legend_depends=any(read_answer(c) == DEPENDS for c in doc["containers"]),
            legend=legend_answers(doc["containers"], close),
            before_told=before_told,
            manager=manager_view(doc["containers"]),
            # Each container's own release just before the time of loss, for its box.
            close_release={c["container_id"]: c for c in close["containers"]} if close else {},
            public_reasons=reasons_printed(doc["containers"]),
            loss_reasons=loss_reasons(doc["containers"]),
            internal_note=internal_note,
            print_margin=print_margin(page, doc["medium"], generated_at),
            generated_at=generated_at,
            banner=banner,
            verify=verify_command(page, MEDIUM_REPORT, doc["medium"]),
            verify_certificate=verify_command(page, CERTIFICATE, doc["medium"])
            if destroyed
            else None,
        )

    return page.act(body, medium_url(name))


@router.get("/medium/report.json")
def medium_report_json(page: SignedInPage, name: str = "") -> Response:
    """The same report as JSON (RFC 3339 UTC), as a download."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        return _download(doc, file_name("medium-report-unsigned", doc["medium"]))

    return page.act(body, medium_url(name))


@router.get("/medium/signed/{kind}")
def signed_document(page: SignedInPage, kind: str, name: str = "") -> Response:
    """The signed medium report or destruction certificate (KeyService.signed_report)."""

    def body() -> Response:
        if kind not in {MEDIUM_REPORT, CERTIFICATE}:
            raise page.invalid(N_("There is no such document."))
        doc = page.service.signed_report(page.principal, kind, name, ctx=page.ctx)
        medium = str(doc["body"]["statement"]["medium"])
        return _download(doc, file_name(kind, medium))

    return page.act(body, medium_url(name, "/report"))
