"""The release batch's transaction: its reads, and its writes sent together (spec §evaluate).

:class:`Batch` runs one batch transaction on the statements of
:class:`~keyserver._release.compiled.HotPath`: the reads before the chain-head lock
(tokens, reader policy: :meth:`Batch.preread`), the locked reads (head, container rows,
attempt windows), and the writes (challenges, container updates, audit entries), queued
and sent together before COMMIT. Nothing here decides anything: policy stays in
keyserver/_domain/lifecycle.py and keyserver/_release/batch.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keyserver._domain.auth import TokenRow
from keyserver._domain.encoding import b64e
from keyserver._release import rows
from keyserver._release.compiled import (
    AUDIT_COLUMNS,
    CHALLENGE_COLUMNS,
    ROW_COLUMNS,
    ROW_TIMES,
    HotPath,
)
from keyserver._release.facts import Shape
from keyserver._release.together import together
from keyserver._release.unnest import Part
from keyserver._store.audit import Head
from keyserver._store.evaluation import EPOCH, EvaluationRow, row_for_actor
from keyserver._store.models import AuditEntry, Base, Challenge

_CHALLENGES = Base.metadata.tables[Challenge.__tablename__]
_LOG = Base.metadata.tables[AuditEntry.__tablename__]


class Batch:
    """The statements of one batch transaction, with its writes deferred.

    Before the lock (:meth:`preread`, on a read-only transaction's cursor): the tokens
    of the batch (:meth:`token`) and the reader-policy entries naming their principals,
    neither of which depends on the chain head (policy rows never change once written;
    a token's revocation is caught under the lock, :meth:`lock_head`). Under the lock
    (:meth:`use` the writing transaction's cursor): the head, the container rows and
    the attempt windows.

    Writes (challenges, container updates) are queued and sent together with the audit
    entries by :meth:`store_head`: on PostgreSQL one statement per table and shape (all
    rows as arrays, HotPath.insert_many) in one round trip; on SQLite one
    ``executemany`` per statement shape.
    A container read again in the same batch (two requests for one container)
    first gets its queued update written, so every job sees the jobs before it, exactly
    as if each had run alone. A token is looked up once per batch (one transaction,
    one snapshot of it). Queued updates of one container are merged column by column
    in job order, so the row ends with the values of its last job (spec §audit: batched
    writes keep job order; ``unconfirmed`` and ``last_audit_seq`` never go backwards).

    The attempt windows (spec §receipt) are counted the same way: the committed count
    of a principal or medium as a statement saw it, minus what this batch had written
    by then, plus every attempt this batch has queued (:meth:`window`).
    """

    def __init__(self, hot: HotPath, cur: Any) -> None:
        self._hot = hot
        self._cur = cur
        self._tokens: dict[bytes, TokenRow | None] = {}
        self._challenges: list[dict[str, Any]] = []
        self._updates: dict[bytes, dict[str, Any]] = {}
        self._dirty: set[bytes] = set()
        # Window counts: committed base per principal / medium, and this batch's attempts
        # (all of them, and those already written by a flush).
        self._base_p: dict[int, int] = {}
        self._base_m: dict[str, int] = {}
        self._added_p: Counter[int] = Counter()
        self._added_m: Counter[str] = Counter()
        self._flushed_p: Counter[int] = Counter()
        self._flushed_m: Counter[str] = Counter()
        self.since: datetime = EPOCH
        # Prefetched rows (column -> value, kept current by update_container), the
        # containers found missing; the (container, name) and (container, group) pairs
        # whose policy entries were probed, and those found.
        self._rows: dict[bytes, dict[str, Any]] = {}
        self._missing: set[bytes] = set()
        self._probed_names: set[tuple[bytes, str]] = set()
        self._probed_groups: set[tuple[bytes, str]] = set()
        self._reader_pairs: set[tuple[bytes, str]] = set()
        self._group_pairs: set[tuple[bytes, str]] = set()

    def use(self, cur: Any) -> None:
        """Run the next statements on ``cur`` (the writing transaction's, after preread)."""
        self._cur = cur

    def preread(self, requests: Sequence[tuple[bytes, str, frozenset[str], int]]) -> None:
        """Probe the reader policy of ``(container, actor, groups, pid)`` requests.

        Before the lock: ``container_readers`` and ``container_reader_groups`` rows are
        written with their container and never changed, so what is read here holds
        under the lock too (a container registered after this read is probed again
        under the lock, :meth:`prefetch`).
        """
        cids = sorted({cid for cid, _, _, _ in requests})
        if len(cids) >= 2:  # one container: the single-statement path probes it
            self._probe_policy(cids, requests)

    def _probe_policy(
        self, cids: Sequence[bytes], requests: Sequence[tuple[bytes, str, frozenset[str], int]]
    ) -> None:
        self._facts(**self._policy_lists(cids, requests))

    @staticmethod
    def _policy_lists(
        cids: Sequence[bytes], requests: Sequence[tuple[bytes, str, frozenset[str], int]]
    ) -> dict[str, list[Any]]:
        """The facts.py lists that probe the policy of ``requests`` on ``cids``."""
        names = sorted({name for _, name, _, _ in requests})
        groups = sorted({g for _, _, gs, _ in requests for g in gs})
        lists: dict[str, list[Any]] = {"rcids": list(cids), "names": names}
        if groups:
            lists.update(gcids=list(cids), groups=groups)
        return lists

    def _facts(self, **lists: list[Any]) -> None:
        """Read the batch's facts in ONE statement (keyserver/_release/facts.py).

        ``lists``: the values of the parts wanted (``pids``, ``media``, ``texts``,
        ``rcids`` + ``names``, ``gcids`` + ``groups``); a missing list leaves its part out.
        """
        get = lists.get
        rcids, names = get("rcids", []), get("names", [])
        gcids, groups = get("gcids", []), get("groups", [])
        shape: Shape = (
            len(get("pids", [])),
            len(get("media", [])),
            len(get("texts", [])),
            (len(rcids), len(names)),
            (len(gcids), len(groups)),
        )
        stmt = self._hot._facts_statement(shape)
        since = self.since
        after = min((int(v["last_audit_seq"] or 0) for v in self._rows.values()), default=0)
        self._cur.execute(
            stmt.sql, stmt.args({**self._hot.lists(lists), "since": since, "after": after})
        )
        rows = self._cur.fetchall()
        # Probed = asked, whether or not a row matched (no row: not in the policy).
        self._probed_names.update((c, n) for c in rcids for n in names)
        self._probed_groups.update((c, g) for c in gcids for g in groups)
        texts = {b64e(cid): cid for cid in self._rows}
        for kind, pid, text, cid, n in rows:
            if kind == "p":
                self._base_p[pid] = int(n)
            elif kind == "m":
                self._base_m[text] = int(n)
            elif kind == "o":
                self._rows[texts[text]]["own_newest"] = n
            elif kind == "r":
                self._reader_pairs.add((bytes(cid), text))
            else:
                self._group_pairs.add((bytes(cid), text))

    def prefetch(self, requests: Sequence[tuple[bytes, str, frozenset[str], int]]) -> None:
        """Lock the containers of ``(container id, actor, groups, pid)`` requests at once.

        Under the head lock, for the whole batch instead of one per request, in two
        statements: the rows, locked ``FOR UPDATE`` (after the chain head, the lock
        order of every writer); then the batch's facts (keyserver/_release/facts.py):
        the window counts of every principal and medium of the batch, whether the log
        holds entries after a row, and the policy probes :meth:`preread` did not cover
        (requests taken after it). Then :meth:`evaluation_row` answers from these,
        with :meth:`update_container`'s changes applied as they are queued, so a later
        request for the same container sees the earlier one's effect.
        """
        cids = sorted({cid for cid, _, _, _ in requests})
        if len(cids) < 2:
            return  # one container: the single-statement path costs the same
        hot, dt = self._hot, self._hot._dt_result
        stmt = hot._rows_statement(len(cids))
        self._cur.execute(stmt.sql, stmt.args(hot.lists({"cids": cids})))
        for row in self._cur.fetchall():
            values = dict(zip(ROW_COLUMNS, row[1:-1], strict=True))
            for name in ROW_TIMES:
                values[name] = dt(values[name])
            values["id"] = bytes(row[0])
            values["bulk_newest"] = row[-1]
            self._rows[bytes(row[0])] = values
        self._missing = set(cids) - self._rows.keys()
        uncovered = [
            r
            for r in requests
            if (r[0], r[1]) not in self._probed_names
            or any((r[0], g) not in self._probed_groups for g in r[2])
        ]
        lists: dict[str, list[Any]] = {
            "pids": sorted({pid for _, _, _, pid in requests}),
            # A container's medium never changes: the locked rows name the batch's media.
            "media": sorted({v["medium"] for v in self._rows.values() if v["medium"] is not None}),
            "texts": sorted(b64e(cid) for cid in self._rows),
        }
        if uncovered:
            lists.update(self._policy_lists(sorted({r[0] for r in uncovered}), uncovered))
        # The window counts of every principal and medium of the batch (0 if none).
        self._base_p = dict.fromkeys(lists["pids"], 0)
        self._base_m = dict.fromkeys(lists["media"], 0)
        self._facts(**lists)

    def _prefetched(
        self, cid: bytes, actor_name: str, actor_groups: frozenset[str], principal_id: int
    ) -> EvaluationRow | bool | None:
        """The row from :meth:`prefetch`; False when it was not prefetched for this actor."""
        if (cid, actor_name) not in self._probed_names:
            return False
        if any((cid, g) not in self._probed_groups for g in actor_groups):
            return False
        if principal_id not in self._base_p:
            return False
        if cid in self._missing:
            return None
        values = self._rows.get(cid)
        if values is None:
            return False
        return row_for_actor(
            values,
            actor_name,
            actor_groups,
            named=(cid, actor_name) in self._reader_pairs,
            grouped=any((cid, g) in self._group_pairs for g in actor_groups),
        )

    def lock_head(self, seen: int | None = None) -> Head:
        """Lock the audit chain head (the batch's first lock; spec §audit).

        ``seen``: the head's seq the tokens were read at (:meth:`read_tokens`). If a token was
        revoked since (an entry after it, same statement, no extra round trip), every
        token is looked up again under the lock, so no release is decided on a token
        whose revocation is ordered before it (spec §consistency).
        """
        stmt = self._hot._lock_head
        self._cur.execute(stmt.sql, stmt.args({"seen": _NEVER if seen is None else seen}))
        # A fifth column (PostgreSQL's async commit, compiled.py) is only a side effect.
        seq, digest, at, revoked = self._cur.fetchone()[:4]
        if revoked:
            self._tokens.clear()
        return Head(seq=seq, hash=bytes(digest), at=self._hot._dt_result(at))

    def read_tokens(self, digests: Sequence[bytes]) -> int:
        """Look up the batch's tokens and the head's seq, in ONE statement (before the lock).

        Returns the head's seq as committed in the statement's snapshot: what the
        tokens read are current as of. A revocation commits its token and its audit
        entry (which moves the head) together, so it is in both or in neither; if it
        is in neither, :meth:`lock_head` sees an entry after this seq and every token is
        looked up again under the lock (spec §consistency).
        """
        wanted = sorted({d for d in digests if d not in self._tokens})
        stmt = self._hot._tokens_statement(len(wanted))
        # The batch transaction's first statement: its BEGIN goes with it (together.py).
        with together(self._cur, postgres=self._hot.unnest is not None, begin=True):
            self._cur.execute(stmt.sql, stmt.args(self._hot.lists({"digests": wanted})))
        found, seen = self._token_rows(self._cur.fetchall())
        for digest in wanted:
            self._tokens[digest] = found.get(digest)
        # No head row cannot happen (the genesis head is created with the schema); if it
        # did, 0 makes lock_head look every token up again if any was ever revoked.
        return 0 if seen is None else seen

    def token(self, digest: bytes) -> TokenRow | None:
        """Token, principal, roles and groups by the token's SHA-256 (one statement)."""
        if digest in self._tokens:
            return self._tokens[digest]
        stmt = self._hot._token
        self._cur.execute(stmt.sql, stmt.args({"digest": digest}))
        found = self._token_rows(self._cur.fetchall())[0].get(digest)
        self._tokens[digest] = found
        return found

    def _token_rows(self, rows: Sequence[Any]) -> tuple[dict[bytes, TokenRow], int | None]:
        """TOKEN_STMT rows by token, and the head's seq if an ``h`` row came with them."""
        dt = self._hot._dt_result
        by: dict[bytes, list[Any]] = {}
        seen = None
        for r in rows:
            if r[6] == "h":
                seen = int(r[3])
            else:
                by.setdefault(bytes(r[0]), []).append(r)
        tokens = {
            digest: TokenRow(
                token_hash=digest,
                revoked_at=dt(first[1]),
                expires_at=dt(first[2]),
                principal_id=first[3],
                name=first[4],
                organisation=first[5],
                roles=frozenset(r[7] for r in rs if r[6] == "r" and r[7] is not None),
                groups=frozenset(r[7] for r in rs if r[6] == "g"),
            )
            for digest, rs in by.items()
            for first in rs[:1]
        }
        return tokens, seen

    def evaluation_row(
        self, cid: bytes, actor_name: str, actor_groups: frozenset[str], principal_id: int = 0
    ) -> EvaluationRow | None:
        """Lock one container row and probe the policy for the actor (one statement).

        Same statement and result as :func:`keyserver._store.evaluation.evaluation_row`
        (answered from :meth:`prefetch` when it covered this container and actor); the
        window counts it carries are the committed ones, :meth:`window` adds the batch's.
        """
        cached = self._prefetched(cid, actor_name, actor_groups, principal_id)
        if cached is not False:
            return cached  # type: ignore[return-value]
        if cid in self._dirty:
            self._flush()
        groups = sorted(actor_groups)
        stmt = self._hot._evaluation_statement(len(groups))
        values: dict[str, Any] = {
            "cid": cid,
            "actor": actor_name,
            "pid": principal_id,
            "since": self.since,
            "cid_text": b64e(cid),
        }
        values.update({f"groups_{i}": g for i, g in enumerate(groups, start=1)})
        self._cur.execute(stmt.sql, stmt.args(values))
        row = self._cur.fetchone()
        if row is None:
            return None
        values, named, grouped, counts = rows.statement_values(cid, row, self._hot._dt_result)
        # Committed counts as this statement saw them, without what this batch wrote.
        medium = values["medium"]
        self._base_p[principal_id] = counts[0] - self._flushed_p[principal_id]
        if medium is not None:
            self._base_m[medium] = counts[1] - self._flushed_m[medium]
        return row_for_actor(
            values, actor_name, actor_groups, named=named, grouped=grouped, counts=counts
        )

    @property
    def hot(self) -> HotPath:
        """The compiled statements this batch runs (keyserver/_release/compiled.py)."""
        return self._hot

    def run(self, sql: str, args: Any) -> list[Any]:
        """Execute one statement of :attr:`hot` on the batch's cursor; its rows."""
        self._cur.execute(sql, args)
        return list(self._cur.fetchall())

    def window(self, principal_id: int, medium: str | None) -> tuple[int, int]:
        """Unconfirmed attempts in the window (spec §receipt): (by principal, on medium).

        Valid after :meth:`evaluation_row` for this principal and the row's medium.
        """
        by_principal = self._base_p.get(principal_id, 0) + self._added_p[principal_id]
        if medium is None:
            return by_principal, 0
        return by_principal, self._base_m.get(medium, 0) + self._added_m[medium]

    def insert_challenge(
        self,
        digest: bytes,
        cid: bytes,
        principal_id: int,
        issued_at: datetime,
        expires_at: datetime,
        *,
        medium: str | None = None,
    ) -> None:
        """Queue a receipt challenge (its hash only); it counts in the windows at once."""
        self._challenges.append(
            {
                "challenge_hash": digest,
                "container_id": cid,
                "principal_id": principal_id,
                "issued_at": issued_at,
                "expires_at": expires_at,
                "medium": medium,
            }
        )
        self._added_p[principal_id] += 1
        if medium is not None:
            self._added_m[medium] += 1

    def update_container(self, cid: bytes, values: Mapping[str, Any]) -> None:
        """Queue new values for columns of one (already locked) container row."""
        # Merged in job order: a later job's value of a column replaces an earlier one,
        # whatever columns each job changed (one UPDATE per row, never out of order).
        self._updates.setdefault(cid, {}).update(values)
        self._dirty.add(cid)
        cached = self._rows.get(cid)
        if cached is not None:
            cached.update((k, v) for k, v in values.items() if k in cached)
            if "last_audit_seq" in values:
                # Written by this batch: nothing in the log is newer than the row now.
                cached["own_newest"] = cached["bulk_newest"] = None

    def _parts(self) -> list[Part]:
        """The queued writes: challenges, then container updates (one part per shape)."""
        parts: list[Part] = []
        if self._challenges:
            parts.append((_CHALLENGES, CHALLENGE_COLUMNS, self._challenges))
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for cid, values in self._updates.items():
            shapes.setdefault(tuple(sorted(values)), []).append({"row_id": cid, **values})
        parts.extend((None, keys, rows) for keys, rows in shapes.items())
        return parts

    def _written(self) -> None:
        self._challenges = []
        self._updates = {}
        self._dirty.clear()
        self._flushed_p = self._added_p.copy()
        self._flushed_m = self._added_m.copy()

    def _flush(self) -> None:
        """Write the queued rows now (a container read again in the same batch)."""
        for part in self._parts():
            self._write(part)
        self._written()

    def _write(self, part: Part) -> None:
        """One part as one statement on PostgreSQL (arrays), a multi-row INSERT on SQLite.

        On SQLite, a table's rows go in one INSERT (HotPath.insert_rows) and container
        updates in one ``executemany`` per shape.
        psycopg's ``executemany`` sends one statement per row, each costing ~25 us of
        Python under the chain-head lock (keyserver/_release/unnest.py); sqlite3's
        loops in C but releases the GIL at every row (compiled.py, insert_rows).
        """
        table, columns, rows = part
        hot, unnest = self._hot, self._hot.unnest
        if unnest is not None:
            if table is None:
                sql, columns = unnest.update(columns), ("row_id", *columns)
            else:
                sql = unnest.insert(table, columns)
            self._cur.execute(sql, unnest.arrays(columns, rows))
            return
        if table is None:
            stmt = hot._update_statement(tuple(columns))
            self._cur.executemany(stmt.sql, [stmt.args(r) for r in rows])
            return
        args = hot.inserts[table.name].args
        done = 0
        while done < len(rows):
            sql, count = hot.insert_rows(table.name, len(rows) - done)
            self._cur.execute(sql, [v for r in rows[done : done + count] for v in args(r)])
            done += count

    def store_head(self, head: Head, *, commit: bool = False) -> None:
        """Write the queued rows and audit entries, and advance the head (before COMMIT).

        On PostgreSQL in ONE statement (keyserver/_release/unnest.py), and with
        ``commit`` the transaction's COMMIT in the same round trip (together.py): not
        run if the writes fail. On SQLite (no network) one ``executemany`` each.
        """
        parts = self._parts()
        if head.pending:
            parts.append((_LOG, AUDIT_COLUMNS, head.pending))
        hot, unnest = self._hot, self._hot.unnest
        if unnest is None:
            for part in parts:
                self._write(part)
            stmt = hot._store_head
            self._cur.execute(stmt.sql, stmt.args({"seq": head.seq, "hash": head.hash}))
        else:
            values: dict[str, Any] = {"head_seq": head.seq, "head_hash": head.hash}
            for i, (table, columns, rows) in enumerate(parts):
                names = columns if table is not None else ("row_id", *columns)
                values.update(unnest.arrays(names, rows, f"w{i}_"))
            with together(self._cur, postgres=True):
                self._cur.execute(unnest.writes(parts), values)
                if commit:
                    self._cur.execute("COMMIT", prepare=False)
        head.pending = []
        self._written()


# lock_head's "revoked since" when nothing was read before the lock: no entry is newer.
_NEVER = 2**63 - 1
