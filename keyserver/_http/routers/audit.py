"""/v1/audit: list, export (JSON Lines), verify."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from keyserver._domain.validation import parse_head
from keyserver._http.deps import ActorDep, ContextDep, ServiceDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", summary="List audit entries")
def audit_list(
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
    *,
    container: str | None = None,
    action: str | None = None,
    actor_name: str | None = None,
    after_seq: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """List audit entries (auditor, official). ``actor`` filters by acting principal."""
    return service.audit_list(
        actor,
        container=container,
        action=action,
        actor_name=actor_name,
        after_seq=after_seq,
        limit=limit,
        ctx=ctx,
    )


@router.get("/export", summary="Export the audit log (JSON Lines)")
def audit_export(service: ServiceDep, actor: ActorDep, ctx: ContextDep) -> StreamingResponse:
    """Every entry as JSON Lines (auditor, official)."""
    lines = service.audit_export(actor, ctx=ctx)
    first = next(lines, None)  # role check and first query happen before the 200 is sent

    def body() -> Any:
        if first is not None:
            yield first
            yield from lines

    return StreamingResponse(body(), media_type="application/jsonl")


@router.get("/verify", summary="Verify the audit chain")
def audit_verify(
    service: ServiceDep,
    actor: ActorDep,
    ctx: ContextDep,
    *,
    expect_head: str | None = None,
    from_head: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Verify the keyed hash chain (auditor, official).

    ``expect_head=SEQ:HASH`` (a head recorded earlier, e.g. by monitoring) also detects
    truncation of the tail with a matching rollback of the head row (spec §audit).
    ``from_head=SEQ:HASH`` (a head an earlier verification ended at) checks only what
    follows it; ``limit`` checks at most that many entries: a long chain is verified in
    pages, each continuing from the head the previous one returned, until ``complete``.
    """
    expected = None if expect_head is None else parse_head(expect_head)
    start = None if from_head is None else parse_head(from_head, "from_head")
    return service.audit_verify(actor, expected, start=start, limit=limit, ctx=ctx)
