"""The witness's decision (spec §transparency "Witness"): cosign only an append-only log.

Pure: given the log's key, the checkpoint the witness accepted last and a new signed
checkpoint with a consistency proof, either return the checkpoint to cosign or raise. The
edge (keyserver/_cli/witness.py) fetches, stores state and sends the cosignature.
"""

from __future__ import annotations

from collections.abc import Sequence

from keyserver._domain.transparency import ProofError, TransparencyError
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.merkle import verify_consistency
from keyserver._domain.transparency.note import Note, VerifierKey


class ForkError(TransparencyError):
    """The log's new checkpoint is not an extension of the one the witness accepted."""


def check_signed(log_key: VerifierKey, note: Note) -> Checkpoint:
    """Verify the log's signature on a checkpoint note and parse it."""
    log_key.verify_note(note)
    cp = Checkpoint.parse(note.text)
    if cp.origin != log_key.name:
        raise ForkError(f"checkpoint of {cp.origin!r}, expected the log {log_key.name!r}")
    return cp


def decide(
    log_key: VerifierKey, last: Checkpoint | None, note: Note, proof: Sequence[bytes]
) -> Checkpoint:
    """The checkpoint to cosign, or :class:`ForkError` / another TransparencyError.

    A smaller tree than accepted before is a rollback; the same size with another root,
    or a larger tree whose consistency proof does not verify, is a fork: history was
    rewritten. Either way the witness refuses, and keeps its state as it was.
    """
    cp = check_signed(log_key, note)
    if last is None:
        return cp  # trust on first use; the operator checks the first size out of band
    if cp.size < last.size:
        raise ForkError(f"the log went back from {last.size} to {cp.size} entries (rollback)")
    try:
        verify_consistency(last.size, cp.size, last.root_hash, cp.root_hash, proof)
    except ProofError as exc:
        raise ForkError(
            f"checkpoint {cp.size} is not consistent with checkpoint {last.size} "
            f"that this witness cosigned: {exc}"
        ) from exc
    return cp
