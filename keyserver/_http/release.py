"""The key-release endpoint, ``POST /v1/containers/{id}/evaluate`` (spec §evaluate).

This is the one request the server answers at volume, and it is served lean:

- :func:`evaluate_response` has no FastAPI dependencies (each synchronous dependency
  costs a worker-thread hop) and no worker thread at all: the request awaits its group
  commit on the event loop (keyserver/_release/group_commit.py), and the token is checked inside
  the release transaction.
- :class:`ReleaseFastPath` answers the path before FastAPI's router: routing, dependency
  solving and FastAPI's inner middleware cost about a tenth of a release. Everything
  outside that still applies (the body guard's limits and ``Cache-Control: no-store``),
  and a failure is rendered by the app's own exception handlers (keyserver/_http/problems.py),
  looked up exactly as Starlette looks them up, so both ways answer byte for byte alike.
  The route stays declared in FastAPI (keyserver/_http/routers/containers.py), calling the
  same function, for the OpenAPI document and the route table.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from keyserver._domain.context import RequestContext
from keyserver._domain.encoding import b64d
from keyserver._domain.errors import KeyServerError
from keyserver._http.problems import remote_address
from keyserver._http.schemas import EvaluateBody
from keyserver._service import KeyService

# Starlette's "{container_id}" path parameter: one non-empty segment.
_PATH = re.compile(r"/v1/containers/(?P<cid>[^/]+)/evaluate")

# As Starlette types them: a handler may be a coroutine function or a plain one.
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


async def evaluate_response(request: Request, container_id: str) -> Response:
    """Answer an evaluate request: authenticate, validate, release (or raise).

    Order (spec §evaluate): authentication first, its refusal audited even when the body
    is malformed too; then the body; then role and policy (in the batch).

    Raises:
        KeyServerError: A refusal (already audited where the spec says so).
        RequestValidationError: The body does not match the schema.
    """
    started = time.perf_counter()
    service: KeyService = request.app.state.service
    ctx = RequestContext(remote=remote_address(request, service.settings.trust_proxy))
    authorization = request.headers.get("authorization")
    outcome = "refused"
    try:
        try:
            blinded, header_digest = _evaluate_body(await request.body())
        except (ValidationError, KeyServerError) as exc:
            # Rare: a malformed body. Authenticate (and audit a failure) first.
            await run_in_threadpool(
                service.authenticate_evaluator, authorization, container_id, ctx
            )
            if isinstance(exc, ValidationError):
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                ) from None
            raise
        result = await service.evaluate_bearer(
            authorization, container_id, blinded, ctx=ctx, header_digest=header_digest
        )
        outcome = "ok"
    finally:
        service.metrics.observe(
            "rwc_evaluate_seconds", time.perf_counter() - started, outcome=outcome
        )
    return JSONResponse(result)


def _evaluate_body(body: bytes) -> tuple[bytes, bytes | None]:
    """The 32-byte blinded element and header digest of an evaluate body (strict).

    Raises:
        ValidationError: The body does not match :class:`EvaluateBody`.
        InvalidRequestError: A value is not unpadded base64url of 32 bytes.
    """
    parsed = EvaluateBody.model_validate_json(body)
    digest = parsed.header_digest
    return (
        b64d(parsed.blinded_element, 32, "blinded_element"),
        None if digest is None else b64d(digest, 32, "header_digest"),
    )


class ReleaseFastPath:
    """ASGI middleware: ``POST /v1/containers/{id}/evaluate`` without FastAPI's router.

    Args:
        app: The next ASGI app (FastAPI's inner stack).
        handlers: The app's exception handlers (``FastAPI.exception_handlers``), read
            at each failure so handlers added later are seen too.
    """

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the release path; pass everything else on."""
        match = (
            _PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await evaluate_response(request, match["cid"])
        except Exception as exc:  # noqa: BLE001 - rendered by the app's own handlers
            rendered = self._handler(exc)(request, exc)
            response = await rendered if inspect.isawaitable(rendered) else rendered
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler:
        # Starlette's lookup: the most specific class in the exception's MRO.
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        raise RuntimeError("no exception handler for Exception")  # install_handlers adds one
