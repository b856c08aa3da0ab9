"""A container's page with its attempt count's reset; the audit log: filter, verify, export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response, StreamingResponse

from keyserver._domain.i18n import N_
from keyserver._http.console import _security
from keyserver._http.console._page import Page, PostedPage, SignedInPage

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_HISTORY_LIMIT = 500


def _container_page(page: Page, cid: str, reset: dict[str, Any] | None = None) -> Response:
    doc = page.service.status(page.principal, cid, ctx=page.ctx)
    history = page.service.audit_list(
        page.principal, container=cid, limit=_HISTORY_LIMIT, ctx=page.ctx
    )
    return page.render("container.html", doc=doc, history=history["entries"], reset=reset)


@router.get("/container/{cid}")
def container(page: SignedInPage, cid: str) -> Response:
    """A container's status, policy and its history from the audit log."""
    return page.act(lambda: _container_page(page, cid), _security.PREFIX + "/search")


@router.post("/container/{cid}/reset-budget")
def reset_budget(page: PostedPage, cid: str) -> Response:
    """Reset an active container's attempt count, after a confirmation that names it.

    Issue 12: a container whose last attempt was the right password stays one unconfirmed
    attempt from suspending itself (spec §receipt). The first post shows what the reset
    affects (the container, its count, whose attempts); the second, confirmed and with a
    reason, calls the service's reset (the API's own call, audited with the official).
    """

    def body() -> Response:
        if page.form.get("confirmed") != "yes":
            doc = page.service.status(page.principal, cid, ctx=page.ctx)
            held = page.service.unconfirmed_attempts(page.principal, cid, ctx=page.ctx)
            return page.render("confirm_reset.html", doc=doc, held=held)
        reset = page.service.reset_budget(
            page.principal, cid, page.form.get("reason", "").strip(), ctx=page.ctx
        )
        return _container_page(page, cid, reset)

    return page.act(body, f"{_security.PREFIX}/container/{cid}")


@router.get("/audit")
def audit(  # noqa: PLR0917 - the page's filters
    page: SignedInPage,
    actor: str = "",
    action: str = "",
    container: str = "",
    medium: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
) -> Response:
    """The audit log, newest first, filtered by actor, action, container, medium, time."""
    filters = {
        "actor": actor,
        "action": action,
        "container": container,
        "medium": medium,
        "since": since,
        "until": until,
    }

    def body() -> Response:
        result = page.service.console_audit(
            page.principal,
            actor_name=actor.strip() or None,
            action=action.strip() or None,
            container=container.strip() or None,
            medium=medium.strip() or None,
            since=page.local_time(since, N_("From")),
            until=page.local_time(until, N_("Until")),
            before_seq=before,
            ctx=page.ctx,
        )
        return page.render("audit.html", filters=filters, result=result, verify=None)

    return page.act(body, _security.PREFIX + "/audit")


@router.get("/audit/verify")
def audit_verify(page: SignedInPage) -> Response:
    """Verify the keyed hash chain of the whole log."""

    def body() -> Response:
        verify = page.service.audit_verify(page.principal, ctx=page.ctx)
        return page.render("verify.html", verify=verify)

    return page.act(body, _security.PREFIX + "/audit")


@router.get("/audit/export")
def audit_export(page: SignedInPage) -> Response:
    """The whole log as JSON lines (with hashes), as a download."""

    def body() -> Response:
        lines = page.service.audit_export(page.principal, ctx=page.ctx)
        first = next(lines, "")  # runs the role check before the 200 is sent

        def stream() -> object:
            yield first
            yield from lines

        return StreamingResponse(
            stream(),  # type: ignore[arg-type]
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="audit-log.jsonl"'},
        )

    return page.act(body, _security.PREFIX + "/audit")
