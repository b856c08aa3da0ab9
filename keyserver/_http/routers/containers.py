"""/v1/containers: register, evaluate, commit, receipt, status, search, state changes.

And the attempt count's reset by an official (spec §receipt).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from keyserver._domain.encoding import b64d
from keyserver._domain.lifecycle import Op
from keyserver._domain.validation import parse_time
from keyserver._http.deps import ActorDep, ContextDep, ServiceDep
from keyserver._http.release import evaluate_response
from keyserver._http.routers._change import change_answer
from keyserver._http.routers.approvals import REQUESTED
from keyserver._http.schemas import (
    ChangeBody,
    CommitBody,
    ReceiptBody,
    RegisterBody,
    ResetBudgetBody,
)

router = APIRouter(prefix="/v1/containers", tags=["containers"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register a container")
def register(
    body: RegisterBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Register a pending container (writer)."""
    not_after = parse_time(body.not_after, "not_after") if body.not_after else None
    return service.register(
        actor,
        label=body.label,
        medium=body.medium,
        readers=body.readers,
        reader_groups=body.reader_groups,
        not_after=not_after,
        password_required=body.password_required,
        attempt_budget=body.attempt_budget,
        people=body.people,
        ctx=ctx,
    )


@router.get("", summary="Search containers")
def search(
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
    *,
    label: str | None = None,
    medium: str | None = None,
    issuer: str | None = None,
    state: str | None = None,
    limit: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    """Search containers (official, auditor)."""
    return service.search(
        actor,
        label=label,
        medium=medium,
        issuer=issuer,
        state=state,
        limit=limit,
        after=after,
        ctx=ctx,
    )


@router.get("/{container_id}", summary="Container status")
def container_status(
    container_id: str, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Status of one container (official, auditor, issuing writer)."""
    return service.status(actor, container_id, ctx=ctx)


@router.get("/{container_id}/access", summary="Whether a password is needed, attempts left")
def access(
    container_id: str, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Before asking for a password (admitted reader; issuing writer while pending).

    Releases nothing and counts nothing (spec §access).
    """
    return service.access(actor, container_id, ctx=ctx)


# The body is read by the route itself (see evaluate); the document still names its model.
_EVALUATE_BODY_DOC = {
    "requestBody": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateBody"}}},
        "required": True,
    }
}


@router.post(
    "/{container_id}/evaluate",
    summary="Evaluate a blinded element",
    response_model=dict[str, Any],
    openapi_extra=_EVALUATE_BODY_DOC,
)
async def evaluate(container_id: str, request: Request) -> Response:
    """Evaluate a blinded element (allowed reader; issuing writer while pending)."""
    # Normally answered before FastAPI's routing by keyserver/_http/release.py, which runs
    # this same function; declared here for the OpenAPI document and the route table.
    return await evaluate_response(request, container_id)


@router.post("/{container_id}/commit", summary="Commit (activate) a container")
def commit(
    container_id: str, body: CommitBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Activate a pending container (issuing writer)."""
    digest = b64d(body.header_digest, 32, "header_digest")
    receipt_key = b64d(body.receipt_key, 32, "receipt_key")
    return service.commit(
        actor, container_id, header_digest=digest, receipt_key=receipt_key, ctx=ctx
    )


@router.post("/{container_id}/receipt", summary="Confirm an open (receipt)")
def receipt(
    container_id: str, body: ReceiptBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Confirm an open with the receipt MAC (the reader that got the challenge).

    Refused while the container is suspended, but the receipt of the evaluation that used
    up the attempt budget, which lifts that suspension (spec §receipt).
    """
    challenge = b64d(body.challenge, 32, "challenge")
    mac = b64d(body.mac, 32, "mac")
    return service.receipt(actor, container_id, challenge=challenge, mac=mac, ctx=ctx)


# Declared before /{op}: that route would take "reset-budget" for an operation name.
@router.post("/{container_id}/reset-budget", summary="Reset an active container's attempt count")
def reset_budget(
    container_id: str,
    body: ResetBudgetBody,
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
) -> dict[str, Any]:
    """Set an active container's unconfirmed attempts to 0 (official; spec §receipt).

    For a container at its limit, one unconfirmed attempt from suspending itself; a
    suspended container is restored instead (its budget suspension's restore resets it).
    """
    return service.reset_budget(actor, container_id, body.reason, ctx=ctx)


@router.post(
    "/{container_id}/{op}",
    summary="Suspend, restore or destroy a container",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def change(
    container_id: str,
    op: Op,
    *,
    body: ChangeBody,
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
) -> Any:
    """Suspend, restore or destroy one container (official); a gated destroy: 202."""
    return change_answer(service, actor, ctx, op, "container", container_id, body)
