"""The reasons the system itself writes, and how a person is shown them (no I/O).

spec §receipt, §lifecycle: a budget suspension, its lift by the reader's receipt and the
sweep's destroys record a fixed English sentence as their reason and public reason, in
the container's row and in the audit entry. The audit log is the record and keeps the
sentence as written (an entry is never rewritten; its HMAC covers it), and a backup's
replay finds a sweep by it (spec §backup). Officials read it in the console and on the
printed medium report, in Japanese or English: :data:`SYSTEM_REASONS` maps each sentence
to its catalogue message, the one place a page looks it up (:func:`shown_reason`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyserver._domain.budget import LIFT_REASON
from keyserver._domain.i18n import N_, Message
from keyserver._domain.lifecycle import BUDGET_REASON, Cause

# The sweep's rules (keyserver/_store/transitions.py sweep_rules), one reason each.
PENDING_EXPIRED_REASON = "pending container was never committed"
NOT_AFTER_REASON = "not_after passed"
LOSS_PERIOD_OVER_REASON = "loss report waiting period over"

SYSTEM_REASONS: Mapping[str, Message] = {
    BUDGET_REASON: N_("Too many attempts without the right password: attempt budget used up"),
    LIFT_REASON: N_("Lifted: the reader's confirmation showed the last attempt was theirs"),
    PENDING_EXPIRED_REASON: N_("Never completed by its writer in time"),
    NOT_AFTER_REASON: N_("Its expiry date passed"),
    LOSS_PERIOD_OVER_REASON: N_("The loss report's waiting period ended"),
}


def shown_reason(stored: str | None) -> str | Message | None:
    """A stored reason as a page shows it: the system's in the catalogue, any other as typed.

    Matched on the whole sentence: an official who typed exactly one of them reads the
    same sentence translated, which says what they typed (who acted is shown beside it).
    """
    if stored is None:
        return None
    return SYSTEM_REASONS.get(stored, stored)


def public_reason_of(details: Mapping[str, Any]) -> str | None:
    """The public reason a state change's audit entry records: what refused readers were told.

    spec §receipt, §report: a budget suspension's entry says it since the eighteenth session
    (issue 12); one written before has none, while the container's row had the fixed
    sentence as its public reason, so readers were told that. It is derived only for that
    entry (cause ``budget`` and the fixed reason, which the release path alone writes: an
    official's suspension has the cause ``official``), never from a reason a person typed,
    which may be internal. The medium report and a backup's replay read it here.
    """
    if "public_reason" in details:
        stored = details["public_reason"]
        return stored if isinstance(stored, str) else None
    if details.get("cause") == Cause.BUDGET.value and details.get("reason") == BUDGET_REASON:
        return BUDGET_REASON
    return None
