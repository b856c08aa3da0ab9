"""/v1/approvals: requests for irreversible actions, approved or rejected by a second person.

spec §approvals. A gated action (destroy, a loss report with ``now``, a token for an
official or admin) answers **202** with the request it made (:func:`answer`); the request
is then read, approved or rejected here. Approving carries the action out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from keyserver._http.deps import ActorDep, ContextDep, ServiceDep
from keyserver._http.schemas import (
    ApprovalApproved,
    ApprovalList,
    ApprovalRejected,
    ApprovalRequested,
    ApprovalView,
    RejectBody,
)

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

# The extra response of every gated route, for the OpenAPI document.
REQUESTED: dict[int | str, dict[str, Any]] = {
    status.HTTP_202_ACCEPTED: {
        "model": ApprovalRequested,
        "description": "Not carried out: a request awaits a second official (spec §approvals)",
    }
}


def answer(result: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    """The answer of a gated route: 202 with the request when one was made, else 200."""
    if result.get("approval_required"):
        return JSONResponse(
            ApprovalRequested.model_validate(result).model_dump(mode="json", exclude_none=True),
            status_code=status.HTTP_202_ACCEPTED,
        )
    return result


@router.get("", summary="List approval requests", response_model=ApprovalList)
def list_approvals(
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
    *,
    state: str | None = None,
    after: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Requests by number; ``state`` = pending, approved, rejected or expired."""
    return service.list_approvals(actor, state=state, after=after, limit=limit, ctx=ctx)


@router.get("/{approval_id}", summary="One approval request", response_model=ApprovalView)
def get_approval(
    approval_id: int, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """One request with what it affects (official, admin, auditor)."""
    return service.get_approval(actor, approval_id, ctx=ctx)


@router.post(
    "/{approval_id}/approve", summary="Approve (and carry out)", response_model=ApprovalApproved
)
def approve(
    approval_id: int, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Approve a pending request made by someone else; the action is carried out now."""
    return service.approve(actor, approval_id, ctx=ctx)


@router.post("/{approval_id}/reject", summary="Reject", response_model=ApprovalRejected)
def reject(
    approval_id: int, body: RejectBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """Reject a pending request (the requester may withdraw their own)."""
    return service.reject(actor, approval_id, body.reason, ctx=ctx)
