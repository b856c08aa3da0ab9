"""Container operations that only read: status, search, access (spec §status, §access).

The writes (register, commit, receipt) are containers.py's; key releases are the release
package's. A refusal here still writes its audit record (spec §audit), after the read
snapshot is closed, through the ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from keyserver._domain import budget
from keyserver._domain.context import EVALUATORS, LOCAL, OVERSIGHT, WRITER, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import (
    InvalidRequestError,
    KeyServerError,
    NotAllowedError,
    NotFoundError,
)
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor, State, evaluation_refusal
from keyserver._domain.media import canonical_medium
from keyserver._domain.paging import fitting, page_limit
from keyserver._domain.validation import check_name, check_text, decode_container_id, fmt_time
from keyserver._service.media import missing_container, resolve_medium, resolve_principal
from keyserver._store import repository
from keyserver._store.ledger import Ledger
from keyserver._store.models import Container, Principal


class ContainerQueries:
    """Status, search and access of containers: reads, and the audit of their refusals."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings

    def _status_doc(self, session: Session, c: Container) -> dict[str, Any]:
        names, groups = repository.readers_of(session, c.id)
        issuer = session.get(Principal, c.issuer_id)
        return {
            "container_id": b64e(c.id),
            "label": c.label,
            "medium": c.medium,
            "issuer": issuer.name if issuer is not None else None,
            "state": c.state,
            "created_at": fmt_time(c.created_at),
            "pending_expires_at": fmt_time(c.pending_expires_at),
            "activated_at": fmt_time(c.activated_at),
            "not_after": fmt_time(c.not_after),
            "suspended_at": fmt_time(c.suspended_at),
            "destroyed_at": fmt_time(c.destroyed_at),
            "destroy_after": fmt_time(c.destroy_after),
            "loss_reported_at": fmt_time(c.loss_reported_at),
            "lost_at": fmt_time(c.lost_at),
            "suspend_cause": c.suspend_cause,
            "last_confirmed_at": fmt_time(c.last_confirmed_at),
            "changed_by": c.changed_by,
            "reason": c.reason,
            "public_reason": c.public_reason,
            "unconfirmed": c.unconfirmed,
            "attempt_budget": c.attempt_budget,
            "password_required": c.password_required,
            "people": c.people,
            "readers": names,
            "reader_groups": groups,
            "public_key": b64e(c.public_key),
            "header_digest": None if c.header_digest is None else b64e(c.header_digest),
            "last_audit_seq": c.last_audit_seq,
        }

    def status(self, actor: Actor, cid_text: str, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """Return a container's status (officials, auditors, its issuing writer)."""
        cid = decode_container_id(cid_text)
        if not actor.has_any(OVERSIGHT | WRITER):
            # Writers pass the gate (their own containers only, checked below); the
            # problem detail names the roles that see every container.
            self._ledger.require(
                actor,
                OVERSIGHT,
                N_("container status"),
                action="status",
                container=cid_text,
                ctx=ctx,
            )
        with self._ledger.reads() as session:
            c = session.get(Container, cid)
            if c is None:
                # Suggestions from what the caller may see: all, or a writer's own.
                own = None if actor.has_any(OVERSIGHT) or actor.local else actor.principal_id
                raise missing_container(session, cid_text, issuer_id=own)
            if actor.has_any(OVERSIGHT):
                return self._status_doc(session, c)
            doc = self._status_doc(session, c) if c.issuer_id == actor.principal_id else None
        if doc is None:
            # spec §audit: a writer asking about another writer's container is refused
            # and, like every refusal, recorded (after the read snapshot is closed).
            refusal = NotAllowedError(N_("only officials, auditors and the issuer see this"))
            raise self._ledger.refuse(actor, "status", cid_text, ctx, refusal)
        # The issuing writer (often a contractor) sees the public reason only: the
        # internal one may name people or incidents meant for officials and auditors.
        doc["reason"] = doc["public_reason"]
        return doc

    def search(
        self,
        actor: Actor,
        *,
        label: str | None = None,
        medium: str | None = None,
        issuer: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Search containers (officials, auditors); cursor pagination by id.

        Returns:
            ``{containers: [status...], next: cursor | null}``.
        """
        self._ledger.require(actor, OVERSIGHT, N_("searching containers"), action="search", ctx=ctx)
        limit = page_limit(limit, self._settings.max_list_limit)
        if state is not None and state not in {s.value for s in State}:
            raise InvalidRequestError(N_("unknown state"))
        after_id = decode_container_id(after) if after else None
        if label is not None:
            check_text(label, "label")
        if medium is not None:
            canonical_medium(medium)
        if issuer is not None:
            check_name(issuer, "issuer")
        with self._ledger.reads() as session:
            filters: list[ColumnElement[bool]] = []
            if label is not None:
                filters.append(Container.label == label)
            if medium is not None:
                # spec §media: a medium or issuer that matches nothing is not-found with
                # the nearest names, never an empty list an official could misread.
                filters.append(Container.medium == resolve_medium(session, medium).name)
            if state is not None:
                filters.append(Container.state == state)
            if issuer is not None:
                filters.append(
                    Container.issuer_id == resolve_principal(session, issuer, "issuer").id
                )
            rows = repository.search_containers(session, filters, after_id, limit)
            docs = [self._status_doc(session, c) for c in rows]
        page = fitting(docs)  # spec §endpoints: an answer a client can read whole
        more = len(docs) == limit or len(page) < len(docs)
        return {"containers": list(page), "next": page[-1]["container_id"] if more else None}

    def access(self, actor: Actor, cid_text: str, *, ctx: RequestContext = LOCAL) -> dict[str, Any]:
        """What a reader needs before asking for a password (spec §access).

        Releases nothing and counts nothing. Decided like an evaluation (authorisation
        first, then state: the same refusal evaluate would give, audited as ``access``),
        so it tells an admitted reader only what evaluate would.

        Returns:
            ``{container_id, state, password_required, attempts_remaining, attempts_limit}``
            (the last two are null for the writer's own pending container).
        """
        cid = decode_container_id(cid_text)
        self._ledger.require(
            actor, EVALUATORS, N_("container access"), action="access", container=cid_text, ctx=ctx
        )
        now = self._ledger.now()
        refusal: KeyServerError | None = None
        with self._ledger.reads() as session:
            c = session.get(Container, cid)
            if c is None:
                raise NotFoundError(N_("no such container"))
            mode, refusal = evaluation_refusal(
                repository.view_of(session, c), actor, self._settings.contact, now
            )
            since = now - self._settings.attempt_window
            counts = budget.Counts(
                container=c.unconfirmed,
                budget=c.attempt_budget,
                principal=repository.unconfirmed_in_window(
                    session, principal_id=actor.principal_id or 0, medium=None, since=since
                ),
                principal_cap=self._settings.principal_attempt_cap,
                medium=0
                if c.medium is None
                else repository.unconfirmed_in_window(
                    session, principal_id=None, medium=c.medium, since=since
                ),
                medium_cap=self._settings.medium_attempt_cap,
            )
            doc = {
                "container_id": cid_text,
                "state": c.state,
                "password_required": c.password_required,
                "attempts_remaining": None if mode == "seal" else budget.available(counts),
                "attempts_limit": None if mode == "seal" else budget.limit(counts),
            }
        if refusal is not None:
            raise self._ledger.refuse(actor, "access", cid_text, ctx, refusal)
        return doc
