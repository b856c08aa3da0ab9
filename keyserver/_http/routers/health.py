"""/healthz (process alive), /readyz (database writable), /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from keyserver._http.deps import ServiceDep
from keyserver._store.probe import check_writable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
def readyz(service: ServiceDep) -> dict[str, Any]:
    """Readiness: the database takes a write (503 problem otherwise).

    Reachable is not enough: a read-only, locked or full database refuses every release
    and every revocation, so such a server must leave the load balancer's rotation.
    """
    check_writable(service.engine)
    # spec §backup: a restored database awaiting its replay must not take traffic.
    service.ledger.restore_gate.forget()
    with service.engine.connect() as conn:
        service.ledger.restore_gate.check(conn)
    return {"status": "ready", "server_id": service.settings.server_id}


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(service: ServiceDep) -> str:
    """Counters (evaluations, refusals, ...) and containers per state."""
    gauges = {
        f'rwc_containers{{state="{state}"}}': n for state, n in service.counts_by_state().items()
    }
    return service.metrics.render(gauges)
