"""/v1/media and /v1/issuers: bulk state changes, loss reports, medium reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from keyserver._domain.durations import waiting_period_of
from keyserver._domain.lifecycle import Op
from keyserver._domain.validation import parse_time
from keyserver._http.deps import ActorDep, ContextDep, ServiceDep
from keyserver._http.routers._change import change_answer
from keyserver._http.routers.approvals import REQUESTED, answer
from keyserver._http.schemas import ChangeBody, LossBody

router = APIRouter(tags=["media"])


@router.get("/v1/media", summary="List media")
def media_list(
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Media with their container counts per state (official, auditor)."""
    return service.media_list(actor, after=after, limit=limit, ctx=ctx)


@router.get("/v1/media/{medium}", summary="One medium")
def medium_info(
    medium: str, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> dict[str, Any]:
    """One medium with its container counts per state (official, auditor)."""
    return service.medium_info(actor, medium, ctx=ctx)


@router.post(
    "/v1/media/{medium}/loss-report",
    summary="Report a medium lost",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def loss_report(
    medium: str, body: LossBody, service: ServiceDep, actor: ActorDep, ctx: ContextDep
) -> Any:
    """Report a medium lost (official); with ``now`` and approval_required: 202."""
    wait = waiting_period_of(body.waiting_period_seconds)  # its range: the service's
    lost_at = parse_time(body.lost_at, "lost_at") if body.lost_at else None
    told_at = parse_time(body.told_at, "told_at") if body.told_at else None
    return answer(
        service.report_loss(
            actor,
            medium,
            reason=body.reason,
            public_reason=body.public_reason,
            now_flag=body.now,
            waiting_period=wait,
            lost_at=lost_at,
            told_at=told_at,
            replace_earlier=body.replace_earlier,
            ctx=ctx,
        )
    )


@router.get("/v1/media/{medium}/report", summary="Medium report")
def medium_report(
    medium: str, service: ServiceDep, actor: ActorDep, ctx: ContextDep, since: str | None = None
) -> dict[str, Any]:
    """What happened to a medium's containers (official, auditor)."""
    at = parse_time(since, "since") if since else None
    return service.medium_report(actor, medium, at, ctx=ctx)


@router.post(
    "/v1/media/{medium}/{op}",
    summary="Suspend, restore or destroy a medium's containers",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def medium_change(
    medium: str,
    op: Op,
    *,
    body: ChangeBody,
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
) -> Any:
    """Suspend, restore or destroy every container of a medium (official); destroy: 202."""
    return change_answer(service, actor, ctx, op, "medium", medium, body)


@router.post(
    "/v1/issuers/{principal}/{op}",
    summary="Suspend, restore or destroy an issuer's containers",
    response_model=dict[str, Any],
    responses=REQUESTED,
)
def issuer_change(
    principal: str,
    op: Op,
    *,
    body: ChangeBody,
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
) -> Any:
    """Suspend, restore or destroy every container of an issuer (official); destroy: 202."""
    return change_answer(service, actor, ctx, op, "issuer", principal, body)
