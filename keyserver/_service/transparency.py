"""The transparency log's operations (spec §transparency): checkpoints, proofs, cosignatures."""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyserver._domain import logkey
from keyserver._domain.context import LOCAL, OVERSIGHT, RequestContext
from keyserver._domain.errors import InvalidRequestError, NotAllowedError, NotFoundError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.transparency import TransparencyError, UnknownKeyError, merkle
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.cosignature import verify_cosignature
from keyserver._domain.transparency.note import SignerKey, VerifierKey, parse_note
from keyserver._domain.validation import fmt_time
from keyserver._store import published_head, restore_state, tlog
from keyserver._store.ledger import Ledger

log = logging.getLogger("keyserver")

# Sizes and sequence numbers are 64-bit columns (0004_seq_bigint, 0007_tlog_bigint): a
# larger number names nothing, and would overflow the database's BIGINT parameter.
MAX_PROOF_SIZE_ARG = (1 << 63) - 1


@dataclass(frozen=True)
class PublishedGap:
    """Why the database may not serve (spec §backup).

    ``kind``:
    - ``behind``: its audit log ends before the published tree size (an older copy);
    - ``other``: its tree at that size is another one (another database, a rewrite);
    - ``unreadable``: the published record does not verify under this log's key.
    """

    kind: str
    published_size: int
    audit_head: int
    path: Path

    def english(self) -> str:
        """The refusal for logs (the command says it in ja/en: keyserver/_cli/host.py)."""
        if self.kind == "behind":
            return (
                f"the database's audit log ends at entry {self.audit_head}, but this server "
                f"already published a checkpoint of {self.published_size} entries ({self.path}):"
                " it is an older copy; restore it with `keyserver restore-backup`"
            )
        if self.kind == "other":
            return (
                f"the database's audit log differs from the checkpoint of "
                f"{self.published_size} entries this server published ({self.path})"
            )
        return f"{self.path} does not verify under this log's key"


class TransparencyOps:
    """Checkpoints, proofs and cosignatures over the audit log."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._settings = ledger.settings
        self._keyring = ledger.keyring

    @functools.cached_property
    def log_key(self) -> SignerKey | None:
        """The log's signing key, or None (ConfigError for an unsafe or malformed file)."""
        return logkey.load_log_key(self._settings)

    @functools.cached_property
    def witnesses(self) -> list[VerifierKey]:
        """The witnesses whose cosignatures this server accepts."""
        return logkey.witness_keys(self._settings)

    def signing_key(self) -> SignerKey:
        """The log key, or not-found when this server keeps no log."""
        key = self.log_key
        if key is None:
            raise NotFoundError(
                N_(
                    "this key server keeps no transparency log (no log key): create one "
                    "with `keyserver log-key --create` and restart"
                )
            )
        return key

    def log_info(self) -> dict[str, Any]:
        """The log's public identity: origin, public key, witnesses (no authentication)."""
        key = self.signing_key()
        return {
            "origin": key.name,
            "log_key": key.verifier().encode(),
            "witness_keys": [w.encode() for w in self.witnesses],
            "min_cosignatures": logkey.min_cosignatures(self._settings),
        }

    def checkpoint(
        self, actor: Actor | None = None, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Hash every new audit entry into the tree and sign a checkpoint if it grew.

        ``actor`` None is the background checkpointer; an actor needs official or auditor
        (on-demand: e.g. right before issuing a report).
        """
        if actor is not None:
            self._ledger.require(
                actor, OVERSIGHT, N_("make checkpoints"), action="tlog.checkpoint", ctx=ctx
            )
        key = self.signing_key()
        caught_up = False
        # Durable before published (spec §consistency): release batches commit before
        # their flush (keyserver/_store/durability.py), but every entry enters the tree in
        # a transaction that writes its nodes and commits synchronously (PostgreSQL: it
        # has an xid, so its COMMIT flushes the WAL up to its own commit record, after
        # the entries it read; SQLite FULL: the COMMIT syncs the whole WAL). So every
        # entry a checkpoint covers is durable before the checkpoint is signed, served,
        # written to the .published file or used by a signed report.
        while not caught_up:  # several short transactions after a long pause
            with self._ledger.tx() as session:
                frontier, caught_up = tlog.extend(session, self._keyring.audit_key)
                if caught_up:
                    tlog.sign(session, key, frontier, self._ledger.now())
        with self._ledger.reads() as session:
            newest = tlog.load_checkpoint(session)
        self._publish(newest)
        return _checkpoint_doc(newest)

    def _publish(self, newest: tlog.StoredCheckpoint) -> None:
        """Keep the newest signed checkpoint outside the database (spec §backup)."""
        path = published_head.path_for(self._settings)
        if path is None:
            return
        try:
            published_head.advance(
                path, newest.size, newest.text, lambda text: self._head(text).size
            )
        except OSError as exc:
            # The checkpoint is committed and served already; failing it here would stop
            # incident reports too. Said loudly instead: until this works, a database
            # copied back by hand is not recognised at start (spec §backup).
            log.error(  # noqa: TRY400 - the cause is in the line; a traceback adds nothing
                "cannot keep the published checkpoint in %s (%s): a database copied back "
                "without `keyserver restore-backup` would not be refused",
                path,
                exc.strerror or type(exc).__name__,
            )

    def _head(self, text: str) -> Checkpoint:
        """The checkpoint of a stored note, verified under this log's key.

        Raises:
            ValueError: The note is malformed or not signed by this log's key.
        """
        key = self.signing_key()
        try:
            note = parse_note(text.encode("utf-8"))
            key.verifier().verify_note(note)
            checkpoint = Checkpoint.parse(note.text)
        except (TransparencyError, UnicodeError) as exc:
            raise ValueError(str(exc)) from exc
        if checkpoint.origin != key.name:
            raise ValueError("the checkpoint names another log")
        return checkpoint

    def published_gap(self) -> PublishedGap | None:
        """How the database falls short of what this server published, or None if it does not.

        spec §backup: a database copied back without ``keyserver restore-backup`` serves
        rows older than its published log (destroyed seeds back). The newest checkpoint
        this server signed is kept beside the log key; the database's audit log must
        reach its tree size and hold the same tree there. A restored database with its
        marker is left to the marker (it serves nothing until replayed).
        """
        path = published_head.path_for(self._settings)
        if path is None or self.log_key is None:
            return None
        text = published_head.read(path)
        if text is None:
            return None
        try:
            head = self._head(text)
        except ValueError:
            return PublishedGap("unreadable", 0, 0, path)
        with self._ledger.reads() as session:
            if restore_state.current(session) is not None:
                return None
            audit_head = tlog.audit_head(session)
            if audit_head < head.size:
                return PublishedGap("behind", head.size, audit_head, path)
            stored = tlog.root_at(session, head.size)
        if stored is not None and not hmac.compare_digest(stored, head.root_hash):
            return PublishedGap("other", head.size, audit_head, path)
        return None

    def latest_checkpoint(self, min_cosignatures: int = 0) -> str:
        """The newest checkpoint note (with every stored cosignature)."""
        self.signing_key()
        with self._ledger.reads() as session:
            found = tlog.newest_cosigned(session, min_cosignatures)
            if found is None:
                raise NotFoundError(
                    N_("no checkpoint has that many cosignatures yet")
                    if min_cosignatures
                    else N_("no checkpoint yet")
                )
            return found.text

    def checkpoint_at(self, size: int) -> str:
        """The checkpoint note of tree size ``size``."""
        self.signing_key()
        if not 0 <= size <= MAX_PROOF_SIZE_ARG:
            raise InvalidRequestError(N_("the tree size must be between 0 and 2^63 - 1"))
        with self._ledger.reads() as session:
            return tlog.load_checkpoint(session, size).text

    def consistency_proof(self, old_size: int, new_size: int) -> dict[str, Any]:
        """RFC 9162 consistency proof between two checkpointed sizes (no authentication).

        Public: it holds interior hashes only, no entry content, and witnesses need it.
        """
        self.signing_key()
        if not 0 <= old_size <= new_size <= MAX_PROOF_SIZE_ARG:
            raise InvalidRequestError(N_("need 0 <= old <= new"))
        with self._ledger.reads() as session:
            # Only sizes the log has signed: proofs to unsigned sizes would be unverifiable.
            new_cp = tlog.load_checkpoint(session, new_size)
            if old_size:
                tlog.load_checkpoint(session, old_size)
            proof = merkle.consistency_proof(tlog.NodeReader(session), old_size, new_cp.size)
        return {"old_size": old_size, "new_size": new_size, "proof": [p.hex() for p in proof]}

    def inclusion_proof(
        self, actor: Actor, seq: int, size: int | None = None, *, ctx: RequestContext = LOCAL
    ) -> dict[str, Any]:
        """Inclusion proof of audit entry ``seq`` in the checkpoint of ``size`` (default newest).

        Officials and auditors may ask for any entry; any other principal only for entries
        it is the actor of (a reader, its own releases): the entry itself is returned.
        """
        self.signing_key()
        if not 1 <= seq <= MAX_PROOF_SIZE_ARG or (
            size is not None and not 1 <= size <= MAX_PROOF_SIZE_ARG
        ):
            raise InvalidRequestError(N_("seq and size must be between 1 and 2^63 - 1"))
        with self._ledger.reads() as session:
            entry = tlog.entry_by_seq(session, seq)
            own = entry.actor == actor.name and not actor.local
            if not (actor.has_any(OVERSIGHT) or own):
                error = NotAllowedError(N_("inclusion proofs of entries of other principals"))
                raise self._ledger.refuse(actor, "tlog.proof", None, ctx, error)
            cp = tlog.load_checkpoint(session, size)
            if cp.size < seq:
                raise NotFoundError(
                    N_(
                        "entry %(seq)s is not covered by checkpoint %(size)s yet; ask again "
                        "after the next checkpoint",
                        seq=seq,
                        size=cp.size,
                    )
                )
            nodes = tlog.NodeReader(session)
            proof = merkle.inclusion_proof(nodes, seq - 1, cp.size)
            leaf = tlog.leaf_data(entry)
        return {
            "seq": seq,
            "leaf_index": seq - 1,
            "tree_size": cp.size,
            "entry": leaf.decode("utf-8"),
            "leaf_hash": merkle.leaf_hash(leaf).hex(),
            "proof": [p.hex() for p in proof],
            "checkpoint": cp.text,
        }

    def add_cosignature(self, note_text: str) -> dict[str, Any]:
        """Accept a witness's cosignature(s) on one of this log's checkpoints.

        No authentication: what is stored is only what verifies under a configured
        witness key, over a checkpoint this log signed.
        """
        key = self.signing_key()
        try:
            note = parse_note(note_text.encode("utf-8"))
            cp = Checkpoint.parse(note.text)
        except TransparencyError as exc:
            raise InvalidRequestError(
                N_("not a checkpoint note: %(reason)s", reason=str(exc))
            ) from None
        if cp.origin != key.name:
            raise InvalidRequestError(N_("the checkpoint is not of this log (origin differs)"))
        # Everything is checked in a read transaction first: an anonymous client posting
        # junk must never take the writers' lock (on SQLite, the key releases' lock).
        with self._ledger.reads() as session:
            stored = tlog.load_checkpoint(session, cp.size)
        if stored.note.text != note.text:
            raise InvalidRequestError(N_("this log never signed that checkpoint"))
        have = {(s.name, s.key_id) for s in stored.note.signatures}
        fresh = []
        for witness in self.witnesses:
            try:
                timestamp = verify_cosignature(witness, note)
            except UnknownKeyError:
                continue
            except TransparencyError as exc:
                raise InvalidRequestError(
                    N_(
                        "cosignature of %(witness)s: %(reason)s",
                        witness=witness.name,
                        reason=str(exc),
                    )
                ) from None
            if (witness.name, witness.key_id) not in have:
                fresh.append((witness, timestamp, witness.find(note).line().rstrip("\n")))
        if not fresh and not have & {(w.name, w.key_id) for w in self.witnesses} & {
            (s.name, s.key_id) for s in note.signatures
        }:
            raise InvalidRequestError(N_("the note carries no cosignature of a configured witness"))
        accepted: list[str] = []
        if fresh:
            with self._ledger.tx() as session:
                for witness, timestamp, line in fresh:
                    if tlog.store_cosignature(
                        session,
                        cp.size,
                        witness.name,
                        witness.key_id,
                        timestamp,
                        line,
                        self._ledger.now(),
                    ):
                        accepted.append(witness.name)
        return {"size": cp.size, "accepted": accepted}


def _checkpoint_doc(cp: tlog.StoredCheckpoint) -> dict[str, Any]:
    return {
        "size": cp.size,
        "root_hash": cp.root.hex(),
        "created_at": fmt_time(cp.created_at),
        "checkpoint": cp.text,
    }
