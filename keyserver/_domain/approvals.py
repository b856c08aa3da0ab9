"""Two officials for the irreversible: which actions need a second person, and the states.

spec §approvals. A gated action is not carried out when it is asked for: it becomes a
*request* that a second, different principal holding the action's role must approve
before it expires; the approval carries it out. The rules are named here once and chosen
per deployment by the ``approval_required`` setting.

State machine (the only transitions)::

    (none) --request--> pending --approve (another principal, targets unchanged)--> approved
                           |----reject (any principal of the role, the requester too)--> rejected
                           '----expires_at passed-------------------------------------> expired

``approved``, ``rejected`` and ``expired`` are final. ``expired`` is not written by anyone:
a pending request whose ``expires_at`` has passed IS expired (see :func:`shown_state`), so
no clock-driven job can be late and leave an old request approvable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum


class Rule(StrEnum):
    """The actions that can require a second approver (setting ``approval_required``)."""

    DESTROY_CONTAINER = "destroy-container"  # destroy of one container
    DESTROY_MEDIUM = "destroy-medium"  # destroy --medium, and a loss report with now
    DESTROY_ISSUER = "destroy-issuer"  # destroy --issuer
    # A token (or a new principal) with the official or admin role; a rule name, no secret.
    PRIVILEGED_TOKEN = "privileged-token"  # noqa: S105


# Bulk destroys by default: one official's slip (or one stolen official token) must not
# erase a whole medium's or contractor's data. A loss report with ``now`` is a bulk destroy
# of the medium, so it is under the same rule (else it would be the way around it).
DEFAULT_RULES = "destroy-medium,destroy-issuer"

# Roles whose tokens are powers over many containers or over principals: minting one is
# gated by PRIVILEGED_TOKEN (also when a principal is created with such a role).
PRIVILEGED_ROLES = frozenset({"official", "admin"})


class State(StrEnum):
    """The state of a request (spec §approvals)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def parse_rules(text: str) -> frozenset[Rule]:
    """The rules named in ``approval_required`` (commas or spaces; ``none`` or empty: none).

    Raises:
        ValueError: An unknown rule name (the message lists the known ones).
    """
    names = [n for n in text.replace(",", " ").split() if n]
    if names == ["none"]:
        return frozenset()
    known = {r.value: r for r in Rule}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"approval_required: unknown action {unknown[0]!r} (known: {', '.join(known)}; or none)"
        )
    return frozenset(known[n] for n in names)


def destroy_rule(scope: str) -> Rule:
    """The rule of a destroy by ``scope`` (container, medium or issuer)."""
    return {
        "container": Rule.DESTROY_CONTAINER,
        "medium": Rule.DESTROY_MEDIUM,
        "issuer": Rule.DESTROY_ISSUER,
    }[scope]


def approver_role(rule: Rule) -> str:
    """The role the approver must hold: the role of the action itself."""
    return "admin" if rule is Rule.PRIVILEGED_TOKEN else "official"


def shown_state(stored: str, expires_at: datetime, now: datetime) -> State:
    """The state of a request at ``now``: a pending request past its expiry is expired."""
    state = State(stored)
    if state is State.PENDING and now >= expires_at:
        return State.EXPIRED
    return state


def ids_digest(ids: Iterable[bytes]) -> bytes:
    """SHA-256 over the sorted container ids (what a request lists, compared at approval).

    The same digest as the audit entries' ``container_ids_sha256`` (sorted concatenation).
    """
    return hashlib.sha256(b"".join(sorted(ids))).digest()
