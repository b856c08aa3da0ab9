"""The batch's facts in ONE statement: window counts, newer log entries, reader policy.

Why one statement: on PostgreSQL every statement under the chain-head lock is a round
trip the head is held through, and the hold time per release bounds every instance's
rate together (issue 15; bench/profiles/keyserver.md: four reads of these facts, each
its own round trip, held the head 1.02 ms per release for 0.14 ms of CPU). The facts
are plain reads (no row locks), so they go out as one ``UNION ALL`` whose rows say by
``kind`` what they are:

- ``p``: unconfirmed attempts in the window by a principal (spec §receipt);
- ``m``: the same on a medium, for the media of the locked rows (bound as values: a
  join on ``containers`` made PostgreSQL probe the medium index once per challenge of
  the window, 8.8 ms per batch at 1,700 releases/s, measured);
- ``o``: the newest entry naming a container after the oldest ``last_audit_seq`` of the
  batch's rows (spec §row-integrity: only "is there an entry after the row" matters, so
  the index range starts there instead of reading a container's whole history);
- ``r`` / ``g``: reader-policy rows naming the batch's actors or their groups.

Each part is present only when it has values; a shape is compiled once per dialect
(keyserver/_release/compiled.py). On SQLite a shape is which parts and how many values
each (one placeholder per value); on PostgreSQL only which parts, each list bound as ONE
array (:func:`member`), so the text does not change with the batch's size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    LargeBinary,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from keyserver._store.evaluation import ATTEMPTS, in_window
from keyserver._store.models import AuditEntry, Base, ContainerReader, ContainerReaderGroup

_TABLES = Base.metadata.tables
_CH = ATTEMPTS
_LOG = _TABLES[AuditEntry.__tablename__]
_READERS = _TABLES[ContainerReader.__tablename__]
_GROUPS = _TABLES[ContainerReaderGroup.__tablename__]

# Placeholder values fix only a statement's shape; every call binds its own.
_SHAPE_ONLY = datetime(1970, 1, 1, tzinfo=UTC)

#: The parts, in the order of :data:`Shape`'s counts.
KINDS = ("p", "m", "o", "r", "g")
#: How many values each part binds: (pids, media, container texts, (cids, names),
#: (cids, groups)); a part with no values is left out.
Shape = tuple[int, int, int, tuple[int, int], tuple[int, int]]


def member(column: Any, name: str, count: int, *, arrays: bool) -> Any:
    """``column`` is one of the values bound as ``name`` (``count`` of them).

    ``arrays`` (PostgreSQL): ``column = ANY(%(name)s::type[])``, the list bound as one
    array. Why: with one placeholder per value (an expanding IN), every batch size is
    another SQL text, which psycopg prepares only once it has run five times and
    PostgreSQL plans anew until a prepared one has run five more: counted through the
    server, two of a batch's seven reads were planned again (bench/profiles/keyserver.md,
    eighteenth session). One text per statement is planned once per connection. Strings
    are bound as ``TEXT[]``: a cast to ``VARCHAR(n)[]`` would cut a longer value short
    and could make it match (keyserver/_release/unnest.py, the same reason). Otherwise
    (SQLite, which has no arrays): ``column IN (?, ?, ...)``, ``count`` placeholders.
    """
    if arrays:
        element = Text() if isinstance(column.type, String) else column.type
        return column == any_(bindparam(name, type_=ARRAY(element)))
    return column.in_(bindparam(name, [None] * count, expanding=True))


def _row(kind: str, pid: Any, text: Any, cid: Any, n: Any) -> tuple[Any, ...]:
    # The kind is a constant rendered in the SQL (the hot path binds only values); the
    # NULLs are typed so that both dialects unify the parts' column types.
    return (
        literal_column(f"'{kind}'").label("kind"),
        cast(null(), Integer).label("pid") if pid is None else pid.label("pid"),
        cast(null(), String).label("text") if text is None else text.label("text"),
        cast(null(), LargeBinary).label("cid") if cid is None else cid.label("cid"),
        n.label("n"),
    )


def _unconfirmed(*conds: Any) -> tuple[Any, ...]:
    """The unconfirmed evaluations in the window (spec §receipt)."""
    return (*conds, *in_window(bindparam("since", _SHAPE_ONLY)))


def facts_statement(shape: Shape, *, arrays: bool = False) -> Any:
    """The UNION ALL of the parts of ``shape`` (its lists bound as :func:`member` says).

    Columns: ``kind, pid, text, cid, n``. Bind ``since`` (window start), ``after``
    (the lowest ``last_audit_seq``) and the lists ``pids``, ``media``, ``texts``,
    ``rcids``/``names``, ``gcids``/``groups``.
    """
    pids, media, texts, (rcids, names), (gcids, groups) = shape
    parts = []
    if pids:
        parts.append(
            select(*_row("p", _CH.c.principal_id, None, None, func.count()))
            .where(*_unconfirmed(member(_CH.c.principal_id, "pids", pids, arrays=arrays)))
            .group_by(_CH.c.principal_id)
        )
    if media:
        parts.append(
            select(*_row("m", None, _CH.c.medium, None, func.count()))
            .where(*_unconfirmed(member(_CH.c.medium, "media", media, arrays=arrays)))
            .group_by(_CH.c.medium)
        )
    if texts:
        parts.append(
            select(*_row("o", None, _LOG.c.container, None, func.max(_LOG.c.seq)))
            .where(
                member(_LOG.c.container, "texts", texts, arrays=arrays),
                _LOG.c.seq > bindparam("after", 0),
            )
            .group_by(_LOG.c.container)
        )
    if rcids and names:
        parts.append(
            _policy("r", _READERS.c.name, ("rcids", rcids), ("names", names), arrays=arrays)
        )
    if gcids and groups:
        parts.append(
            _policy("g", _GROUPS.c.group_name, ("gcids", gcids), ("groups", groups), arrays=arrays)
        )
    if not parts:
        raise ValueError("a facts statement needs at least one part")
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _policy(
    kind: str, value: Any, cids: tuple[str, int], values: tuple[str, int], *, arrays: bool
) -> Any:
    """The policy rows (``value`` column of its table) naming the batch's cids and values.

    ``cids`` / ``values``: (list name, length) of the two lists (:func:`member`).
    """
    table = value.table
    return select(*_row(kind, None, value, table.c.container_id, literal_column("0"))).where(
        member(table.c.container_id, cids[0], cids[1], arrays=arrays),
        member(value, values[0], values[1], arrays=arrays),
    )
