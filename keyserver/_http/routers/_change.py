"""The one call behind the three state-change routes (container, medium, issuer).

spec §revocation: suspend, restore and destroy are one operation whatever they name;
``/v1/containers/{id}/{op}``, ``/v1/media/{medium}/{op}`` and
``/v1/issuers/{principal}/{op}`` differ only in the scope they pass, so the body's
fields reach ``KeyService.change_state`` here, once, and a gated destroy answers 202
(spec §approvals) the same way on each. The routes themselves stay declared one by one,
on purpose: FastAPI reads a route's path parameters from its signature, and the OpenAPI
document names each (``container_id``, ``medium``, ``principal``).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from keyserver._domain.context import RequestContext
from keyserver._domain.lifecycle import Actor, Op
from keyserver._http.routers.approvals import answer
from keyserver._http.schemas import ChangeBody
from keyserver._service import KeyService


def change_answer(  # noqa: PLR0917 - the routes pass their dependencies in their own order
    service: KeyService,
    actor: Actor,
    ctx: RequestContext,
    op: Op,
    scope: str,
    target: str,
    body: ChangeBody,
) -> dict[str, Any] | JSONResponse:
    """Suspend, restore or destroy ``target`` of ``scope``; a gated destroy: 202."""
    return answer(
        service.change_state(
            actor,
            op,
            scope,
            target,
            reason=body.reason,
            public_reason=body.public_reason,
            cause=body.cause,
            ctx=ctx,
        )
    )
