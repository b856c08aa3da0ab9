"""Media: registration, matching by canonical key, not-found with suggestions, listings.

Also the not-found answers with suggestions for the other names an official types:
issuers (principals), container ids and token ids.

spec §media. Every operation that names a medium or an issuer resolves it here, so a
name that matches nothing is refused the same way everywhere (``not-found`` with the
nearest existing names) and nothing is changed: an official who typed
``usb-2022-06-ama `` for ``USB-2022-06-AMA`` acts on the right medium, one who typed
``USB-2022-06-AMX`` is told "did you mean USB-2022-06-AMA?" instead of "affected 0".
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from keyserver._domain.context import LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.encoding import b64e
from keyserver._domain.errors import NotFoundError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.media import (
    ID_PREFIX_CHARS,
    ID_SUGGEST_CUTOFF,
    canonical_medium,
    is_medium,
    nearest,
)
from keyserver._domain.paging import page_limit
from keyserver._domain.validation import check_name, fmt_time
from keyserver._store import repository
from keyserver._store.ledger import Ledger
from keyserver._store.models import Medium, Principal

# Ids sharing a 3-byte prefix with a mistyped one: a handful even among millions.
_CANDIDATES = 1000


def resolve_medium(session: Session, text: str) -> Medium:
    """The registered medium ``text`` names (canonical key match, spec §media).

    Raises:
        InvalidRequestError: ``text`` has no canonical form.
        NotFoundError: No medium has that key; ``suggestions`` lists the nearest names.
    """
    canonical = canonical_medium(text)
    found = repository.medium_by_key(session, canonical.lower())
    if found is None:
        names = nearest(canonical, repository.medium_names(session))
        # The names go in `suggestions` only: each client says "did you mean ...?" once,
        # in its reader's language (the command's hint, the console's list).
        raise NotFoundError(
            N_("no medium %(medium)s", medium=repr(canonical)),
            suggests="medium",
            suggestions=names,
        )
    return found


def resolve_principal(session: Session, name: str, what: str) -> Principal:
    """The principal ``name`` (issuer, reader ...), or not-found with suggestions."""
    check_name(name, what)
    found = repository.principal_by_name(session, name)
    if found is None:
        names = nearest(name, repository.principal_names(session))
        raise NotFoundError(
            N_("no principal named %(name)s", name=repr(name)),
            suggests="principal",
            suggestions=names,
        )
    return found


def missing_container(session: Session, cid_text: str, *, issuer_id: int | None) -> NotFoundError:
    """The ``not-found`` of a container id that names no container, with the nearest ids.

    Only ids the caller may see are offered: every container for officials and auditors
    (``issuer_id`` None), a writer's own otherwise; never to readers, who are not told
    which containers exist. Candidates share the id's first characters (one index range,
    :data:`~keyserver._domain.media.ID_PREFIX_CHARS`).
    """
    prefix = base64.urlsafe_b64decode(cid_text[:ID_PREFIX_CHARS])
    ids = repository.container_ids_from(session, prefix, issuer_id=issuer_id, limit=_CANDIDATES)
    names = nearest(cid_text, [b64e(i) for i in ids], cutoff=ID_SUGGEST_CUTOFF)
    return NotFoundError(N_("no such container"), suggests="container", suggestions=names)


def missing_token(session: Session, token_id: str) -> NotFoundError:
    """The ``not-found`` of a token id, with the nearest ids (admins see every token)."""
    names = nearest(token_id, repository.token_ids(session), cutoff=ID_SUGGEST_CUTOFF)
    return NotFoundError(N_("no such token"), suggests="token", suggestions=names)


def register_medium(session: Session, text: str, now: datetime) -> str:
    """The canonical name of ``text``, registering the medium on its first mention.

    The first registration fixes the name (its case, its spelling); later ones that
    match its key get that name, so all containers of a medium carry one name.
    Call under the chain-head lock (one registration at a time across instances).
    """
    canonical = canonical_medium(text)
    found = repository.medium_by_key(session, canonical.lower())
    if found is not None:
        return found.name
    session.add(Medium(key=canonical.lower(), name=canonical, created_at=now))
    session.flush()
    return canonical


def medium_target(text: str) -> dict[str, str]:
    """What a refusal records of a named medium: its canonical form, when it has one."""
    return {"medium": canonical_medium(text)} if is_medium(text) else {}


def _medium_doc(m: Medium, states: dict[str, int]) -> dict[str, Any]:
    return {
        "medium": m.name,
        "created_at": fmt_time(m.created_at),
        "lost_at": fmt_time(m.lost_at),
        "loss_reported_at": fmt_time(m.loss_reported_at),
        "containers": sum(states.values()),
        "states": dict(sorted(states.items())),
    }


class MediaOps:
    """Listings of media for officials and auditors (``keyserver media``, the console)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings

    def media_list(
        self,
        actor: Actor,
        *,
        after: str | None = None,
        limit: int | None = None,
        ctx: RequestContext = LOCAL,
    ) -> dict[str, Any]:
        """Every medium with its container count per state, ordered by canonical key.

        Returns:
            ``{media: [{medium, created_at, lost_at, loss_reported_at, containers,
            states}], next: cursor | null}`` (``next`` is the last medium of a full page).
        """
        self._ledger.require(actor, OVERSIGHT, N_("listing media"), action="media.list", ctx=ctx)
        limit = page_limit(limit, self._settings.max_list_limit)
        after_key = canonical_medium(after).lower() if after else None
        with self._ledger.reads() as session:
            rows = repository.media_page(session, after_key, limit)
            docs = [_medium_doc(m, states) for m, states in rows]
        nxt = docs[-1]["medium"] if len(docs) == limit else None
        return {"media": docs, "next": nxt}

    def medium_info(
        self, actor: Actor, medium: str, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """One medium with its container count per state (not-found with suggestions)."""
        self._ledger.require(
            actor,
            OVERSIGHT,
            N_("reading media"),
            action="media.list",
            target=medium_target(medium),
            ctx=ctx,
        )
        with self._ledger.reads() as session:
            m = resolve_medium(session, medium)
            states = repository.medium_states(session, m.name)
            return _medium_doc(m, states)
