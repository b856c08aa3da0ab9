"""Approvals: requests for irreversible actions awaiting a second official (spec §approvals).

One page lists the pending requests with what each will affect; an official (an admin for
token requests) approves one made by someone else, which carries it out, or rejects it.
The service decides who may (never the requester); the page only shows and asks. A gated
action elsewhere in the console (destroy now, a token for an official) lands here with
"request N created, awaiting a second official".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_
from keyserver._http.console import _security
from keyserver._http.console._page import Page, PostedPage, SignedInPage

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
BACK = _security.PREFIX + "/approvals"


def approvals_page(
    page: Page,
    *,
    status: int = 200,
    created: dict[str, Any] | None = None,
    decided: dict[str, Any] | None = None,
) -> Response:
    """The pending requests, and a notice about the one just made or decided."""
    pending = page.service.list_approvals(page.principal, state="pending", ctx=page.ctx)
    return page.render(
        "approvals.html",
        status=status,
        requests=pending["approvals"],
        created=created,
        decided=decided,
    )


def _number(page: Page) -> int:
    text = page.form.get("id", "")
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise InvalidRequestError(N_("the request number is missing or malformed"))
    return int(text)


@router.get("/approvals")
def approvals(page: SignedInPage) -> Response:
    """Pending requests, each with what it affects and who asked."""
    return page.act(lambda: approvals_page(page))


@router.post("/approvals/approve")
def approve(page: PostedPage) -> Response:
    """Approve a request: it is carried out now, as the signed-in principal."""

    def body() -> Response:
        done = page.service.approve(page.principal, _number(page), ctx=page.ctx)
        return approvals_page(page, decided=done)

    return page.act(body, BACK)


@router.post("/approvals/reject")
def reject(page: PostedPage) -> Response:
    """Reject a request (the requester may withdraw their own)."""

    def body() -> Response:
        reason = page.form.get("reason", "").strip()
        if not reason:
            raise InvalidRequestError(N_("the reason is required"))
        done = page.service.reject(page.principal, _number(page), reason, ctx=page.ctx)
        return approvals_page(page, decided=done)

    return page.act(body, BACK)
