"""Names of the protocol's members and values as the ``keyserver`` command shows them to people.

Tables for people label their fields and columns with these (in the command's language,
from the one catalogue); ``--json`` is untouched. Every member is named in words, the
console's where it shows the member (the message ids of its pages: the medium report's
record and tables, and the same members wherever they are shown: ``status``, ``media``,
``audit``, the principals' and approval requests' records), else the command's own. A
member missing here is shown by its name.
"""

from __future__ import annotations

from collections.abc import Mapping

from keyserver._domain.i18n import N_, Message
from keyserver._domain.report_words import KIND_NAMES
from keyserver._domain.state_words import (
    ACTION_NAMES,
    CAUSE_NAMES,
    OUTCOME_NAMES,
    STATE_NAMES,
    action_said,
    with_word,
)
from keyserver._domain.system_reasons import SYSTEM_REASONS

# Issue 12, ops14: ``keyserver report`` in English said ``container_id``, ``suspend_cause``,
# ``releases_after_loss``... beside the console's "Keys given to readers after the loss",
# two names for one fact in one report, and the protocol's read as jargon by officials (the
# Japanese said them in words of its own, not the console's). These are the console's own
# words (report.html, audit.html, container.html), one message id for the page and the
# command. "#": the audit log's entry number, as the console's audit table heads it.
_CONSOLE_WORDS: Mapping[str, str | Message] = {
    "container_id": N_("Container"),
    "label": N_("Label"),
    "people": N_("Personal data"),
    "issuer": N_("Made by"),
    "state": N_("State"),
    "suspend_cause": N_("Cause"),
    "answer": N_("Was the data opened after the loss?"),
    "lost_at": N_("Lost at"),
    "loss_reported_at": N_("Reported at"),
    "destroyed_at": N_("Keys destroyed"),
    "destroy_after": N_("Keys will be destroyed after"),
    "releases_after_loss": N_("Keys given to readers after the loss"),
    "confirmed_after_loss": N_("Openings confirmed after the loss"),
    "last_confirmed_open_before_loss": N_("Last confirmed opening before the loss"),
    # Its tables' columns (report.html's key requests, audit.html's entries).
    "seq": "#",
    "at": N_("Time"),
    "actor": N_("Who"),
    "action": N_("Action"),
    "kind": N_("What"),
    "outcome": N_("Result"),
    "reason": N_("Reason"),
    "remote": N_("Address"),
    "cause": N_("Cause"),
    "container": N_("Container"),
    # A container's status (container.html), a medium's (media.html) and a loss report's
    # (_loss_banner.html: what the report did, read right after a loss).
    "medium": N_("Medium"),
    "created_at": N_("Created"),
    "not_after": N_("Expires"),
    "suspended_at": N_("Suspended"),
    "public_reason": N_("Public reason"),
    "unconfirmed": N_("Unconfirmed attempts"),
    "password_required": N_("Password required"),
    "readers": N_("Readers"),
    "reader_groups": N_("Reader groups"),
    "container_ids": N_("Containers"),
    "suspended": N_("Suspended now"),
    "already_suspended": N_("Already suspended"),
    "pending_locked": N_("Being written, locked"),
}

# Issue 12, console45: the rest kept the protocol's names in English (``status`` said
# ``pending_expires_at``, ``attempt_budget``, ``header_digest``; ``media list``
# ``containers``, ``states``; ``audit verify`` ``head_seq``; the principals' and approval
# requests' records ``token_id``, ``requested_by``), while Japanese said words. Each is now
# a word in both: the console's own where it shows the member (media.html, overview.html,
# admin.html, approvals.html), else words of the command's; ``--json`` keeps the names.
_COMMAND_WORDS: Mapping[str, str | Message] = {
    # Containers (spec §status) and media (spec §media).
    "media": N_("Media"),
    "states": N_("Containers by state"),
    "containers": N_("Containers"),
    "activated_at": N_("Activated"),
    "changed_by": N_("Last changed by"),
    "attempt_budget": N_("Attempt limit"),
    # Loss reports and bulk changes (spec §loss).
    "affected": N_("Containers affected"),
    "destroyed": N_("Destroyed now"),
    # The medium report and the audit log (spec §report, §audit).
    "told_at": N_("Time of loss as told"),
    # The rest of a container's status (issue 12, ops10: shown in English in Japanese).
    "pending_expires_at": N_("Pending until"),
    "last_confirmed_at": N_("Last confirmed opening"),
    "public_key": N_("Public key"),
    "header_digest": N_("Header digest"),
    "last_audit_seq": N_("Last change's audit entry"),
    # audit verify (spec §audit).
    "ok": N_("Intact"),
    "entries": N_("Entries checked"),
    "head_seq": N_("Newest entry"),
    "head_hash": N_("Newest entry's hash"),
    "first_bad_seq": N_("First entry that failed"),
    "problem": N_("Problem"),
    "from_seq": N_("Checked from entry"),
    "complete": N_("Checked from the start"),
    # Principals, tokens and approval requests (spec §roles, §approvals).
    "name": N_("Name"),
    "roles": N_("Roles"),
    "organisation": N_("Organisation"),
    "groups": N_("Groups"),
    "local": N_("Local"),
    "token_id": N_("Token id"),
    "expires_at": N_("Expires"),
    "revoked_at": N_("Revoked"),
    "id": N_("Number"),
    "scope": N_("Applies to"),
    "target": N_("Target"),
    "requested_by": N_("Requested by"),
    "requested_at": N_("Requested at"),
    "decided_by": N_("Decided by"),
    # A restored backup (spec §backup).
    "restore_pending": N_("Awaiting replay"),
    "backup_head_seq": N_("Backup's newest entry"),
    "source": N_("Source"),
}

FIELDS: Mapping[str, str | Message] = {**_COMMAND_WORDS, **_CONSOLE_WORDS}

# Values shown in words: container states and suspension causes (spec §lifecycle), in the
# console's words (state_words.py; issue 12, cli48: the command said "suspended" / 停止中
# beside the console's "Suspended" / 利用停止中).
_STATES: Mapping[str, Message] = STATE_NAMES
_CAUSES: Mapping[str, Message] = CAUSE_NAMES
# What a medium report's attempt row is (spec §report), in the console's words
# (report_words.KIND_NAMES); a refused one by its outcome's name (cli48: "refused" and
# "Refused", two ids for 拒否).
_KINDS: Mapping[str, Message] = {**KIND_NAMES, "refused": OUTCOME_NAMES["refused"]}
# Audit actions and outcomes (spec §audit), in the console's words (state_words.py): "ok"
# said "Succeeded" / 成功 as the console says it (cli48: the command said "ok" / 正常). An
# action keeps the protocol's word after its words, the one `audit list --action` takes.
_ACTIONS: Mapping[str, Message] = {
    action: said for action in ACTION_NAMES if (said := action_said(action)) is not None
}
_OUTCOMES: Mapping[str, Message] = OUTCOME_NAMES
# What an approval request or a bulk change is about (spec §approvals: its scope).
_SCOPES: Mapping[str, Message] = {
    "container": N_("container"),
    "medium": N_("medium"),
    "issuer": N_("issuer"),
}
# Values in words, by the member that holds them.
Words = Mapping[str, Mapping[str, Message]]
VALUES: Words = {
    "action": _ACTIONS,
    "outcome": _OUTCOMES,
    "state": _STATES,
    "suspend_cause": _CAUSES,
    "cause": _CAUSES,
    "kind": _KINDS,
    # The reasons the system writes (a budget suspension, its lift, the sweep's destroys):
    # stored as English sentences, shown in the command's language as the console shows
    # them (system_reasons.py, matched whole; a reason a person typed is shown as typed).
    "reason": SYSTEM_REASONS,
    "public_reason": SYSTEM_REASONS,
    "scope": _SCOPES,
}
# An approval request's states (spec §approvals) are its own: "pending" is a request
# awaiting its second official, not a container awaiting its commit (issue 12, ops12:
# `approvals list` said 登録待ち, "awaiting registration"). Its action is an audited
# action's word, or a loss report with `now`.
REQUEST_VALUES: Words = {
    **VALUES,
    "state": {
        "pending": N_("awaiting approval"),
        "approved": N_("approved"),
        "rejected": N_("rejected"),
        "expired": N_("expired"),
    },
    # A loss report with `now` (spec §approvals) by the loss report's name, 紛失届 as the
    # console's form says it (cli48: the command said 紛失報告).
    "action": {**_ACTIONS, "loss-report": with_word(CAUSE_NAMES["loss-report"], "loss-report")},
}
# Members that count containers per state (``states``: {"active": 3}), shown as the
# console's medium page counts them, "3 active, 1 suspended" (state_words.state_count), in
# the order of the states' lifecycle.
COUNTS: frozenset[str] = frozenset({"states"})
