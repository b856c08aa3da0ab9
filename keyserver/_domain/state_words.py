"""A container's state, a suspension's cause, an audited action and its outcome, in words.

Issue 12 (cli48): the console said "Suspended" / 利用停止中 and "Succeeded" / 成功 where the
``keyserver`` command said "suspended" / 停止中 and "ok" / 正常, each with its own message ids:
an official who read the console, then a colleague's command output or the press
statement beside a ``keyserver report``, met two words for one thing. The words are decided
here, once, as messages of the one catalogue: the console's templates say them through its
filters (_http/console/_page.py, _macros.html), the command's tables through
_cli/labels.py. ``--json`` and the API keep the protocol's values (spec §lifecycle,
§audit): what a script reads does not change with the words people read.
"""

from __future__ import annotations

from collections.abc import Mapping

from keyserver._domain.i18n import N_, Message, ngettext, text

# A container's states (spec §lifecycle), as the console's badges say them.
STATE_NAMES: Mapping[str, Message] = {
    "pending": N_("Pending"),
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "destroyed": N_("Destroyed"),
}

# Why a container is suspended (spec §lifecycle ``suspend_cause``). The loss report is the
# officials' 紛失届, the form's own name (issue 12, console45: the command said 紛失報告).
# "any": ``restore``'s choice of every cause (lifecycle.RESTORE_CAUSES), never a cause.
CAUSE_NAMES: Mapping[str, Message] = {
    "loss-report": N_("Loss report"),
    "official": N_("Suspended by an official"),
    "budget": N_("Too many attempts (attempt budget)"),
    "any": N_("Every suspension"),
}

# An audited action's outcome (spec §audit): "ok" is a success, not a health check's 正常.
OUTCOME_NAMES: Mapping[str, Message] = {"ok": N_("Succeeded"), "refused": N_("Refused")}

# The audited actions (spec §audit), as a container's history on the console says them;
# the refused reads (``status``, ``audit.list``...) keep the protocol's word alone.
ACTION_NAMES: Mapping[str, Message] = {
    "register": N_("Registered"),
    "commit": N_("Committed"),
    "evaluate": N_("Key requested"),
    "receipt": N_("Opening confirmed"),
    "suspend": N_("Suspension"),
    "restore": N_("Restoration"),
    "destroy": N_("Key destruction"),
    "budget.reset": N_("Attempt count reset"),
    "approval.request": N_("Approval requested"),
    "approval.approve": N_("Request approved"),
    "approval.reject": N_("Request rejected"),
    "principal.add": N_("Principal added"),
    "token.issue": N_("Token issued"),
    "token.revoke": N_("Token revoked"),
    "master-key.rotate": N_("Master key rotation"),
    "restore.replay": N_("Destroys replayed onto a restored backup"),
}

# Why a key request or a confirmation was refused: its problem slug (spec §problems), after
# "Refused" in the console's report and in the command's report table (cli48: the command
# showed the slug, in English on a Japanese table). A suspended container is said by its
# state's name (refusal_name: in lower case, mid-line).
REFUSAL_NAMES: Mapping[str, Message] = {
    "suspended": STATE_NAMES["suspended"],
    "destroyed": N_("keys destroyed"),
    "expired": N_("expired"),
    "pending": N_("not committed yet"),
    "not-allowed": N_("not among its readers"),
    "forbidden": N_("not a reader"),
    "unauthenticated": N_("no valid token"),
    "attempts-exhausted": N_("too many attempts"),
    "header-mismatch": N_("altered copy of the container"),
    "row-integrity": N_("record failed its integrity check"),
    "invalid-receipt": N_("confirmation did not verify"),
    "restore-pending": N_("restored database awaits replay"),
}


def action_said(action: str) -> Message | None:
    """An audited action in words with the protocol's word after it (:func:`with_word`).

    None: an action without words; it is shown as it is.
    """
    name = ACTION_NAMES.get(action)
    return None if name is None else with_word(name, action)


def with_word(name: Message, word: str) -> Message:
    """Words with the protocol's word after them: "Key requested (evaluate)".

    Where entries are filtered by that word (``keyserver audit list --action``, the
    console's audit log's Action box), it stays beside the words people read.
    """
    return N_("%(name)s (%(action)s)", name=name, action=word)


def refusal_name(slug: str | None, language: str) -> str | None:
    """Why a request was refused, in words, in lower case: it follows "Refused" mid-line.

    Lower case as the console's medium page says a state inside a line (Japanese has no
    case). None: a slug without words; it is shown as it is.
    """
    name = REFUSAL_NAMES.get(slug or "")
    return None if name is None else name.text(language).lower()


def state_count(state: str, n: int, language: str) -> str:
    """How many containers are in ``state``, inside a line: "2 suspended", 利用停止中 2 件.

    As the console's medium page counts them (medium.html): the state's name in lower case
    in English, where the badge's capital would read oddly mid-line (Japanese has no case).
    A state without words is said as it is.
    """
    name = STATE_NAMES.get(state)
    word = state if name is None else text(name, language).lower()
    return ngettext("%(n)s %(state)s", "%(n)s %(state)s", n, n=f"{n:,}", state=word).text(language)
