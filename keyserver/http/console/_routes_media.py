"""The medium pages: overview, search, a medium, loss report, restore, destroy, report.

The loss report has a confirmation page listing every container it will affect; destroy
now needs the medium's name typed; the report is printable (A4) and downloadable (JSON).

Every action calls the same service method as the HTTP API, with the signed-in
principal as actor: it is checked and audited exactly like the API call.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import Response

from keyserver.domain.errors import InvalidRequestError
from keyserver.domain.lifecycle import TRANSITIONS, Op, State
from keyserver.http.console import _security
from keyserver.http.console._page import Page, PostedPage, SignedInPage
from keyserver.http.console._routes_approvals import approvals_page

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_HOUR = timedelta(hours=1)


def medium_url(medium: str, view: str = "") -> str:
    """The console URL of a medium's page (or one of its views)."""
    return f"{_security.PREFIX}/medium{view}?name={quote(medium, safe='')}"


def _effect(state: str, op: Op) -> str:
    """What an operation does to a container in ``state`` (lifecycle.TRANSITIONS)."""
    sources, _target = TRANSITIONS[op]
    if State(state) in sources:
        return "changes"
    if op is Op.SUSPEND and state == State.SUSPENDED.value:
        return "deadline"  # already suspended: gets the destroy deadline (report_loss)
    return "unchanged"


@router.get("/overview")
def overview(page: SignedInPage) -> Response:
    """Counts by state, recent loss reports, budget suspensions, audit chain status."""
    if not page.is_oversight:
        return page.render("admin_only.html")

    def body() -> Response:
        doc = page.service.console_overview(page.principal, ctx=page.ctx)
        chain = page.service.audit_verify(page.principal, ctx=page.ctx)
        return page.render("overview.html", doc=doc, chain=chain)

    return page.act(body)


@router.get("/search")
def search(page: SignedInPage, q: str = "", state: str = "") -> Response:
    """Partial, case-insensitive search over label, medium, issuer and container id."""

    def body() -> Response:
        result = None
        if q.strip() or state:
            result = page.service.console_find(
                page.principal,
                q,
                state or None,
                ctx=page.ctx,
            )
        return page.render(
            "search.html", q=q, state=state, result=result, states=[s.value for s in State]
        )

    return page.act(body, _security.PREFIX + "/search")


@router.get("/medium")
def medium(page: SignedInPage, name: str = "") -> Response:
    """A medium's containers and states, with its actions."""

    def body() -> Response:
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        states = {c["state"] for c in doc["containers"]}
        return page.render(
            "medium.html",
            doc=doc,
            can_report=bool(states & {State.ACTIVE.value, State.SUSPENDED.value}),
            can_restore=State.SUSPENDED.value in states,
            can_destroy=bool(states - {State.DESTROYED.value}),
            default_wait_hours=_hours(page.service.settings.loss_waiting_period),
        )

    return page.act(body, _security.PREFIX + "/search")


def _hours(period: timedelta) -> int:
    return int(period / _HOUR)


def _loss_fields(page: Page) -> dict[str, Any]:
    """The loss report's fields from the form, checked as far as the form can be."""
    form = page.form
    wait_text = form.get("waiting_hours", "").strip()
    if not wait_text.isascii() or not wait_text.isdigit() or len(wait_text) > 6:
        raise InvalidRequestError("the waiting period must be a whole number of hours")
    reason = form.get("reason", "").strip()
    if not reason:
        raise InvalidRequestError("the internal reason is required")
    return {
        "name": form.get("name", ""),
        "waiting_hours": int(wait_text),
        "reason": reason,
        "public_reason": form.get("public_reason", "").strip(),
    }


@router.post("/medium/report-lost")
def report_lost(page: PostedPage) -> Response:
    """Step 1 of a loss report: list every container it will affect; act on nothing."""

    def body() -> Response:
        fields = _loss_fields(page)
        doc = page.service.console_medium(page.principal, fields["name"], ctx=page.ctx)
        affected = [{**c, "effect": _effect(c["state"], Op.SUSPEND)} for c in doc["containers"]]
        deadline = page.service.now() + timedelta(hours=fields["waiting_hours"])
        return page.render(
            "confirm_loss.html",
            fields=fields,
            containers=affected,
            changing=sum(1 for c in affected if c["effect"] != "unchanged"),
            deadline=deadline,
        )

    return page.act(body, medium_url(page.form.get("name", "")))


@router.post("/medium/report-lost/confirm")
def report_lost_confirm(page: PostedPage) -> Response:
    """Step 2: report the medium lost (KeyService.report_loss, audited as the official)."""

    def body() -> Response:
        fields = _loss_fields(page)
        result = page.service.report_loss(
            page.principal,
            fields["name"],
            reason=fields["reason"],
            public_reason=fields["public_reason"] or None,
            waiting_period=timedelta(hours=fields["waiting_hours"]),
            ctx=page.ctx,
        )
        if result.get("approval_required"):  # an early destroy: a second official decides
            return approvals_page(page, created=result["approval"])
        doc = page.service.console_medium(page.principal, fields["name"], ctx=page.ctx)
        return page.render("done.html", what="loss", result=result, doc=doc)

    return page.act(body, medium_url(page.form.get("name", "")))


@router.post("/medium/restore")
def restore(page: PostedPage) -> Response:
    """Restore a found medium's suspended containers (KeyService.change_state)."""

    def body() -> Response:
        name = page.form.get("name", "")
        reason = page.form.get("reason", "").strip()
        if not reason:
            raise InvalidRequestError("the reason is required")
        result = page.service.change_state(
            page.principal,
            Op.RESTORE,
            "medium",
            name,
            reason,
            ctx=page.ctx,
        )
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        return page.render("done.html", what="restore", result=result, doc=doc)

    return page.act(body, medium_url(page.form.get("name", "")))


@router.get("/medium/destroy")
def destroy_form(page: SignedInPage, name: str = "") -> Response:
    """Destroy now: every container it will erase, and a typed confirmation."""

    def body() -> Response:
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        affected = [{**c, "effect": _effect(c["state"], Op.DESTROY)} for c in doc["containers"]]
        return page.render(
            "confirm_destroy.html",
            doc=doc,
            containers=affected,
            changing=sum(1 for c in affected if c["effect"] == "changes"),
            mismatch=False,
        )

    return page.act(body, medium_url(name))


@router.post("/medium/destroy")
def destroy(page: PostedPage) -> Response:
    """Destroy a medium's keys now (crypto-erasure; KeyService.change_state)."""

    def body() -> Response:
        name = page.form.get("name", "")
        reason = page.form.get("reason", "").strip()
        if page.form.get("typed", "") != name:
            doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
            affected = [{**c, "effect": _effect(c["state"], Op.DESTROY)} for c in doc["containers"]]
            return page.render(
                "confirm_destroy.html",
                status=400,
                doc=doc,
                containers=affected,
                changing=sum(1 for c in affected if c["effect"] == "changes"),
                mismatch=True,
            )
        if not reason:
            raise InvalidRequestError("the reason is required")
        result = page.service.change_state(
            page.principal,
            Op.DESTROY,
            "medium",
            name,
            reason,
            ctx=page.ctx,
        )
        if result.get("approval_required"):  # spec §approvals: a second official decides
            return approvals_page(page, created=result["approval"])
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        return page.render("done.html", what="destroy", result=result, doc=doc)

    return page.act(body, medium_url(page.form.get("name", "")))


def answer_of(container: dict[str, Any]) -> str:
    """The three-way answer for one container of a medium report.

    ``opened``: a key release confirmed by a receipt after the loss; ``possibly``: a key
    was released and no receipt came (the password may have been right);
    ``not_opened``: no key was released; ``no_loss``: no loss was reported.
    """
    if container.get("loss_reported_at") is None:
        return "no_loss"
    attempts = container.get("attempts", [])
    if any(a["action"] == "receipt" and a["outcome"] == "ok" for a in attempts):
        return "opened"
    if any(a["action"] == "evaluate" and a["outcome"] == "ok" for a in attempts):
        return "possibly"
    return "not_opened"


_WORST = ("opened", "possibly", "not_opened", "no_loss")


@router.get("/medium/report")
def medium_report(page: SignedInPage, name: str = "") -> Response:
    """The medium report: the three-way answer, every attempt; printable on A4."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        if not doc["containers"]:
            # A typo must not read as "not opened": show the nearest media instead.
            page.service.console_medium(page.principal, name, ctx=page.ctx)
        answers = [answer_of(c) for c in doc["containers"]]
        headline = min(answers, key=_WORST.index) if answers else "no_loss"
        return page.render(
            "report.html",
            doc=doc,
            rows=list(zip(doc["containers"], answers, strict=True)),
            headline=headline,
            generated_at=page.service.now(),
        )

    return page.act(body, medium_url(name))


@router.get("/medium/report.json")
def medium_report_json(page: SignedInPage, name: str = "") -> Response:
    """The same report as JSON (RFC 3339 UTC), as a download."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name)[:60]
        return Response(
            json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="medium-report-{safe}.json"'},
        )

    return page.act(body, medium_url(name))
