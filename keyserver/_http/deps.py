"""FastAPI dependencies: the service, the authenticated actor, the request context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyserver._domain.auth import bearer_token
from keyserver._domain.context import RequestContext
from keyserver._domain.lifecycle import Actor
from keyserver._http.problems import remote_address
from keyserver._service import KeyService


async def get_service(request: Request) -> KeyService:
    """The app's :class:`KeyService` (set by create_app); async: no thread hop."""
    service = request.app.state.service
    assert isinstance(service, KeyService)
    return service


def get_actor(request: Request, service: Annotated[KeyService, Depends(get_service)]) -> Actor:
    """Authenticate ``Authorization: Bearer <token>`` (spec §auth)."""
    return service.authenticate(bearer_token(request.headers.get("authorization")))


async def get_context(
    request: Request, service: Annotated[KeyService, Depends(get_service)]
) -> RequestContext:
    """Where the request came from (for the audit log)."""
    return RequestContext(remote=remote_address(request, service.settings.trust_proxy))


ServiceDep = Annotated[KeyService, Depends(get_service)]
ActorDep = Annotated[Actor, Depends(get_actor)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
