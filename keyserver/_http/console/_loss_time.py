"""The time of loss as the console reads it: the loss form's check, and its live echo.

One reading of a typed time of loss (issue 12, console43): :func:`loss_time` is what the
loss form's review and confirmation accept (_routes_loss._loss_fields), and the echo
beside the field (console.js) asks this module's ``GET /console/loss-time`` how the
server will read what is being typed, so the line under the field can never disagree with
the review: it is the same function's answer, said in the page's language.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse

from keyserver._domain.errors import InvalidRequestError, UnauthenticatedError
from keyserver._domain.i18n import N_
from keyserver._http.console import _security
from keyserver._http.console._page import Page, SignInRequired, signed_in_page, time_alone
from keyserver._http.deps import get_context, get_service
from keyserver._service import KeyService, RequestContext

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)


def loss_time(page: Page, text: str) -> datetime:
    """The time of loss ``text`` means, in the configured zone (Page.local_time).

    Raises:
        InvalidRequestError: Empty, not a time the console reads, or later than now; its
            message says what to type instead.
    """
    lost_at = page.local_time(text, N_("Time of loss"))
    if lost_at is None:
        raise page.invalid(N_("The time of loss is required."))
    if lost_at > page.service.now() and time_alone(text):
        # A time alone is today (issue 12, sixth newcomer run); one later than now is
        # never taken for yesterday: the official types the date, and sees it. The
        # form shows no example any more (eighteenth session): the refusal gives one,
        # the day before with the time typed, in the form the console reads.
        example = (lost_at - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        raise page.invalid(
            N_(
                "%(time)s today is later than now: for an earlier day, type the date"
                " too (e.g. %(example)s).",
                time=text.strip(),
                example=example,
            )
        )
    if lost_at > page.service.now():
        raise page.invalid(N_("The time of loss is in the future."))
    return lost_at


def _signed_in(
    request: Request,
    service: Annotated[KeyService, Depends(get_service)],
    ctx: Annotated[RequestContext, Depends(get_context)],
) -> Page:
    """The page of a signed-in principal; without a session, refused (401), not redirected.

    A script's question, not a page: the sign-in page a redirect leads to would reach the
    script as an answer. Refused as the API refuses, with nothing read.
    """
    try:
        return signed_in_page(request, service, ctx)
    except SignInRequired:
        raise UnauthenticatedError(N_("authentication required")) from None


@router.get("/loss-time")
def echo(
    page: Annotated[Page, Depends(_signed_in)], at: str = "", approximate: str = ""
) -> JSONResponse:
    """How the loss form will read ``at``: ``{"understood": bool, "said": text}``.

    Reads no stored data and changes nothing (the session's idle time aside, as every
    console request), so it is not audited: a report's fields are checked again, by
    :func:`loss_time`, when the form is sent. ``approximate``: the form's box is ticked
    ("1"), said as the review says it ("around ...").
    """
    if not at.strip():
        return JSONResponse({"understood": False, "said": ""})
    try:
        # Any length: the forms are anchored patterns without nested repetition (linear),
        # and the query's size is the HTTP server's limit, as for every page.
        lost_at = loss_time(page, at)
    except InvalidRequestError as exc:
        refusal = exc.message or N_("The time of loss is required.")
        return JSONResponse({"understood": False, "said": refusal.text(page.language)})
    moment = page.formats.said_back(lost_at)
    said = N_("around %(at)s", at=moment) if approximate == "1" else None
    return JSONResponse(
        {"understood": True, "said": "= " + (said.text(page.language) if said else moment)}
    )
