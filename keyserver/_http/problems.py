"""Map every failure to an RFC 9457 problem document (ONE place), plus the body guard.

- :class:`~keyserver._domain.errors.KeyServerError` -> its slug/status (one handler).
- Request validation errors (FastAPI/pydantic) -> 400 invalid-request (input not echoed).
- Starlette's own HTTP errors (:func:`http_error`) -> a catalogue detail: unknown routes
  404 not-found; wrong method 405 (with its Allow); other 4xx -> 400 invalid-request.
- Database unavailable (OperationalError, pool timeout) -> 503 unavailable. Because every
  release commits before it is returned, a 503 never follows a released evaluation.
- Anything else -> 500 problem without traceback (logged; counted in metrics so tests can
  assert malformed input never gets here).
- :class:`BodyGuard`: 413 for bodies above ``max_body_bytes`` (checked before any parsing,
  Content-Length and actual bytes) and 415 for non-JSON bodies.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyserver._domain.errors import (
    ForbiddenError,
    InternalError,
    InvalidRequestError,
    KeyServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from keyserver._domain.i18n import N_, accepted_language
from keyserver._domain.keys import SealedDataError
from keyserver._domain.metrics import Metrics

log = logging.getLogger("keyserver")
PROBLEM_JSON = "application/problem+json"


def problem_language(request: Request) -> str:
    """The language a client asked problem details in (``Accept-Language``); English else."""
    return accepted_language(request.headers.get("accept-language"), "en")


def problem_response(
    error: KeyServerError, contact: str | None = None, language: str = "en"
) -> JSONResponse:
    """Render a KeyServerError as an RFC 9457 response, its detail in ``language``.

    spec §problems: ``detail`` is for people (RFC 9457 §3.1.4), so a client that sends
    ``Accept-Language: ja`` (``keyserver --server`` run in Japanese) gets it from the
    catalogue in Japanese; English otherwise, and for a detail the catalogue does not hold,
    so scripts and the spec's examples read what they always did. ``Content-Language``
    says which it is. Every other member (type, title, reason, suggestions) stays as it is.
    """
    doc = error.problem()
    if error.message is None:
        language = "en"
    elif language != "en":
        doc["detail"] = error.message.text(language)
    if contact is not None and error.status >= 400:
        # Every refusal carries the configured contact.
        doc.setdefault("contact", contact)
    headers = {"Content-Language": language, "Vary": "Accept-Language"}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(doc, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


def http_error(status: int) -> KeyServerError:
    """The problem for an HTTP error raised by Starlette or FastAPI, detail from the catalogue.

    spec §problems: Starlette's own text (``Method Not Allowed``, a multipart parser's
    message) is English only, and a parser's may quote the input, so it is never passed
    on. A status the protocol has a slug of its own for keeps it; any other 4xx (406,
    411, 416, ...: nothing this server asks of a client) is ``invalid-request``, the
    table's one slug for a request it cannot answer, so a client never meets a slug/status
    pair the spec does not list.
    """
    if status == 400:
        return InvalidRequestError(N_("the request could not be read"))
    if status == 401:
        return UnauthenticatedError(N_("authentication required"))
    if status == 403:
        return ForbiddenError(N_("this resource is not open to you"))
    if status == 404:
        return NotFoundError(N_("no such resource"))
    if status == 405:
        return MethodNotAllowedError(N_("method not allowed on this resource"))
    if status == 413:
        return PayloadTooLargeError(N_("request body too large"))
    if status == 415:
        return UnsupportedMediaTypeError(N_("request body must be application/json"))
    if status < 500:
        return InvalidRequestError(
            N_("the key server does not answer this request (HTTP %(status)s)", status=status)
        )
    return UnavailableError(N_("service unavailable"))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request, named: str | None) -> str:
    """The methods the request's path has, for the ``Allow`` of a 405 (RFC 9110 §15.5.6).

    Starlette names only the first route whose path matched (``/v1/containers``: POST,
    not GET), so every route is asked, through its public ``matches``, which methods it
    would take at this path; a route that takes the refused method too is a mount (the
    static files), whose own ``Allow`` (``named``) speaks for it.
    """
    methods = {m.strip() for m in (named or "").split(",") if m.strip()}
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] == Match.FULL:
            continue
        for method in _METHODS:
            if route.matches({**request.scope, "method": method})[0] == Match.FULL:
                methods.add(method)
    return ", ".join(sorted(methods))


def install_handlers(app: FastAPI, contact: str, metrics: Metrics) -> None:
    """Register the exception handlers on ``app``."""

    def answer(request: Request, err: KeyServerError) -> JSONResponse:
        # spec §problems: every refusal's detail in the language the client asked for.
        return problem_response(err, contact, problem_language(request))

    async def on_key_server_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KeyServerError)
        return answer(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Report where and what, never the offending input (it may be a token or element).
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return answer(
            request, InvalidRequestError(N_("the request does not match the schema"), errors=errors)
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        answered = answer(request, http_error(exc.status_code))
        if exc.status_code == 405:
            allowed = allowed_methods(request, (exc.headers or {}).get("Allow"))
            if allowed:
                answered.headers["Allow"] = allowed
        if answered.status_code == exc.status_code and exc.headers:
            # Starlette's own headers for the status it chose, e.g. the Allow that RFC 9110
            # §15.5.6 requires on a 405; never for a status we changed (a Content-Range
            # would describe an answer we did not give).
            for name, value in exc.headers.items():
                answered.headers.setdefault(name, value)
        return answered

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # Log the class only: driver messages can contain connection strings.
        log.warning("database unavailable: %s", type(exc).__name__)
        metrics.inc("rwc_database_unavailable_total")
        return answer(
            request,
            UnavailableError(N_("the key server's database is unavailable; nothing was released")),
        )

    async def on_data_error(request: Request, exc: Exception) -> JSONResponse:
        # Safety net: the service validates input before the database sees it; if a
        # value still slips through, the database refuses it and this is the client's
        # fault (400), not an outage. Counted so tests can assert it never happens.
        metrics.inc("rwc_database_rejected_input_total")
        log.warning("database rejected input: %s", type(exc).__name__)
        return answer(request, InvalidRequestError(N_("a value was rejected as invalid")))

    async def on_sealed(request: Request, exc: Exception) -> JSONResponse:
        # The master key does not open the stored key material: misconfiguration (wrong
        # master key) or a tampered row. Refuse to serve; never release anything.
        metrics.inc("rwc_sealed_data_errors_total")
        log.error("stored key material does not authenticate (wrong master key?)")
        return answer(request, UnavailableError(N_("the key server cannot open its key material")))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return await on_database(request, exc)
        metrics.inc("rwc_internal_errors_total")
        log.error("internal error: %s", type(exc).__name__, exc_info=exc)
        return answer(request, InternalError(N_("internal error; see the server log")))

    app.add_exception_handler(KeyServerError, on_key_server_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database)
    app.add_exception_handler(PoolTimeoutError, on_database)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(SealedDataError, on_sealed)
    app.add_exception_handler(Exception, on_unexpected)


class BodyGuard:
    """ASGI middleware: bounded body buffering (413) and JSON content type (415).

    The whole body (at most ``max_body_bytes``) is read before the application sees the
    request, so no parser ever handles an oversized body.
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, contact: str, form_prefix: str | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.contact = contact
        # Paths whose bodies are HTML forms (the console) instead of JSON: their pages
        # read ``application/x-www-form-urlencoded`` themselves, within the same bound.
        self.form_prefix = form_prefix

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, err: KeyServerError
    ) -> None:
        # Before any application code runs: the header is read here as the handlers do.
        language = "en"
        for key, value in scope["headers"]:
            if key.lower() == b"accept-language":
                language = accepted_language(value.decode("latin-1"), "en")
                break  # the first, as Request.headers.get reads it
        await problem_response(err, self.contact, language)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer and check the body, then replay it to the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._reject(
                    scope, receive, send, InvalidRequestError(N_("bad Content-Length"))
                )
                return
            if int(declared) > self.max_body_bytes:
                await self._reject(scope, receive, send, _too_large(self.max_body_bytes))
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await self._reject(scope, receive, send, _too_large(self.max_body_bytes))
                return
            chunks.append(body)
            more = message.get("more_body", False)
        data = b"".join(chunks)
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        is_form = (
            self.form_prefix is not None
            and str(scope.get("path", "")).startswith(self.form_prefix)
            and ctype == "application/x-www-form-urlencoded"
        )
        if data and not is_form:
            if ctype != "application/json":
                await self._reject(
                    scope,
                    receive,
                    send,
                    UnsupportedMediaTypeError(N_("request body must be application/json")),
                )
                return
            try:
                json.loads(data)
            except (ValueError, RecursionError):
                await self._reject(
                    scope, receive, send, InvalidRequestError(N_("body is not JSON"))
                )
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> KeyServerError:
    return PayloadTooLargeError(
        N_("request body exceeds %(limit)s bytes", limit=limit), max_body_bytes=limit
    )


def remote_address(request: Request, trust_proxy: bool) -> str | None:
    """The client address; the proxy's X-Forwarded-For entry only when configured."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            # The right-most entry is the one our trusted proxy appended.
            return forwarded.split(",")[-1].strip()[:64] or None
    return request.client.host if request.client else None
