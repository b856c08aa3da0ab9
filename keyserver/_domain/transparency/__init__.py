"""Transparency log of the audit entries: the I/O-free core (spec §transparency).

RFC 9162 Merkle tree hashing and proofs (:mod:`.merkle`), C2SP ``signed-note`` keys and
signatures (:mod:`.note`), ``tlog-checkpoint`` bodies (:mod:`.checkpoint`) and
``tlog-cosignature/v1`` witness cosignatures (:mod:`.cosignature`). Nothing here touches a
file, a database or the network; the server, the witness and ``verify-report`` call it.
"""

from __future__ import annotations


class TransparencyError(Exception):
    """Base of every error of the transparency core; the message says what failed."""


class TlogFormatError(TransparencyError):
    """Bytes that do not parse under the format they claim (note, checkpoint, key, proof)."""


class BadSignatureError(TransparencyError):
    """A signature from a known key does not verify: the document was altered."""


class UnknownKeyError(TransparencyError):
    """No signature of the expected key is present: signed by another key, or not at all."""


class ProofError(TransparencyError):
    """An inclusion or consistency proof does not verify against the given roots."""
