"""The key server's service layer: every operation, its checks and its audit entry.

The HTTP routers and the local CLI both call :class:`KeyService`; results are JSON-able
dicts identical to the HTTP response bodies (spec §protocol). Each mutating operation is
ONE transaction that takes the audit chain-head lock first (keyserver/_store/audit.py),
applies the change, appends its audit entry, and commits before anything is returned: no
key evaluation leaves the server before its audit record is durable, and a suspension or
destruction that has returned is visible to every instance sharing the database.

:class:`KeyService` is composed, not inherited: one :class:`~keyserver._store.ledger.Ledger`
(engine, sessions, audit appends, refusal records) shared by the key-release path
(keyserver/_release/) and one object per concern (principals, containers, revocation,
reports, unauthenticated attempts). Its methods are theirs, bound here, so a caller
needs one object and a reader finds each operation in the module of its concern.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from keyserver._domain.context import LOCAL, SYSTEM_ACTOR, RequestContext
from keyserver._domain.metrics import Metrics
from keyserver._domain.settings import Settings
from keyserver._release.batch import Releaser
from keyserver._service.approval_decisions import ApprovalDecisions
from keyserver._service.approvals import ApprovalOps
from keyserver._service.attempt_limits import AttemptLimitOps
from keyserver._service.console import ConsoleOps
from keyserver._service.container_queries import ContainerQueries
from keyserver._service.containers import ContainerOps
from keyserver._service.incident import IncidentOps
from keyserver._service.loss import LossOps
from keyserver._service.media import MediaOps
from keyserver._service.medium_report import MediumReportOps
from keyserver._service.principals import PrincipalOps
from keyserver._service.reports import ReportOps
from keyserver._service.restore import RestoreOps
from keyserver._service.revocation import RevocationOps
from keyserver._service.sweep import SweepOps
from keyserver._service.transparency import TransparencyOps
from keyserver._service.unauthenticated import UnauthenticatedOps
from keyserver._store.ledger import Ledger


class KeyService:
    """All key server operations over one database.

    The arguments are the :class:`~keyserver._store.ledger.Ledger`'s, passed on to it: the
    settings (with the injectable clock and rng), an engine (default: one made from the
    settings) and the metrics (default: a fresh set).
    """

    def __init__(
        self, settings: Settings, engine: Engine | None = None, metrics: Metrics | None = None
    ) -> None:
        self.ledger = Ledger(settings, engine, metrics)
        self.settings = settings
        self.engine = self.ledger.engine
        self.metrics = self.ledger.metrics
        self.keyring = self.ledger.keyring
        self.releases = Releaser(self.ledger)
        self.principals = PrincipalOps(self.ledger)
        self.containers = ContainerOps(self.ledger)
        self.container_queries = ContainerQueries(self.ledger)
        self.revocation = RevocationOps(self.ledger)
        self.attempt_limits = AttemptLimitOps(self.ledger)
        self.losses = LossOps(self.ledger)
        self.sweeper = SweepOps(self.ledger, self.revocation)
        self.reports = ReportOps(self.ledger)
        self.media = MediaOps(self.ledger)
        self.medium_reports = MediumReportOps(self.ledger)
        self.unauthenticated = UnauthenticatedOps(self.ledger, self.principals)
        self.transparency = TransparencyOps(self.ledger)
        self.incidents = IncidentOps(self.ledger, self.transparency, self.medium_reports)
        self.console = ConsoleOps(self.ledger)
        self.restores = RestoreOps(self.ledger, self.transparency)
        # spec §approvals: the irreversible operations pass through the two-person gate,
        # which carries them out at once unless approval_required names them.
        self.approvals = ApprovalOps(self.ledger, self.revocation, self.losses, self.principals)
        self.approval_decisions = ApprovalDecisions(self.ledger, self.revocation, self.principals)
        # spec §evaluate
        self.evaluate = self.releases.evaluate
        self.evaluate_bearer = self.releases.evaluate_bearer
        # spec §auth, §principals
        self.authenticate = self.principals.authenticate
        self.local_actor = self.principals.local_actor
        self.whoami = self.principals.whoami
        self.add_principal = self.approvals.add_principal
        self.list_principals = self.principals.list_principals
        self.issue_token = self.approvals.issue_token
        self.list_tokens = self.principals.list_tokens
        self.revoke_token = self.principals.revoke_token
        self.authenticate_evaluator = self.unauthenticated.authenticate_evaluator
        self.audit_unauthenticated = self.unauthenticated.audit_unauthenticated
        # spec §register, §commit, §receipt, §status
        self.register = self.containers.register
        self.commit = self.containers.commit
        self.receipt = self.containers.receipt
        self.status = self.container_queries.status
        self.search = self.container_queries.search
        self.access = self.container_queries.access
        # spec §media: the media, matched by canonical id
        self.media_list = self.media.media_list
        self.medium_info = self.media.medium_info
        # spec §revocation, §loss
        self.change_state = self.approvals.change_state
        self.report_loss = self.approvals.report_loss
        self.list_approvals = self.approval_decisions.list_approvals
        self.get_approval = self.approval_decisions.get_approval
        self.approve = self.approval_decisions.approve
        self.reject = self.approval_decisions.reject
        self.sweep = self.sweeper.sweep
        # spec §receipt: an active container's attempt count, reset by an official
        self.reset_budget = self.attempt_limits.reset_budget
        self.unconfirmed_attempts = self.attempt_limits.unconfirmed_attempts
        # spec §report, §audit, health
        self.medium_report = self.medium_reports.medium_report
        self.audit_list = self.reports.audit_list
        self.audit_export = self.reports.audit_export
        self.audit_verify = self.reports.audit_verify
        self.audit_chain_status = self.reports.audit_chain_status
        self.counts_by_state = self.reports.counts_by_state
        self.check_master_key = self.reports.check_master_key
        self.ping = self.reports.ping
        # spec §transparency
        self.log_info = self.transparency.log_info
        self.checkpoint = self.transparency.checkpoint
        self.latest_checkpoint = self.transparency.latest_checkpoint
        self.checkpoint_at = self.transparency.checkpoint_at
        self.consistency_proof = self.transparency.consistency_proof
        self.inclusion_proof = self.transparency.inclusion_proof
        self.add_cosignature = self.transparency.add_cosignature
        self.signed_report = self.incidents.signed_report
        # the officials' console (keyserver/_http/console): sessions and its views
        self.console_sign_in = self.console.console_sign_in
        self.console_resume = self.console.console_resume
        self.console_sign_out = self.console.console_sign_out
        self.console_overview = self.console.console_overview
        self.console_find = self.console.console_find
        self.console_medium = self.console.console_medium
        self.console_audit = self.console.console_audit

    @property
    def now(self) -> Callable[[], datetime]:
        """The injected clock (``service.now()`` is the current time)."""
        return self.ledger.now

    def close(self) -> None:
        """Finish queued evaluations, stop the committer thread, dispose of the pool."""
        self.releases.close()
        self.ledger.close()


__all__ = ["LOCAL", "SYSTEM_ACTOR", "KeyService", "RequestContext"]
