"""The container lifecycle, enforced in ONE place (I/O-free rules).

spec §lifecycle::

    pending --commit--> active --suspend--> suspended --restore--> active
    active | suspended --destroy--> destroyed        (irreversible, keys erased)
    pending --(pending_ttl passes)--> refused, then destroyed by the sweep
    active  --(not_after passes)-->   refused, then destroyed by the sweep

:data:`TRANSITIONS` lists, per operation, which states it applies to; the set-based
UPDATEs in keyserver/repository.py use exactly these sets, and :func:`evaluation_refusal`
and :func:`commit_refusal` decide key releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from keyserver.audit import format_time
from keyserver.errors import (
    DestroyedError,
    ExpiredError,
    ForbiddenError,
    KeyServerError,
    NotAllowedError,
    PendingError,
    SuspendedError,
)


class State(StrEnum):
    """Container states."""

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DESTROYED = "destroyed"


class Op(StrEnum):
    """Operations an official applies to containers."""

    SUSPEND = "suspend"
    RESTORE = "restore"
    DESTROY = "destroy"


# Which states each operation moves from, and to.
TRANSITIONS: dict[Op, tuple[frozenset[State], State]] = {
    Op.SUSPEND: (frozenset({State.ACTIVE}), State.SUSPENDED),
    Op.RESTORE: (frozenset({State.SUSPENDED}), State.ACTIVE),
    # A pending container may be destroyed too (e.g. its writer's machine was lost).
    Op.DESTROY: (frozenset({State.PENDING, State.ACTIVE, State.SUSPENDED}), State.DESTROYED),
}

ROLES = frozenset({"writer", "reader", "official", "auditor", "admin"})
BUDGET_REASON = "attempt budget exhausted"


@dataclass(frozen=True)
class Actor:
    """Who is acting: an authenticated principal, or a local operator (CLI, --data-dir).

    Attributes:
        name: Principal name, recorded in the audit log.
        roles: Roles held.
        groups: Group memberships (for reader policies).
        principal_id: Database id; None for a local operator without a principal row.
        organisation: Organisation of the principal, if any.
        local: True for a local operator: whoever holds the data directory holds the
            master key, so role checks would protect nothing; actions are still audited
            under ``name``.
    """

    name: str
    roles: frozenset[str]
    groups: frozenset[str] = frozenset()
    principal_id: int | None = None
    organisation: str | None = None
    local: bool = False

    def has_any(self, roles: frozenset[str]) -> bool:
        """True when the actor holds at least one of ``roles``."""
        return self.local or not self.roles.isdisjoint(roles)


def require_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    """Refuse with 403 forbidden unless the actor holds one of ``roles``."""
    if not actor.has_any(roles):
        raise ForbiddenError(f"{what} needs one of the roles: {', '.join(sorted(roles))}")


@dataclass(frozen=True)
class ContainerView:
    """The fields the lifecycle rules look at (decoupled from the ORM row)."""

    state: State
    issuer_id: int
    pending_expires_at: datetime | None
    not_after: datetime | None
    destroyed_at: datetime | None
    public_reason: str | None
    readers: frozenset[str]
    reader_groups: frozenset[str]


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def destroyed_refusal(c: ContainerView, contact: str) -> DestroyedError:
    """The 410 refusal for a destroyed container (spec §problems: destroyed)."""
    return DestroyedError(
        "the container's key was destroyed",
        revoked_at=_fmt(c.destroyed_at),
        reason=c.public_reason,
        contact=contact,
    )


def refusal_for_state(c: ContainerView, contact: str, now: datetime) -> KeyServerError | None:
    """Return the refusal implied by the state alone (destroyed, suspended, expired)."""
    extra: dict[str, Any] = {"contact": contact}
    if c.state is State.DESTROYED:
        return destroyed_refusal(c, contact)
    if c.state is State.SUSPENDED:
        return SuspendedError("the container is suspended", reason=c.public_reason, **extra)
    if (
        c.state is State.PENDING
        and c.pending_expires_at is not None
        and now >= c.pending_expires_at
    ):
        return ExpiredError("the pending container was never committed", not_after=None, **extra)
    if c.not_after is not None and now >= c.not_after:
        return ExpiredError(
            "the container is past its not_after", not_after=_fmt(c.not_after), **extra
        )
    return None


def evaluation_refusal(
    c: ContainerView, actor: Actor, contact: str, now: datetime
) -> tuple[str, KeyServerError | None]:
    """Decide an evaluation request.

    Returns:
        (mode, refusal): mode is ``"seal"`` (issuing writer, pending container; does not
        count toward the budget) or ``"read"`` (allowed reader, active container). When
        refusal is not None the evaluation must not happen.
    """
    state_refusal = refusal_for_state(c, contact, now)
    if c.state is State.PENDING:
        if actor.principal_id != c.issuer_id or not actor.has_any(frozenset({"writer"})):
            return "seal", PendingError("the container is not committed yet", contact=contact)
        return "seal", state_refusal
    if not actor.has_any(frozenset({"reader"})):
        return "read", ForbiddenError("evaluation needs the reader role", contact=contact)
    if state_refusal is not None:
        return "read", state_refusal
    allowed = actor.name in c.readers or not c.reader_groups.isdisjoint(actor.groups)
    if not allowed:
        return "read", NotAllowedError(
            "you are not among this container's readers", contact=contact
        )
    return "read", None
