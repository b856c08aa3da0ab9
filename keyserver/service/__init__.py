"""The key server's service layer: every operation, its checks and its audit entry.

The HTTP routers and the local CLI both call :class:`KeyService`; results are JSON-able
dicts identical to the HTTP response bodies (spec §protocol). Each mutating operation is
ONE transaction that takes the audit chain-head lock first (keyserver/store/audit.py), applies
the change, appends its audit entry, and commits before anything is returned: no key
evaluation leaves the server before its audit record is durable, and a suspension or
destruction that has returned is visible to every instance sharing the database.

The operations live in one module per concern (ops_principals, ops_containers,
ops_revocation, ops_reports, unauthenticated); this module assembles them and re-exports
the names the CLI and the routers import.
"""

from __future__ import annotations

from keyserver.domain.validation import check_name, check_text, decode_container_id, parse_time
from keyserver.service.base import LOCAL, SYSTEM_ACTOR, RequestContext
from keyserver.service.containers import ContainerOps
from keyserver.service.incident import IncidentOps
from keyserver.service.reports import export_document
from keyserver.service.revocation import RevocationOps
from keyserver.service.unauthenticated import UnauthenticatedOps


class KeyService(UnauthenticatedOps, ContainerOps, RevocationOps, IncidentOps):
    """All key server operations over one database.

    Args:
        settings: Configuration (includes the injectable clock and rng).
        engine: An existing engine; by default one is created from the settings.
        metrics: Counters to update (a fresh set by default).
    """


__all__ = [
    "LOCAL",
    "SYSTEM_ACTOR",
    "KeyService",
    "RequestContext",
    "check_name",
    "check_text",
    "decode_container_id",
    "export_document",
    "parse_time",
]
