"""The officials' web console under ``/console``: same process, same service layer.

Every page calls :class:`~keyserver._service.KeyService` with the signed-in principal as
actor, so each console action is checked and audited exactly like the same API call.
Templates are Jinja2 (autoescaped), strings go through the gettext catalogues in
``locale/`` (Japanese and English), and every asset is served by the key server itself
(no third-party origin, no build step). Works without JavaScript.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from keyserver._domain.errors import NotFoundError
from keyserver._domain.i18n import N_
from keyserver._http.console import (
    _i18n,
    _loss_time,
    _routes_admin,
    _routes_approvals,
    _routes_audit,
    _routes_loss,
    _routes_media,
    _routes_press,
    _routes_report,
    _routes_session,
)
from keyserver._http.console._page import (
    CsrfRefused,
    PublicPage,
    SignInRequired,
    language_of,
    redirect,
)
from keyserver._http.console._security import HEADERS, PREFIX
from keyserver._http.headers import PathHeaders

STATIC = Path(__file__).resolve().parent / "static"


class _WholeFiles(StaticFiles):
    """The console's assets, always whole: a ``Range`` request gets the full file (200).

    RFC 9110 §14.2 lets a server ignore ``Range``. Starlette answers an unsatisfiable or
    malformed range itself, with an English-only plain-text body (spec §problems: every
    refusal is a problem document with its detail in the client's language); a few
    kilobytes of CSS and script gain nothing from ranges, so none is ever refused.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            drop = (b"range", b"if-range")
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in drop]
            scope = {**scope, "headers": headers}
        await super().__call__(scope, receive, send)


def _not_found(page: PublicPage, rest: str) -> Response:
    """The console's own 404 page."""
    del rest
    return page.error(NotFoundError(N_("no such console page")), PREFIX + "/overview")


def install(app: FastAPI) -> None:
    """Add the console's routes, static files and security headers to ``app``."""
    for module in (
        _routes_session,
        _routes_media,
        _routes_loss,
        _loss_time,
        _routes_report,
        _routes_press,
        _routes_audit,
        _routes_admin,
        _routes_approvals,
    ):
        app.include_router(module.router)
    app.mount(PREFIX + "/static", _WholeFiles(directory=STATIC), name="console-static")
    # Last, so it matches only what no page or static file did: a person who mistyped a
    # console address gets a page in their language, not a JSON problem.
    app.add_api_route(PREFIX + "/{rest:path}", _not_found, methods=["GET"], include_in_schema=False)

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return redirect(f"{PREFIX}/sign-in?next={quote(exc.next_path, safe='/')}")

    async def on_csrf(request: Request, _exc: Exception) -> Response:
        # No action was taken; the official goes back and submits the page's own form.
        text = _i18n.translations(language_of(request)).gettext(
            "This form has expired or did not come from this console. Nothing was changed. "
            "Go back, reload the page and try again."
        )
        return Response(text, status_code=403, media_type="text/plain; charset=utf-8")

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(CsrfRefused, on_csrf)
    app.add_middleware(PathHeaders, prefix=PREFIX, headers=HEADERS)


__all__ = ["PREFIX", "install"]
