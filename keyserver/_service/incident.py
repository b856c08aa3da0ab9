"""Signed incident documents (spec §transparency "Reports").

The medium report and the destruction certificate, each with the checkpoint, its
cosignatures and the inclusion proofs of every audit entry it rests on, signed with the log
key, verifiable offline (:mod:`keyserver._domain.transparency.report`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from keyserver._domain import logkey
from keyserver._domain.context import LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import ConflictError, NotFoundError
from keyserver._domain.i18n import N_, ngettext
from keyserver._domain.lifecycle import Actor
from keyserver._domain.transparency import merkle
from keyserver._domain.transparency.report import Evidence, sign_report
from keyserver._domain.validation import check_text, fmt_time, recordable
from keyserver._service.medium_report import (
    CONTAINER_UNSIGNED_ONLY,
    UNSIGNED_ONLY,
    MediumReportOps,
)
from keyserver._service.transparency import TransparencyOps
from keyserver._store import tlog
from keyserver._store.ledger import Ledger
from keyserver._store.models import Container, Principal


class IncidentOps:
    """Signed medium reports and destruction certificates (officials, auditors)."""

    def __init__(self, ledger: Ledger, log: TransparencyOps, reports: MediumReportOps) -> None:
        self._ledger = ledger
        self._log = log
        self._reports = reports

    def signed_report(
        self, actor: Actor, kind: str, medium: str, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """A signed ``medium-report`` or ``destruction-certificate`` for ``medium``."""
        action = "medium.report" if kind == "medium-report" else "medium.certificate"
        target = recordable("medium", lambda v: check_text(v, "medium"), medium)
        self._ledger.require(
            actor, OVERSIGHT, N_("signed reports"), action=action, target=target, ctx=ctx
        )
        check_text(medium, "medium")
        key = self._log.signing_key()
        # First cover everything logged so far, so the newest checkpoint is as fresh as
        # possible; then take the newest one the witnesses have cosigned.
        self._log.checkpoint()
        needed = logkey.min_cosignatures(self._ledger.settings)
        with self._ledger.reads() as session:
            cp = tlog.newest_cosigned(session, needed)
        if cp is None:
            raise ConflictError(
                ngettext(
                    "no checkpoint has %(needed)s witness cosignature yet: "
                    "let the witnesses run (keyserver witness run), then ask again",
                    "no checkpoint has %(needed)s witness cosignatures yet: "
                    "let the witnesses run (keyserver witness run), then ask again",
                    needed,
                    needed=needed,
                )
            )
        if kind == "medium-report":
            statement = self._medium_statement(actor, medium, cp.size, ctx)
        else:
            statement = self._certificate_statement(medium, cp.size)
        with self._ledger.reads() as session:
            nodes = tlog.NodeReader(session)
            evidence = [
                Evidence(
                    seq,
                    tlog.leaf_data(tlog.entry_by_seq(session, seq)).decode("utf-8"),
                    merkle.inclusion_proof(nodes, seq - 1, cp.size),
                )
                for seq in statement["entries"]
            ]
        issued = fmt_time(self._ledger.now())
        assert issued is not None
        return sign_report(key, kind, issued, statement, cp.text, evidence)

    def _medium_statement(
        self, actor: Actor, medium: str, covered: int, ctx: RequestContext
    ) -> dict[str, Any]:
        report = self._reports.medium_report(actor, medium, ctx=ctx)
        # spec §transparency: the signed medium report keeps its format; the answers from
        # the time told are for people reading the unsigned one (spec §report).
        for key in UNSIGNED_ONLY:
            report.pop(key)
        seqs: set[int] = set()
        uncovered = 0
        for c in report["containers"]:
            for key in CONTAINER_UNSIGNED_ONLY:
                c.pop(key)
            kept = [a for a in c["attempts"] if a["seq"] <= covered]
            uncovered += len(c["attempts"]) - len(kept)
            c["attempts"] = kept
            seqs.update(a["seq"] for a in kept)
        with self._ledger.reads() as session:
            for (seq,) in session.execute(
                select(Container.last_audit_seq).where(Container.medium == medium)
            ):
                if seq is not None and seq <= covered:
                    seqs.add(seq)
        return {
            **report,
            "covered_through_seq": covered,
            "attempts_after_checkpoint": uncovered,
            "entries": sorted(seqs),
        }

    def _certificate_statement(self, medium: str, covered: int) -> dict[str, Any]:
        with self._ledger.reads() as session:
            rows = session.execute(
                select(Container, Principal.name)
                .join(Principal, Principal.id == Container.issuer_id)
                .where(Container.medium == medium, Container.state == "destroyed")
                .order_by(Container.id)
            ).all()
        destroyed: list[dict[str, Any]] = [
            {
                "container_id": b64e(c.id),
                "label": c.label,
                "issuer": issuer,
                "destroyed_at": fmt_time(c.destroyed_at),
                "destroyed_by": c.changed_by,
                "reason": c.reason,
                "public_reason": c.public_reason,
                "seq": c.last_audit_seq,
            }
            for c, issuer in rows
        ]
        if not destroyed:
            raise NotFoundError(
                N_("no destroyed container on medium %(medium)s", medium=repr(medium))
            )
        late = [c for c, _ in rows if c.last_audit_seq is None or c.last_audit_seq > covered]
        if late:
            raise ConflictError(
                N_(
                    "the newest cosigned checkpoint does not cover the destruction yet: "
                    "let the witnesses run (keyserver witness run), then ask again"
                )
            )
        return {
            "medium": medium,
            "containers": destroyed,
            "covered_through_seq": covered,
            "entries": sorted({d["seq"] for d in destroyed}),
        }
