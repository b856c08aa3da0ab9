"""The key release's reads of a container row, in SQLAlchemy Core (spec §evaluate).

Split from repository.py (issue 9) by job: the statement that locks one container row
with its policy probes, window counts and row-integrity columns (EVALUATION_STMT), what
an evaluation needs of it (:class:`EvaluationRow`), and the pieces the release batch
reuses (keyserver/_release/: compiled.py compiles them, facts.py and rows.py build on
them; tests/keyserver/test_hotpath.py compares the two paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    exists,
    func,
    literal_column,
    select,
)

from keyserver._domain import rowmac
from keyserver._domain.encoding import b64e
from keyserver._domain.lifecycle import ContainerView
from keyserver._store.models import (
    AuditEntry,
    Base,
    Challenge,
    ContainerReader,
    ContainerReaderGroup,
)

_TABLES = Base.metadata.tables
_C = _TABLES["containers"]
_READERS = _TABLES[ContainerReader.__tablename__]
_READER_GROUPS = _TABLES[ContainerReaderGroup.__tablename__]
_CHALLENGES = _TABLES[Challenge.__tablename__]


@dataclass(frozen=True)
class EvaluationRow:
    """What an evaluation needs of a locked container row.

    ``view.readers`` / ``view.reader_groups`` hold only the policy entries that match the
    requesting actor (its name; its groups when one of them is listed): enough for
    :func:`keyserver._domain.lifecycle.evaluation_refusal`, without loading the whole policy.
    ``principal_unconfirmed`` and ``medium_unconfirmed`` are the committed window counts
    (spec §receipt) as the statement saw them; the batch adds its own queued attempts.
    """

    view: ContainerView
    seed_sealed: bytes | None
    unconfirmed: int
    attempt_budget: int
    header_digest: bytes | None = None  # set at commit (spec §commit), compared at §evaluate
    password_required: bool = True
    medium: str | None = None
    principal_unconfirmed: int = 0
    medium_unconfirmed: int = 0
    key_generation: int = 1  # spec §rotation: the master-key generation of seed_sealed
    # spec §row-integrity: the MACed values as read (keyserver/_domain/rowmac.py FIELDS),
    # the stored MAC, and whether the audit log holds entries after the row's
    # last_audit_seq that may concern it (then keyserver/_release/rowcheck.py asks).
    mac_fields: Mapping[str, Any] = field(default_factory=dict)
    row_mac: bytes | None = None
    log_is_newer: bool = False
    # mac_fields encoded once (rowmac.encode_parts): verified as read, then reused for
    # the MAC of the row written back, only the changed fields encoded again (issue 15:
    # under the chain head). Empty: encoded from mac_fields when needed.
    mac_parts: tuple[bytes, ...] = ()


#: The challenges as attempts (spec §receipt), in the window counts of the release path.
ATTEMPTS = _CHALLENGES.alias("attempts")
_CH = ATTEMPTS


def in_window(since: Any) -> tuple[ColumnElement[bool], ...]:
    """An attempt in the window since ``since``, not confirmed by a receipt (spec §receipt).

    The one definition: the evaluation statement's counts below and the batch's
    (keyserver/_release/facts.py).
    """
    return (_CH.c.issued_at > since, _CH.c.confirmed_at.is_(None))


def _window_count(*conds: ColumnElement[bool]) -> Any:
    """Unconfirmed evaluations in the attempt window matching ``conds`` (spec §receipt)."""
    return (
        select(func.count())
        .select_from(_CH)
        .where(*conds, *in_window(bindparam("since")))
        .scalar_subquery()
    )


# The window counts of a row: by the medium of the row, and by the acting principal.
MEDIUM_WINDOW = _window_count(_CH.c.medium == _C.c.medium).label("medium_unconfirmed")
PRINCIPAL_WINDOW = _window_count(_CH.c.principal_id == bindparam("pid")).label(
    "principal_unconfirmed"
)

_LOG = _TABLES[AuditEntry.__tablename__]

# spec §row-integrity: the MACed columns the policy decision does not read anyway.
EXTRA_MAC_COLUMNS = (
    _C.c.id,
    _C.c.receipt_key_sealed,
    _C.c.destroy_after,
    _C.c.budget_reset_at,
    _C.c.last_audit_seq,
    # spec §rotation: selects the row_key (and the seal key) of the row's generation.
    _C.c.key_generation,
)
# Constants rendered in the SQL: the hot path compiles its statements to text, binding
# every parameter per call (an IN list of bound values would be left for "post-compile").
IS_BULK_ACTION = _LOG.c.action.in_([literal_column(f"'{a}'") for a in rowmac.BULK_ACTIONS])
# The newest entry naming a container (an index-only probe of ix_audit_container_seq),
# and the newest bulk change after a row's last_audit_seq (ix_audit_action_seq): when
# neither is after the row, the log has nothing newer to say about it.
OWN_NEWEST = (
    select(func.max(_LOG.c.seq)).where(_LOG.c.container == bindparam("cid_text")).scalar_subquery()
)
BULK_NEWEST = (
    select(func.max(_LOG.c.seq))
    .where(
        IS_BULK_ACTION,
        _LOG.c.seq > _C.c.last_audit_seq,
        _LOG.c.container.is_(None),
    )
    .scalar_subquery()
    .label("bulk_newest")
)

# Built once (statement construction costs more than executing it on SQLite); values
# are bound per call. The window counts ride along as scalar subqueries: no round trip
# of their own on the release path.
EVALUATION_STMT = (
    select(
        _C.c.state,
        _C.c.issuer_id,
        _C.c.pending_expires_at,
        _C.c.not_after,
        _C.c.destroyed_at,
        _C.c.public_reason,
        _C.c.seed_sealed,
        _C.c.unconfirmed,
        _C.c.attempt_budget,
        exists()
        .where(_READERS.c.container_id == _C.c.id, _READERS.c.name == bindparam("actor"))
        .label("by_name"),
        exists()
        .where(
            _READER_GROUPS.c.container_id == _C.c.id,
            _READER_GROUPS.c.group_name.in_(bindparam("groups", expanding=True)),
        )
        .label("by_group"),
        _C.c.header_digest,
        _C.c.suspend_cause,
        _C.c.password_required,
        _C.c.medium,
        MEDIUM_WINDOW,
        PRINCIPAL_WINDOW,
        *EXTRA_MAC_COLUMNS,
        _C.c.row_mac,
        OWN_NEWEST.label("own_newest"),
        BULK_NEWEST,
    )
    .where(_C.c.id == bindparam("cid"))
    .with_for_update(of=_C)
)

# The epoch: window counts asked for without a window count everything.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def evaluation_row(
    conn: Connection,
    cid: bytes,
    actor_name: str,
    actor_groups: frozenset[str],
    *,
    principal_id: int = 0,
    since: datetime = EPOCH,
) -> EvaluationRow | None:
    """Lock a container row (FOR UPDATE) and check the actor against its policy.

    ONE statement: the row, two EXISTS probes of the reader policy, and the window
    counts of the row's medium and of ``principal_id`` since ``since``.
    """
    row = conn.execute(
        EVALUATION_STMT,
        {
            "cid": cid,
            "actor": actor_name,
            "groups": sorted(actor_groups),
            "pid": principal_id,
            "since": since,
            "cid_text": b64e(cid),
        },
    ).one_or_none()
    if row is None:
        return None
    return row_for_actor(
        row._mapping,
        actor_name,
        actor_groups,
        named=bool(row.by_name),
        grouped=bool(row.by_group),
        counts=(int(row.principal_unconfirmed), int(row.medium_unconfirmed)),
    )


def row_for_actor(
    values: Mapping[Any, Any],
    actor_name: str,
    actor_groups: frozenset[str],
    *,
    named: bool,
    grouped: bool,
    counts: tuple[int, int] = (0, 0),
) -> EvaluationRow:
    """The row for one actor, from the row's columns by name (ONE construction).

    Every read of a container row for a release ends here: :func:`evaluation_row` above,
    and the release batch's two reads (keyserver/_release/rows.py, hotpath.py), so the paths
    cannot decide differently on the same row (tests/keyserver/test_batch_semantics.py,
    test_hotpath.py).

    Args:
        values: The row's columns by name (datetimes converted), with ``own_newest`` and
            ``bulk_newest`` (spec §row-integrity) when read.
        actor_name: The requesting actor.
        actor_groups: Its groups.
        named: A reader-policy row names the actor.
        grouped: A reader-policy row names one of its groups.
        counts: The committed window counts (by principal, on the medium) when read with
            the row (spec §receipt).
    """
    view = ContainerView.of_columns(
        values.__getitem__,
        readers=frozenset({actor_name}) if named else frozenset(),
        reader_groups=actor_groups if grouped else frozenset(),
    )
    seed = values["seed_sealed"]
    digest = values["header_digest"]
    return EvaluationRow(
        view,
        None if seed is None else bytes(seed),
        values["unconfirmed"],
        values["attempt_budget"],
        None if digest is None else bytes(digest),
        password_required=bool(values["password_required"]),
        medium=values["medium"],
        principal_unconfirmed=counts[0],
        medium_unconfirmed=counts[1],
        key_generation=int(values["key_generation"]),
        **integrity_members(values),
    )


def integrity_members(values: Mapping[Any, Any]) -> dict[str, Any]:
    """:class:`EvaluationRow`'s row-integrity members from a row's columns by name.

    ``own_newest`` (the newest entry naming the container, absent when not probed) and
    ``bulk_newest`` say whether the log holds anything after the row's ``last_audit_seq``.
    """
    last = values["last_audit_seq"]
    own, bulk = values.get("own_newest"), values.get("bulk_newest")
    newer = bulk is not None or (own is not None and (last is None or own > last))
    stored = values["row_mac"]
    return {
        "mac_fields": {name: values[name] for name in (*rowmac.FIELD_NAMES, rowmac.GENERATION)},
        "row_mac": None if stored is None else bytes(stored),
        "log_is_newer": newer,
        "mac_parts": tuple(rowmac.encode_parts([values[name] for name in rowmac.FIELD_NAMES])),
    }
