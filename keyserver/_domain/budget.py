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

from keyserver._domain.errors import AttemptsExhaustedError
from keyserver._domain.i18n import N_

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
