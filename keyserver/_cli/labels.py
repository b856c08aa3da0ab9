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

# Values shown in words: container states and suspension causes (spec §lifecycle).
_STATES: Mapping[str, Message] = {
    "pending": N_("pending"),
    "active": N_("active"),
    "suspended": N_("suspended"),
    "destroyed": N_("destroyed"),
}
# As the console's report says them (_macros.html cause_label; issue 12, console45: the
# English said ``loss-report`` and the Japanese 紛失報告 beside the console's 紛失届).
_CAUSES: Mapping[str, Message] = {
    "loss-report": N_("Loss report"),
    "official": N_("Suspended by an official"),
    "budget": N_("Too many attempts (attempt budget)"),
}
# What a medium report's attempt row is (spec §report), in the console's words
# (report_words.KIND_NAMES).
_KINDS: Mapping[str, Message] = {**KIND_NAMES, "refused": N_("refused")}
# Audit actions and outcomes (spec §audit). The English text is the protocol's word, the
# one `audit list --action` takes; the Japanese says what it is, with that word after it.
_ACTIONS: Mapping[str, Message] = {
    "register": N_("register"),
    "commit": N_("commit"),
    "evaluate": N_("evaluate"),
    "receipt": N_("receipt"),
    "suspend": N_("suspend"),
    "restore": N_("restore"),
    "destroy": N_("destroy"),
    "budget.reset": N_("budget.reset"),
    "approval.request": N_("approval.request"),
    "approval.approve": N_("approval.approve"),
    "approval.reject": N_("approval.reject"),
    "principal.add": N_("principal.add"),
    "token.issue": N_("token.issue"),
    "token.revoke": N_("token.revoke"),
    "restore.replay": N_("restore.replay"),
}
_OUTCOMES: Mapping[str, Message] = {"ok": N_("ok"), "refused": N_("refused")}
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
    "action": {**_ACTIONS, "loss-report": N_("loss-report")},
}
# Members that count containers per value of another member (``states``: {"active": 3}),
# shown as "active 3, suspended 1" with the values in words and in the order above.
COUNTS: Mapping[str, str] = {"states": "state"}
