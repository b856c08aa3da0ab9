"""The FastAPI application factory.

``create_app(settings)`` builds one app around one :class:`KeyService`. Running it is the
command's job (``keyserver serve``, keyserver/_cli/host.py); worker processes build their
app with ``keyserver._cli.host:app_factory``, the one factory that reads KEYSERVER_*
(and refuses a misspelled setting, as ``keyserver serve`` does).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from keyserver._domain.metrics import Metrics
from keyserver._domain.settings import DISPLAY_ZONE_HEADER, ConfigError, Settings
from keyserver._http import console, openapi_problems
from keyserver._http.headers import NO_STORE, PathHeaders
from keyserver._http.problems import BodyGuard, install_handlers
from keyserver._http.release import ReleaseFastPath
from keyserver._http.routers import (
    approvals,
    audit,
    containers,
    health,
    media,
    principals,
    transparency,
)
from keyserver._http.warmup import warm_up
from keyserver._service import KeyService

log = logging.getLogger("keyserver")


def _sweeper(service: KeyService, stop: threading.Event) -> None:
    """Background sweep loop: destroys what is due (see KeyService.sweep)."""
    interval = service.settings.sweep_interval.total_seconds()
    while not stop.wait(interval):
        try:
            counts = service.sweep()
            if any(counts.values()):
                log.info("sweep: %s", counts)
        except Exception as exc:  # noqa: BLE001 - keep sweeping; the next run retries
            log.warning("sweep failed: %s", type(exc).__name__)


def _checkpointer(service: KeyService, stop: threading.Event) -> None:
    """Background checkpoints (spec §transparency): every interval, if entries arrived."""
    interval = service.settings.checkpoint_interval.total_seconds()
    while not stop.wait(interval):
        try:
            service.checkpoint()
        except Exception as exc:  # noqa: BLE001 - keep going; the next run retries
            log.warning("checkpoint failed: %s: %s", type(exc).__name__, exc)


def create_app(settings: Settings, service: KeyService | None = None) -> FastAPI:
    """Build the key server application.

    Args:
        settings: Configuration (database, master key, limits, clock, rng).
        service: An existing service to use (default: one built from ``settings``).

    Returns:
        The FastAPI app; its ``state.service`` is the :class:`KeyService`.
    """
    svc = service if service is not None else KeyService(settings, metrics=Metrics())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            svc.check_master_key()  # a wrong master key must not start (ConfigError)
            # spec §backup: a database older than what this server already published
            # (copied back by hand) must not serve: destroyed seeds would come back.
            gap = svc.transparency.published_gap()
            if gap is not None:
                raise ConfigError(gap.english())
        except (OperationalError, PoolTimeoutError):
            # The database may come up later: /readyz and 503 problems tell until then.
            log.warning("database unavailable at start-up")
        # The routes' models and the thread pool, built before the socket accepts: else
        # each worker's first requests pay for them (keyserver/_http/warmup.py).
        await warm_up(_app)
        stop = threading.Event()
        threads = []
        if settings.sweep_interval.total_seconds() > 0:
            threads.append(threading.Thread(target=_sweeper, args=(svc, stop), daemon=True))
        # A log key that is unreadable or unsafe must stop the start (ConfigError).
        if (
            svc.transparency.log_key is not None
            and settings.checkpoint_interval.total_seconds() > 0
        ):
            threads.append(threading.Thread(target=_checkpointer, args=(svc, stop), daemon=True))
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
            if service is None:
                svc.close()

    app = FastAPI(
        title="rwc key server",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks stay off: spans and request metrics would copy
        # paths (container ids) and timings to an exporter outside the audit log's
        # control, and the check alone costs an environment lookup per request. The
        # server's own counters are at /metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = svc
    install_handlers(app, settings.contact, svc.metrics)
    for module in (containers, media, audit, principals, health, transparency, approvals):
        app.include_router(module.router)
    # The officials' console (/console): HTML pages over the same service and audit.
    console.install(app)
    # /openapi.json is spec/openapi.json: with the problem responses of every route.
    openapi_problems.install(app)
    # Innermost of ours: the key-release path served ahead of FastAPI's router, inside
    # the body guard and no-store (keyserver/_http/release.py).
    app.add_middleware(ReleaseFastPath, handlers=app.exception_handlers)
    app.add_middleware(
        BodyGuard,
        max_body_bytes=settings.max_body_bytes,
        contact=settings.contact,
        form_prefix=console.PREFIX + "/",
    )
    # Added last, so outermost: it also covers the body guard's 413/415 problems.
    headers = [NO_STORE]
    if settings.display_timezone.isascii() and settings.display_timezone:
        # spec §operations: the zone officials see times in, for `keyserver --server`
        # (validated at start: Settings checks it is a zone).
        headers.append(
            (DISPLAY_ZONE_HEADER.lower().encode(), settings.display_timezone.encode("ascii"))
        )
    app.add_middleware(PathHeaders, prefix="/v1", headers=headers)
    return app


__all__ = ["create_app"]
