"""The attempt budget: what an unconfirmed evaluation costs, and when it is refused (no I/O).

spec §receipt. Three counts limit online password guessing with a stolen medium and a
stolen (or borrowed) reader token:

- **per container**: unconfirmed evaluations since the last budget restore. Only a
  receipt refunds one, and only the evaluation whose challenge it answers: the right
  password is needed to produce it, so a thief cannot reset the count by letting the
  clerk open the container now and then. Reaching ``attempt_budget`` suspends the
  container (cause ``budget``) until an official restores it: at most ``attempt_budget``
  guesses between two restores, in total.
- **per principal**, across containers, and **per medium**, whoever asks: unconfirmed
  evaluations within the sliding ``attempt_window``. Reaching a cap refuses further
  evaluations (``attempts-exhausted``) until old attempts leave the window: K containers
  sealed with one password no longer give K x budget guesses in a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyserver._domain.context import SYSTEM_ACTOR
from keyserver._domain.errors import AttemptsExhaustedError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Cause
from keyserver._domain.rowmac import LaterEntry

# The largest attempt budget a container may have: a writer's --attempt-budget and the
# server's default_attempt_budget alike (a default above it refused every registration
# that did not name a budget, as if the writer had asked for too much).
ATTEMPT_BUDGET_MAX = 1000

# Which allowance ``attempts_remaining`` counts down (spec §receipt, ``attempts_limit``):
# what happens when it runs out differs, so a reader must be told which one it is.
LIMIT_CONTAINER = "container"  # the evaluation that uses it up suspends the container
LIMIT_PRINCIPAL = "principal"  # the caller's next evaluation is refused for a while
LIMIT_MEDIUM = "medium"  # the next evaluation on the medium is refused for a while


@dataclass(frozen=True)
class Counts:
    """Unconfirmed evaluations before the one being decided.

    Attributes:
        container: Unconfirmed evaluations of the container since its last budget reset.
        budget: The container's ``attempt_budget``.
        principal: The caller's unconfirmed evaluations in the window (all containers).
        principal_cap: ``principal_attempt_cap``.
        medium: Unconfirmed evaluations on the container's medium in the window (0 for a
            container without a medium).
        medium_cap: ``medium_attempt_cap``.
    """

    container: int
    budget: int
    principal: int
    principal_cap: int
    medium: int
    medium_cap: int


def refusal(counts: Counts, contact: str) -> AttemptsExhaustedError | None:
    """The refusal of one more read evaluation by a window cap, or None.

    The per-container budget never refuses here: the evaluation that reaches it is still
    answered and suspends the container (spec §receipt), every later one is ``suspended``.
    """
    if counts.principal >= counts.principal_cap:
        return AttemptsExhaustedError(
            N_("you have too many unconfirmed attempts; wait, or ask an official"),
            contact=contact,
        )
    if counts.medium >= counts.medium_cap:
        return AttemptsExhaustedError(
            N_("this medium has too many unconfirmed attempts; wait, or ask an official"),
            contact=contact,
        )
    return None


def _allowances(counts: Counts) -> tuple[tuple[int, str], ...]:
    # In the order a tie is named (see limit).
    return (
        (counts.budget - counts.container, LIMIT_CONTAINER),
        (counts.principal_cap - counts.principal, LIMIT_PRINCIPAL),
        (counts.medium_cap - counts.medium, LIMIT_MEDIUM),
    )


def available(counts: Counts) -> int:
    """Unconfirmed attempts the reader may still make before a suspension or refusal.

    The smallest of the three allowances (what ``GET .../access`` answers, before an
    evaluation).
    """
    return max(0, min(left for left, _ in _allowances(counts)))


def limit(counts: Counts) -> str:
    """Which allowance :func:`available` and :func:`remaining` count down (``attempts_limit``).

    spec §receipt: running out of the container's budget suspends the container until an
    official restores it; running out of a window cap only refuses the next evaluation
    until old attempts leave the window. A reader told "0 left" must know which (issue 12).
    On a tie the container is named, as its suspension is the lasting consequence (it
    does not lift by itself); between the two caps, the caller's own. An evaluation
    counts against all three, so the answer is the same before and after it.
    """
    smallest = min(left for left, _ in _allowances(counts))
    return next(name for left, name in _allowances(counts) if left == smallest)


def remaining(counts: Counts) -> int:
    """Attempts left after this evaluation, which counted (the evaluate response).

    Told to the reader so that rwc can warn before the last attempt suspends the
    container.
    """
    return max(0, available(counts) - 1)


def exhausts_budget(counts: Counts) -> bool:
    """True when this evaluation brings the container to its budget (suspend it)."""
    return counts.container + 1 >= counts.budget


# spec §receipt: the reason (and public reason) of the restore a receipt makes when it
# confirms the very evaluation that used up the budget (audited ``restore``, actor
# ``system``, cause ``budget``). English, as the budget suspension's own reason is.
LIFT_REASON = "confirmed by the reader's receipt"


@dataclass(frozen=True)
class SuspensionFacts:
    """What decides whether a receipt lifts its container's budget suspension.

    Read in the receipt's transaction, under the chain head and the row lock
    (keyserver/_service/containers.py).

    Attributes:
        cause: The container's ``suspend_cause``.
        suspension: The audit entry the row names as its last change (``last_audit_seq``),
            or None when it is not a successful ``suspend`` naming the container.
        suspension_actor: Who that entry says acted.
        suspended_at: When the container was suspended (the batch's clock, as the
            challenge's: the audit entry's time never goes backwards, so after a clock
            step back it is not the clock's).
        issued_at: When the evaluation the receipt answers was issued.
        issued_together: Challenges of the container issued at that instant (one batch
            shares its time: more than one and the trigger cannot be told apart).
        later: The successful entries after ``suspension`` that name the container, or
            name none and change containers in bulk (keyserver/_store/rowmacs.py).
        medium: The container's medium.
        issuer: The name of the container's issuing writer.
    """

    cause: str | None
    suspension: LaterEntry | None
    suspension_actor: str | None
    suspended_at: datetime | None
    issued_at: datetime
    issued_together: int
    later: tuple[LaterEntry, ...]
    medium: str | None
    issuer: str | None


def receipt_lifts(facts: SuspensionFacts, cid_text: str, principal: str) -> bool:
    """Does this receipt, if its MAC verifies, lift the container's budget suspension?

    spec §receipt: yes only for the receipt of **the very evaluation that used up the
    budget**, by the principal that made it, while nothing else happened to the container
    since. The MAC needs the right password, so this refunds the holder of the password
    alone, and only that one evaluation: every other unconfirmed one (a thief's guesses)
    stays counted, and the container is one wrong attempt from its budget again. Every
    doubt keeps the suspension for an official to lift, as before.
    """
    s = facts.suspension
    if facts.cause != Cause.BUDGET.value or s is None:
        return False
    # The row's last change is the budget suspension itself, made by the system with the
    # evaluation this receipt answers (same instant, same principal, the only challenge of
    # the container issued then). The instant is the row's suspended_at, the batch's clock
    # reading as the challenge's issued_at: the entry's own time is held at the previous
    # entry's while the clock is behind it (a step back), and would never match then.
    # Whatever changed the row since (a loss report, a restore and a new suspension)
    # moved last_audit_seq to its own entry.
    if (
        s.action != "suspend"
        or facts.suspension_actor != SYSTEM_ACTOR
        or s.container != cid_text
        or s.details.get("cause") != Cause.BUDGET.value
        or s.details.get("trigger") != principal
        or facts.suspended_at != facts.issued_at
        or facts.issued_together != 1
    ):
        return False
    # Nothing since that names the container (an official's suspend that changed nothing,
    # a request for approval, ...), nor a bulk change of its medium or issuer (a loss
    # report, a medium suspended or restored): an official acted, so an official decides.
    return not any(_concerns(e, facts) for e in facts.later)


def _concerns(entry: LaterEntry, facts: SuspensionFacts) -> bool:
    if entry.container is not None:
        return True
    scope, target = entry.details.get("scope"), entry.details.get("target")
    return (scope == "medium" and facts.medium is not None and target == facts.medium) or (
        scope == "issuer" and facts.issuer is not None and target == facts.issuer
    )
