"""FastAPI dependencies: the service, the authenticated actor, the request context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyserver.errors import UnauthenticatedError
from keyserver.lifecycle import Actor
from keyserver.problems import remote_address
from keyserver.service import KeyService, RequestContext


async def get_service(request: Request) -> KeyService:
    """The app's :class:`KeyService` (set by create_app); async: no thread hop."""
    service = request.app.state.service
    assert isinstance(service, KeyService)
    return service


def get_actor(request: Request, service: Annotated[KeyService, Depends(get_service)]) -> Actor:
    """Authenticate ``Authorization: Bearer <token>`` (spec §auth)."""
    header = request.headers.get("authorization")
    if header is None:
        raise UnauthenticatedError("missing Authorization: Bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'")
    return service.authenticate(token.strip())


async def get_context(
    request: Request, service: Annotated[KeyService, Depends(get_service)]
) -> RequestContext:
    """Where the request came from (for the audit log)."""
    return RequestContext(remote=remote_address(request, service.settings.trust_proxy))


def get_evaluator(
    request: Request,
    service: Annotated[KeyService, Depends(get_service)],
    ctx: Annotated[RequestContext, Depends(get_context)],
) -> Actor:
    """Like :func:`get_actor`, but an unauthenticated attempt is audited before the 401.

    spec §evaluate: every evaluation attempt, with or without a valid token, is in the
    audit log (keyserver/unauthenticated.py).
    """
    try:
        return get_actor(request, service)
    except UnauthenticatedError as exc:
        service.audit_unauthenticated(
            request.headers.get("authorization"),
            "evaluate",
            request.path_params.get("container_id"),
            ctx,
            exc,
        )
        raise


ServiceDep = Annotated[KeyService, Depends(get_service)]
ActorDep = Annotated[Actor, Depends(get_actor)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
EvaluatorDep = Annotated[Actor, Depends(get_evaluator)]
