r"""C2SP tlog-cosignature, Ed25519 ``cosignature/v1`` (spec §transparency).

A witness signs ``"cosignature/v1\n" || "time " || decimal(timestamp) || "\n" ||
checkpoint body`` and puts ``timestamp (u64, big-endian) || Ed25519 signature`` after
the 4-byte key ID (type ``0x04``) in an ordinary signed-note signature line. The
statement: as of ``timestamp`` this is the largest consistent tree head the witness has
seen for the origin.
"""

from __future__ import annotations

import struct

from keyserver._domain.transparency import BadSignatureError, TlogFormatError
from keyserver._domain.transparency.note import (
    COSIGNATURE_V1,
    Note,
    Signature,
    SignerKey,
    VerifierKey,
)

MAX_TIMESTAMP = (1 << 63) - 1


def signed_message(body: str, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise TlogFormatError("a cosignature timestamp lies outside 0 .. 2^63 - 1")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(key: SignerKey, body: str, timestamp: int) -> Signature:
    """The witness's signature line over a checkpoint body at ``timestamp`` (POSIX seconds)."""
    if key.key_type != COSIGNATURE_V1:
        raise TlogFormatError("a witness key has type 0x04 (cosignature/v1)")
    sig = key.sign_raw(signed_message(body, timestamp))
    return Signature(key.name, key.verifier().key_id, struct.pack(">Q", timestamp) + sig)


def verify_cosignature(key: VerifierKey, note: Note) -> int:
    """Verify the cosignature of ``key`` on a checkpoint note; return its timestamp.

    Raises :class:`~keyserver._domain.transparency.UnknownKeyError` when the note has none,
    :class:`BadSignatureError` when it does not verify.
    """
    if key.key_type != COSIGNATURE_V1:
        raise TlogFormatError("a witness key has type 0x04 (cosignature/v1)")
    sig = key.find(note)
    if len(sig.signature) != 8 + 64:
        raise BadSignatureError(f"the cosignature of {key.name} is not 72 bytes")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    key.verify_raw(signed_message(note.text, timestamp), sig.signature[8:])
    return int(timestamp)
