"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.errors import ForbiddenError, KeyServerError, UnauthenticatedError
from keyserver._http.console import _i18n, _security
from keyserver._http.console._page import Form, PostedPage, PublicPage, redirect

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_PRE_COOKIE_AGE = 3600
_LANG_COOKIE_AGE = 365 * 24 * 3600


@router.get("")
@router.get("/")
def home() -> Response:
    """The console's front door: the overview (which asks to sign in when needed)."""
    return redirect(_security.PREFIX + "/overview")


def _sign_in_form(page: PublicPage, status: int = 200, problem: str | None = None) -> Response:
    value = secrets.token_urlsafe(32)
    response = page.render(
        "sign_in.html",
        status=status,
        signin_csrf=value,
        next=_security.safe_next(page.request.query_params.get("next")),
        problem=problem,
    )
    _security.set_cookie(
        response, page.request, _security.pre_cookie_name(page.request), value, _PRE_COOKIE_AGE
    )
    return response


@router.get("/sign-in")
def sign_in_form(page: PublicPage) -> Response:
    """The sign-in page: paste an official's, auditor's or admin's token once."""
    return _sign_in_form(page)


@router.post("/sign-in")
def sign_in(page: PublicPage, form: Form) -> Response:
    """Open a server-side session for a token; readers and writers are refused."""
    request = page.request
    expected = request.cookies.get(_security.pre_cookie_name(request), "")
    if not _security.same_origin(request) or not _security.csrf_matches(expected, form.get("csrf")):
        return _sign_in_form(page, 403, "csrf")
    try:
        signed_in = page.service.console_sign_in(form.get("token", "").strip(), ctx=page.ctx)
    except UnauthenticatedError:
        return _sign_in_form(page, 401, "token")
    except ForbiddenError:
        return _sign_in_form(page, 403, "role")
    except KeyServerError as exc:
        return page.error(exc, _security.PREFIX + "/sign-in")
    response = redirect(_security.safe_next(form.get("next")))
    max_age = int(page.service.settings.console_max_age.total_seconds())
    _security.set_cookie(
        response,
        request,
        _security.session_cookie_name(request),
        signed_in.session_id,
        max_age,
    )
    _security.clear_cookie(response, request, _security.pre_cookie_name(request))
    return response


@router.post("/sign-out")
def sign_out(page: PostedPage) -> Response:
    """End the session on the server and in the browser."""
    assert page.actor is not None and page.session_id is not None
    page.service.console_sign_out(page.actor, page.session_id, ctx=page.ctx)
    response = redirect(_security.PREFIX + "/sign-in?signed_out=1")
    _security.clear_cookie(response, page.request, _security.session_cookie_name(page.request))
    return response


@router.get("/language/{language}")
def switch_language(language: str, page: PublicPage, next: str | None = None) -> Response:  # noqa: A002 - the query parameter's name
    """Remember the chosen language (a cookie) and go back to the page."""
    response = redirect(_security.safe_next(next))
    if language in _i18n.LANGUAGES:
        response.set_cookie(
            _security.LANG_COOKIE,
            language,
            max_age=_LANG_COOKIE_AGE,
            path="/",
            secure=page.request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response
