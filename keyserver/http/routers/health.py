"""/healthz (process alive), /readyz (database reachable), /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from keyserver.http.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
def readyz(service: ServiceDep) -> dict[str, Any]:
    """Readiness: the database answers (503 problem otherwise)."""
    service.ping()
    return {"status": "ready", "server_id": service.settings.server_id}


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(service: ServiceDep) -> str:
    """Counters (evaluations, refusals, ...) and containers per state."""
    gauges = {
        f'rwc_containers{{state="{state}"}}': n for state, n in service.counts_by_state().items()
    }
    return service.metrics.render(gauges)
