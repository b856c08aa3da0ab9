"""What the ``keyserver`` command needs from a key server, local or remote.

Two implementations: :mod:`keyserver._cli.local` calls the service layer on a data
directory; :mod:`keyserver._cli.remote` speaks the HTTP protocol (spec/protocol.md
§endpoints). Both return the JSON objects of the protocol, so the rendering is shared and a
script sees the same ``--json`` output in either mode. Each method's signature is
written three times (here, local, remote) on purpose: :class:`Backend` is a Protocol that
mypy holds both implementations to, so a drift between them fails ``make lint``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol

Scope = Literal["container", "medium", "issuer"]
Action = Literal["suspend", "restore", "destroy"]
Json = dict[str, Any]
# spec §transparency: where anyone fetches the log's public key, without a token.
LOG_KEY_PATHS = ("/.well-known/rwc-log-key", "/v1/tlog")


class Backend(Protocol):
    """Operations of the ``keyserver`` management commands (spec §endpoints)."""

    def whoami(self) -> Json:
        """Return the acting principal (spec §endpoints: GET /v1/whoami)."""
        ...

    def principal_add(
        self, name: str, roles: list[str], groups: list[str], organisation: str | None
    ) -> Json:
        """Create a principal and its first token (POST /v1/principals)."""
        ...

    def principal_list(self) -> list[Json]:
        """List principals (GET /v1/principals)."""
        ...

    def token_create(self, name: str, expires_at: str | None) -> Json:
        """Issue another token for ``name`` (POST /v1/principals/{name}/tokens)."""
        ...

    def token_list(self) -> list[Json]:
        """List tokens without their values (GET /v1/tokens)."""
        ...

    def token_revoke(self, token_id: str) -> Json:
        """Revoke a token (POST /v1/tokens/{token_id}/revoke)."""
        ...

    def act(
        self,
        action: Action,
        scope: Scope,
        target: str,
        reason: str,
        public_reason: str | None,
        *,
        cause: str | None = None,
    ) -> Json:
        """Suspend, restore (``cause``: which suspensions to lift) or destroy."""
        ...

    def reset_budget(self, container_id: str, reason: str) -> Json:
        """Reset an active container's attempt count (POST /v1/containers/{id}/reset-budget)."""
        ...

    def report_loss(
        self,
        medium: str,
        reason: str,
        public_reason: str | None,
        *,
        now: bool,
        waiting_period_seconds: int | None,
        lost_at: str | None = None,
        told_at: str | None = None,
        replace_earlier: bool = False,
    ) -> Json:
        """Report a medium lost (POST /v1/media/{medium}/loss-report)."""
        ...

    def media_list(self, after: str | None, limit: int | None) -> Json:
        """List media with their container counts (GET /v1/media)."""
        ...

    def medium_info(self, medium: str) -> Json:
        """One medium with its container counts (GET /v1/media/{medium})."""
        ...

    def status(self, container_id: str) -> Json:
        """Return a container's status (GET /v1/containers/{id})."""
        ...

    def search(self, filters: dict[str, str], limit: int | None, after: str | None) -> Json:
        """Search containers (GET /v1/containers); returns ``{items, next}``."""
        ...

    def medium_report(self, medium: str, *, since: str | None = None) -> Json:
        """Return the loss report of a medium (GET /v1/media/{medium}/report)."""
        ...

    def signed_report(self, kind: str, medium: str) -> Json:
        """A signed ``medium-report`` or ``destruction-certificate`` (spec §transparency)."""
        ...

    def audit_list(self, filters: dict[str, str], after_seq: int | None, limit: int | None) -> Json:
        """Return audit entries (GET /v1/audit); returns ``{items, next_after_seq}``."""
        ...

    def audit_export(self) -> Iterator[str]:
        """Yield the audit chain as JSON Lines (GET /v1/audit/export), one line each."""
        ...

    def audit_verify(
        self,
        expected_head: tuple[int, bytes] | None,
        *,
        start: tuple[int, bytes] | None = None,
        limit: int | None = None,
    ) -> Json:
        """Verify the audit chain, and that a recorded head is still in it (spec §audit).

        GET /v1/audit/verify?expect_head=SEQ:HASH&from_head=SEQ:HASH&limit=N: the server
        checks the heads, so the command and the server share one grammar and one check.
        ``start`` resumes after a verified head; ``limit`` verifies one page.
        """
        ...

    def approvals_list(self, state: str | None, after: int | None, limit: int | None) -> Json:
        """Requests awaiting (or past) a second approver (GET /v1/approvals)."""
        ...

    def approval_show(self, approval_id: int) -> Json:
        """One request (GET /v1/approvals/{id})."""
        ...

    def approval_approve(self, approval_id: int) -> Json:
        """Approve, which carries the action out (POST /v1/approvals/{id}/approve)."""
        ...

    def approval_reject(self, approval_id: int, reason: str) -> Json:
        """Reject (POST /v1/approvals/{id}/reject)."""
        ...

    def log_info(self) -> Json:
        """The transparency log's origin, public key and witnesses (GET /v1/tlog)."""
        ...

    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint note (GET /v1/tlog/checkpoint), None before the first."""
        ...

    def published_at(self) -> list[str]:
        """Where the log's key is published: the well-known URL and /v1/tlog."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
