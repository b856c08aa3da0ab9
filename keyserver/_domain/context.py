"""Who acts and from where: request context, role sets, the built-in actor names.

Values only; the service and the release path decide with them (spec §auth, §audit).
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_ACTOR = "system"
# spec §evaluate: refusals of requests with no valid token are audited under this name
# (or under the owner of a revoked or expired token: worth knowing whose token leaked).
UNAUTHENTICATED_ACTOR = "(unauthenticated)"

OFFICIAL = frozenset({"official"})
OVERSIGHT = frozenset({"official", "auditor"})
ADMIN = frozenset({"admin"})
WRITER = frozenset({"writer"})
EVALUATORS = frozenset({"writer", "reader"})


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from (recorded in audit entries)."""

    remote: str | None = None


LOCAL = RequestContext(remote="local")
