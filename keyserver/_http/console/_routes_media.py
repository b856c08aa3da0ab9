"""Finding a medium: overview, the media list, search, and a medium's page.

Each page shows what the service answers (counts per state from the media listing, the
medium matched by its canonical id with "did you mean" on a typo); the actions on a
medium are in _routes_loss.py, its report in _routes_report.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.answers import answer_first
from keyserver._domain.i18n import N_, Message
from keyserver._domain.lifecycle import RESTORE_CAUSES, Cause, State
from keyserver._domain.media import medium_search_key
from keyserver._domain.validation import REASON_MAX
from keyserver._http.console import _security
from keyserver._http.console._documents import CERTIFICATE, verify_command
from keyserver._http.console._page import Page, SignedInPage, redirect

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
# The causes a restore may name, the default (a found medium) first (spec §lifecycle).
CAUSES = (Cause.LOSS_REPORT.value, *sorted(RESTORE_CAUSES - {Cause.LOSS_REPORT.value}))


def medium_url(medium: str, view: str = "") -> str:
    """The console URL of a medium's page (or one of its views)."""
    return f"{_security.PREFIX}/medium{view}?name={quote(medium, safe='')}"


@router.get("/overview")
def overview(page: SignedInPage) -> Response:
    """Counts by state, recent loss reports, budget suspensions, audit chain status."""
    if not page.is_oversight:
        return page.render("admin_only.html")

    def body() -> Response:
        doc = page.service.console_overview(page.principal, ctx=page.ctx)
        # Incremental (issue 12): only the entries after the last verified head, a bounded
        # slice per load; the full verification is its own action (/console/audit/verify).
        chain = page.service.audit_chain_status(page.principal, ctx=page.ctx)
        return page.render("overview.html", doc=doc, chain=chain)

    return page.act(body)


@router.get("/media")
def media(page: SignedInPage, after: str = "") -> Response:
    """Every medium with its containers per state (KeyService.media_list)."""

    def body() -> Response:
        doc = page.service.media_list(page.principal, after=after or None, ctx=page.ctx)
        return page.render("media.html", doc=doc, states=[s.value for s in State])

    return page.act(body, _security.PREFIX + "/overview")


# The search words carried to the medium's page to say what matched: a search box's
# length, so a crafted link cannot fill the page.
_FOUND_MAX = 100


@router.get("/search")
def search(page: SignedInPage, q: str = "", state: str = "") -> Response:
    """Partial, case-insensitive search over label, medium, issuer and container id."""

    def body() -> Response:
        result = None
        if q.strip() or state:
            result = page.service.console_find(page.principal, q, state or None, ctx=page.ctx)
            only = _the_one_medium(q, state, result)
            if only is not None:
                # Issue 12: a search for a medium's name that finds that medium and
                # nothing else goes straight to it (a page and a click fewer); any other
                # match (a label, an issuer, a second medium) keeps the list to choose from.
                # The medium's page says what was searched for (eighth newcomer run: a
                # page that just appeared left the official unsure the search had run).
                found = quote(q.strip()[:_FOUND_MAX], safe="")
                return redirect(f"{medium_url(only)}&found={found}")
        return page.render(
            "search.html", q=q, state=state, result=result, states=[s.value for s in State]
        )

    return page.act(body, _security.PREFIX + "/search")


def _the_one_medium(q: str, state: str, result: Mapping[str, Any]) -> str | None:
    """The medium a search named, when every container it found is on that one medium."""
    media = result["media"]
    if state or result["truncated"] or len(media) != 1:
        return None
    name = str(media[0]["medium"])
    if any(c["medium"] != name for c in result["containers"]):
        return None
    # Matched by its name (as the service matches it, spec §media), not only by a label.
    needle, loose = q.strip().casefold(), medium_search_key(q)
    if needle in name.casefold() or (loose and loose in medium_search_key(name)):
        return name
    return None


# Issue 12: the reasons most loss reports give, one click each (radio buttons: no script
# needed, where a datalist's suggestions showed only after a click into the field and a
# newcomer typed the reason through the IME instead). Details typed beside them are added
# to the choice (_routes_loss.internal_reason); the audit log keeps the words the official
# saw, in their language.
# Short enough that the three fit on one line in either language (issue 12: in English
# they wrapped and pushed the form's button below the fold at 1366x768). What happened,
# not who reported it (seventeenth session: "Lost by the contractor / in a city office /
# stolen" fitted no bag left on a train, and both newcomers hesitated); a report keeps the
# words it was made with, so this changes new reports only.
COMMON_REASONS: Mapping[str, Message] = {
    "outside": N_("Lost outside the office (e.g. in transit)"),
    "office": N_("Lost in a city office"),
    "stolen": N_("Stolen"),
}


def medium_page(
    page: Page,
    name: str,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Sequence[tuple[str, str]] = (),
    status: int = 200,
    found: str = "",
    edit_time: bool = False,
    lost_before: datetime | None = None,
) -> Response:
    """A medium's page; after a refused loss report, with what was typed and why, on the form.

    ``edit_time``: back from the review to change the time of loss (the cursor in it);
    ``lost_before``: the time the review asked about, when the official answered that the
    medium was lost before it (said under the field).

    Issue 12: a separate error page whose Back link lost the typed reasons made a newcomer
    type everything again; the form keeps every field and says what to fix above it.
    A medium whose loss report holds leads with that state and the medium report; the
    loss form is then a folded secondary action (a report again), opened when it came
    back refused.
    """
    # With each container's answer when a loss is recorded (issue 12: the answers order
    # the rows after a report; the medium report itself is not built for that).
    doc = page.service.console_medium(page.principal, name, answers=True, ctx=page.ctx)
    states = set(doc["states"])
    live = states - {State.DESTROYED.value}
    reported = doc["loss"] == "current"
    default_wait = int(page.service.settings.loss_waiting_period.total_seconds()) // 3600
    return page.render(
        "medium.html",
        status=status,
        doc=doc,
        containers=answer_first(doc["containers"]) if reported else _by_state(doc),
        reported=reported,
        can_report=bool(live),
        can_restore=State.SUSPENDED.value in states,
        can_destroy=bool(live),
        verify_certificate=verify_command(page, CERTIFICATE, doc["medium"])
        if State.DESTROYED.value in states
        else None,
        causes=CAUSES,
        # The time of loss starts empty: a prefilled "now" was submitted unchanged by an
        # official in a hurry, moving the start of the report's window to the wrong time.
        typed={
            "lost_at": "",
            "waiting_hours": str(default_wait),
            "reason": "",
            "reason_common": "",
            "note": "",
            # Ticked: a time told by phone is approximate (_loss_question.approximate).
            "approximate": "1",
            **(typed or {}),
        },
        report_again_open=typed is not None,
        # (field, text) of every field to fix, in the form's order (issue 12).
        loss_errors=list(errors),
        bad_fields=[field for field, _ in errors],
        default_wait=str(default_wait),
        common_reasons={key: m.text(page.language) for key, m in COMMON_REASONS.items()},
        # The service's limit on a reason (spec §conventions), for the form's maxlength.
        reason_max=REASON_MAX,
        sealed=_sealed(page, doc["containers"]),
        # The loss form's example (its label), one it reads as today.
        time_example=page.clock_example(),
        found=found,
        edit_time=edit_time,
        lost_before=lost_before,
    )


def _sealed(page: Page, containers: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """When and by whom a medium's containers were sealed, to recognise the stick lost.

    Issue 12, console47: newcomers, told "the June 2022 export, on a USB stick ending
    0417", looked on the medium's page for the export's date and its writer, which only
    each container's page gave. The first and last days (the same day: one), in the
    configured zone, and every writer (the issuer) by name, as the audit log names them.
    """
    if not containers:
        return None
    times = sorted(datetime.fromisoformat(c["created_at"]) for c in containers)
    first, last = (page.formats.date(t) for t in (times[0], times[-1]))
    return {
        "first": first,
        "last": last if last != first else None,
        "writers": sorted({str(c["issuer"]) for c in containers}),
    }


def _by_state(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Before a loss report: the containers by state (the lifecycle's order), then label."""
    order = {s.value: i for i, s in enumerate(State)}
    return sorted(doc["containers"], key=lambda c: (order.get(c["state"], len(order)), c["label"]))


@router.get("/medium")
def medium(page: SignedInPage, name: str = "", found: str = "") -> Response:
    """A medium's containers and states, with its actions.

    ``found``: the search that led straight here (said in one line, escaped as any text).
    """

    def body() -> Response:
        return medium_page(page, name, found=found[:_FOUND_MAX])

    return page.act(body, _security.PREFIX + "/search")
