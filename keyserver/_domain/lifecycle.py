"""The container lifecycle, enforced in ONE place (I/O-free rules).

spec §lifecycle::

    pending --commit--> active --suspend--> suspended --restore--> active
    active | suspended --destroy--> destroyed        (irreversible, keys erased)
    pending --(pending_ttl passes)--> refused, then destroyed by the sweep
    active  --(not_after passes)-->   refused, then destroyed by the sweep

:data:`TRANSITIONS` lists, per operation, which states it applies to; the set-based
UPDATEs in keyserver/_store/transitions.py use exactly these sets, and :func:`evaluation_refusal`
and :func:`commit_refusal` decide key releases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from keyserver._domain.encoding import format_time
from keyserver._domain.errors import (
    DestroyedError,
    ExpiredError,
    ForbiddenError,
    KeyServerError,
    NotAllowedError,
    PendingError,
    SuspendedError,
)
from keyserver._domain.i18n import N_, Message


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


# What a state change may name (spec §revocation): one container, every container of a
# medium, or every container of an issuer. The service refuses any other scope, and the
# approval gate asks for a destroy rule only for these.
SCOPES = frozenset({"container", "medium", "issuer"})

# Which states each operation moves from, and to.
TRANSITIONS: dict[Op, tuple[frozenset[State], State]] = {
    Op.SUSPEND: (frozenset({State.ACTIVE}), State.SUSPENDED),
    Op.RESTORE: (frozenset({State.SUSPENDED}), State.ACTIVE),
    # A pending container may be destroyed too (e.g. its writer's machine was lost).
    Op.DESTROY: (frozenset({State.PENDING, State.ACTIVE, State.SUSPENDED}), State.DESTROYED),
}


class Cause(StrEnum):
    """Why a container is suspended, or a pending one locked (spec §lifecycle).

    A bulk restore lifts one cause only (default: loss reports), so finding a lost
    stick does not also lift the suspension a password-guessing attack caused.
    """

    LOSS_REPORT = "loss-report"
    OFFICIAL = "official"
    BUDGET = "budget"


# What ``restore`` may name: one cause, or every cause (the per-container default).
RESTORE_CAUSES = frozenset({*(c.value for c in Cause), "any"})

# What a loss report does to a container in each state (spec §loss), under the names its
# result and audit entry count them by: active ones are suspended, pending ones locked,
# suspended ones keep their cause and get the report's deadline; destroyed ones stay.
LOSS_EFFECTS: dict[State, str] = {
    State.ACTIVE: "suspended",
    State.PENDING: "pending_locked",
    State.SUSPENDED: "already_suspended",
    State.DESTROYED: "unchanged",
}


def loss_effect(state: State) -> str:
    """What a loss report does to a container in ``state`` (:data:`LOSS_EFFECTS`)."""
    return LOSS_EFFECTS[state]


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


def require_role(actor: Actor, roles: frozenset[str], what: str | Message) -> None:
    """Refuse with 403 forbidden unless the actor holds one of ``roles``."""
    if not actor.has_any(roles):
        raise ForbiddenError(
            N_(
                "%(what)s needs one of the roles: %(roles)s",
                what=what,
                roles=", ".join(sorted(roles)),
            )
        )


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
    # spec §lifecycle: set on a pending container of a medium reported lost (locked:
    # neither evaluated nor committed until an official restores it).
    suspend_cause: str | None = None

    @classmethod
    def of_columns(
        cls,
        column: Callable[[str], Any],
        *,
        readers: frozenset[str],
        reader_groups: frozenset[str],
    ) -> ContainerView:
        """The view of a container row, whichever way it was read (issue 9: one constructor).

        Args:
            column: A column's value by name: ``values.__getitem__`` for a row read by
                column name (the release's reads), ``partial(getattr, row)`` for an ORM row.
            readers: The reader names it carries (all of them, or only the actor's).
            reader_groups: The reader groups it carries (likewise).
        """
        return cls(
            state=State(column("state")),
            issuer_id=column("issuer_id"),
            pending_expires_at=column("pending_expires_at"),
            not_after=column("not_after"),
            destroyed_at=column("destroyed_at"),
            public_reason=column("public_reason"),
            readers=readers,
            reader_groups=reader_groups,
            suspend_cause=column("suspend_cause"),
        )


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def destroyed_refusal(c: ContainerView, contact: str) -> DestroyedError:
    """The 410 refusal for a destroyed container (spec §problems: destroyed)."""
    return DestroyedError(
        N_("the container's key was destroyed"),
        revoked_at=_fmt(c.destroyed_at),
        reason=c.public_reason,
        contact=contact,
    )


def suspended_refusal(c: ContainerView, contact: str, detail: Message) -> SuspendedError:
    """The 423 refusal for a suspended container (spec §problems: suspended).

    ``cause`` is said only for a suspension by the container's attempt budget: the reader
    who ran it out was told so at the last wrong password (``attempts_remaining`` 0), and
    a client can then say what happened and what to do in the reader's language instead
    of the English ``reason``. Security: a loss report's or an official's suspension is not
    disclosed (whoever holds a lost medium must not learn it was reported); the officials'
    ``public_reason`` is all a reader gets of those.
    """
    budget = c.state is State.SUSPENDED and c.suspend_cause == Cause.BUDGET.value
    extra: dict[str, Any] = {"cause": Cause.BUDGET.value} if budget else {}
    return SuspendedError(detail, reason=c.public_reason, contact=contact, **extra)


def refusal_for_state(c: ContainerView, contact: str, now: datetime) -> KeyServerError | None:
    """Return the refusal implied by the state alone (destroyed, suspended, expired)."""
    extra: dict[str, Any] = {"contact": contact}
    if c.state is State.DESTROYED:
        return destroyed_refusal(c, contact)
    if c.state is State.SUSPENDED:
        return suspended_refusal(c, contact, N_("the container is suspended"))
    if c.state is State.PENDING and c.suspend_cause is not None:
        # spec §lifecycle: a loss report locks the medium's pending containers too; a
        # container sealed onto a lost stick must never become readable.
        return SuspendedError(
            N_("the container's medium was reported lost"), reason=c.public_reason, **extra
        )
    if (
        c.state is State.PENDING
        and c.pending_expires_at is not None
        and now >= c.pending_expires_at
    ):
        return ExpiredError(
            N_("the pending container was never committed"), not_after=None, **extra
        )
    if c.not_after is not None and now >= c.not_after:
        return ExpiredError(
            N_("the container is past its not_after"), not_after=_fmt(c.not_after), **extra
        )
    return None


def evaluation_refusal(
    c: ContainerView, actor: Actor, contact: str, now: datetime
) -> tuple[str, KeyServerError | None]:
    """Decide an evaluation request (spec §evaluate, step 3).

    Authorisation comes first: a caller that is neither the container's issuing writer
    nor admitted by its reader policy is refused the same way whatever the container's
    state, so probing with a known id reveals neither the state nor the public reason.
    The policy is still there for a destroyed container (crypto-erasure removes the
    sealed keys only, spec §erasure), so this holds for destroyed containers too.

    Returns:
        (mode, refusal): mode is ``"seal"`` (issuing writer, pending container; does not
        count toward the budget) or ``"read"`` (allowed reader, active container). When
        refusal is not None the evaluation must not happen.
    """
    is_reader = actor.has_any(frozenset({"reader"}))
    issuer = actor.principal_id == c.issuer_id and actor.has_any(frozenset({"writer"}))
    admitted = is_reader and (
        actor.name in c.readers or not c.reader_groups.isdisjoint(actor.groups)
    )
    state_refusal = refusal_for_state(c, contact, now)
    if not admitted and not (issuer and (c.state is State.PENDING or state_refusal is not None)):
        # Security: for anyone but the issuer this depends on the actor and the policy
        # only, never on the state (the issuer may learn its own container's state: it
        # can read its status anyway).
        return "read", _not_admitted(actor, contact)
    if c.state is State.PENDING:
        if not issuer:
            return "seal", PendingError(N_("the container is not committed yet"), contact=contact)
        return "seal", state_refusal
    if state_refusal is not None:
        return "read", state_refusal
    return "read", None


def _not_admitted(actor: Actor, contact: str) -> KeyServerError:
    """The refusal for a caller the policy does not admit (depends on the actor only)."""
    if not actor.has_any(frozenset({"reader"})):
        return ForbiddenError(N_("evaluation needs the reader role"), contact=contact)
    return NotAllowedError(N_("you are not among this container's readers"), contact=contact)
