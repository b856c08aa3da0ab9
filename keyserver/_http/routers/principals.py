"""/v1/principals, /v1/tokens, /v1/whoami."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from keyserver._domain.validation import parse_time
from keyserver._http.deps import ActorDep, ContextDep, ServiceDep
from keyserver._http.routers.approvals import REQUESTED, answer
from keyserver._http.schemas import PrincipalBody, TokenBody

router = APIRouter(tags=["principals"])


@router.post(
    "/v1/principals",
    status_code=status.HTTP_201_CREATED,
    summary="Create a principal",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def add_principal(
    body: PrincipalBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> Any:
    """Create a principal and its first token (admin); official/admin roles may give 202."""
    return answer(
        service.add_principal(
            actor,
            body.name,
            body.roles,
            organisation=body.organisation,
            groups=body.groups,
            ctx=ctx,
        )
    )


@router.get("/v1/principals", summary="List principals")
def list_principals(service: ServiceDep, actor: ActorDep, ctx: ContextDep) -> dict[str, Any]:
    """List principals (admin)."""
    return service.list_principals(actor, ctx=ctx)


@router.post(
    "/v1/principals/{name}/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a token",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def issue_token(
    name: str, body: TokenBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> Any:
    """Issue another token for a principal (admin); for an official/admin it may give 202."""
    expires = parse_time(body.expires_at, "expires_at") if body.expires_at else None
    return answer(service.issue_token(actor, name, expires, ctx))


@router.get("/v1/tokens", summary="List tokens")
def list_tokens(service: ServiceDep, actor: ActorDep, ctx: ContextDep) -> dict[str, Any]:
    """List tokens without secrets (admin)."""
    return service.list_tokens(actor, ctx=ctx)


@router.post("/v1/tokens/{token_id}/revoke", summary="Revoke a token")
def revoke_token(
    token_id: str, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Revoke a token (admin)."""
    return service.revoke_token(actor, token_id, ctx)


@router.get("/v1/whoami", summary="Who am I")
def whoami(service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    """Who the token belongs to (any authenticated principal)."""
    return service.whoami(actor)
