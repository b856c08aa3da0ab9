"""Audit records for evaluate attempts refused before authentication (spec §evaluate).

A lost medium is probed with whatever credentials the finder has: none, a guessed token,
or a stolen one that was revoked after the loss. Those attempts must show up in the
medium report ("every attempt since the loss"), so they are audited like any other
refused evaluation: action ``evaluate``, outcome ``refused``, reason ``unauthenticated``,
the container from the URL when it is a valid id, and the client address. The actor is
the owner of a revoked or expired token (worth knowing: whose token leaked), else
:data:`UNAUTHENTICATED_ACTOR`.

Flooding: every such request appends one entry under the chain-head lock, so an
anonymous client can grow the log and contend with key releases. That cost is bounded
by the request rate the deployment admits (rate-limit at the reverse proxy, spec
§operations) and is visible in ``rwc_refusals_total{action="evaluate",
reason="unauthenticated"}``. Only evaluate is audited this way: it is the one endpoint
that releases key material, and the only one the medium report shows.
"""

from __future__ import annotations

from keyserver._domain import auth
from keyserver._domain.context import UNAUTHENTICATED_ACTOR, RequestContext
from keyserver._domain.errors import UnauthenticatedError
from keyserver._domain.lifecycle import Actor
from keyserver._domain.validation import valid_container_id
from keyserver._service.principals import PrincipalOps
from keyserver._store import repository
from keyserver._store.ledger import Ledger


class UnauthenticatedOps:
    """Recording refusals of requests that carry no valid token."""

    def __init__(self, ledger: Ledger, principals: PrincipalOps) -> None:
        self._ledger = ledger
        self._principals = principals

    def authenticate_evaluator(
        self, authorization: str | None, container: str | None, ctx: RequestContext
    ) -> Actor:
        """Authenticate an evaluate request; a refusal is audited before it is raised.

        Args:
            authorization: The request's Authorization header, if any.
            container: The container id from the URL (recorded only if valid).
            ctx: Where the request came from.

        Raises:
            UnauthenticatedError: After its audit entry committed.
        """
        try:
            return self._principals.authenticate(auth.bearer_token(authorization))
        except UnauthenticatedError as exc:
            self.audit_unauthenticated(authorization, "evaluate", container, ctx, exc)
            raise

    def audit_unauthenticated(
        self,
        authorization: str | None,
        action: str,
        container: str | None,
        ctx: RequestContext,
        error: UnauthenticatedError,
    ) -> None:
        """Append the refusal of an unauthenticated request to the audit log (committed).

        Args:
            authorization: The request's Authorization header, if any (only used to
                find the owner of a revoked or expired token; never recorded).
            action: The refused action (``"evaluate"``).
            container: The container id from the URL, recorded only if it is valid.
            ctx: Where the request came from.
            error: The refusal about to be answered.
        """
        cid = valid_container_id(container)
        owner = self._token_owner(authorization)
        actor = Actor(name=owner or UNAUTHENTICATED_ACTOR, roles=frozenset())
        self._ledger.refuse(actor, action, cid, ctx, error)

    def _token_owner(self, authorization: str | None) -> str | None:
        """The principal owning a well-formed token that exists (revoked or expired)."""
        try:
            digest = auth.token_digest(auth.bearer_token(authorization))
        except UnauthenticatedError:
            return None
        with self._ledger.single_read_engine.connect() as conn:
            row = repository.token_lookup(conn, digest)
            conn.rollback()
        return row.name if row is not None and auth.matches(row, digest) else None
