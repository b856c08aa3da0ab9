"""Key material at rest: master-key subkeys, sealed per-container secrets, tokens, VOPRF.

spec §keys-at-rest, §erasure.

Per-container VOPRF seeds and receipt keys are stored encrypted with AES-256-GCM under
purpose-specific subkeys HKDF-derived from the master key; the associated data binds each
ciphertext to its container id and purpose, so a ciphertext copied to another row or
column does not open. Destroying a container sets these columns to NULL (crypto-erasure).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from voprf import ristretto

from keyserver.domain.encoding import b64e

CONTAINER_KEY_INFO = b"rwc/v1 container key"  # spec/protocol.md §keys-at-rest: DeriveKeyPair info
RECEIPT_LABEL = b"rwc/v1 receipt"  # spec/format.md §Receipts: receipt_mac label
SEED_BYTES = 32
NONCE_BYTES = 12
TOKEN_PREFIX = "rwc_"  # noqa: S105 - a public prefix, not a secret
TOKEN_RANDOM_BYTES = 32

# spec §row-integrity: the HMAC input of a container row starts with this label.
ROW_MAC_LABEL = b"rwc/v1 container row"

PURPOSE_SEED = b"seed"
PURPOSE_RECEIPT = b"receipt-key"


class SealedDataError(Exception):
    """A stored ciphertext does not open (wrong master key or tampered row)."""


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"rwc/v1 keyserver " + purpose,
    ).derive(master)


@dataclass(frozen=True)
class KeyRing:
    """Subkeys derived from the master key, one per purpose.

    Attributes:
        seal_key: AES-256-GCM key for sealed per-container secrets.
        audit_key: HMAC key of the audit hash chain.
        row_key: HMAC key of the container rows (spec §row-integrity).
    """

    seal_key: bytes = field(repr=False)
    audit_key: bytes = field(repr=False)
    row_key: bytes = field(repr=False)

    @functools.cached_property
    def _aead(self) -> AESGCM:
        # One cipher object per ring: the release path opens a seed per key release.
        return AESGCM(self.seal_key)

    @classmethod
    def from_master(cls, master: bytes) -> KeyRing:
        """Derive the subkeys (HKDF-SHA-256, one ``info`` label per purpose)."""
        return cls(
            seal_key=_subkey(master, b"seal"),
            audit_key=_subkey(master, b"audit"),
            row_key=_subkey(master, b"row-mac"),
        )

    def seal(
        self, container_id: bytes, purpose: bytes, secret: bytes, rng: Callable[[int], bytes]
    ) -> bytes:
        """Encrypt ``secret`` for ``container_id``; returns nonce || ciphertext."""
        nonce = rng(NONCE_BYTES)
        aad = b"rwc/v1 sealed " + purpose + b"\x00" + container_id
        return nonce + self._aead.encrypt(nonce, secret, aad)

    def open(self, container_id: bytes, purpose: bytes, sealed: bytes) -> bytes:
        """Decrypt a value produced by :meth:`seal`.

        Raises:
            SealedDataError: If authentication fails.
        """
        aad = b"rwc/v1 sealed " + purpose + b"\x00" + container_id
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise SealedDataError("sealed key material does not authenticate") from exc


def evaluator(seed: bytes, info: bytes = CONTAINER_KEY_INFO) -> ristretto.Evaluator:
    """Return the per-container VOPRF evaluator (RFC 9497 DeriveKeyPair).

    ``info`` is always the container-key label in the server; the RFC 9497 test vectors
    use their own (tests/vectors/test_server_voprf.py).
    """
    return ristretto.Evaluator.from_seed(seed, info)


def public_key(seed: bytes) -> bytes:
    """Return the 32-byte public key of a container seed."""
    return bytes(evaluator(seed).public_key.serialize())


def parse_blinded(raw: bytes) -> ristretto.BlindedInput:
    """Deserialize a blinded element; raises ValueError for invalid group elements."""
    return ristretto.BlindedInput.deserialize(raw)


def evaluate(
    seed: bytes, blinded: ristretto.BlindedInput, info: bytes = CONTAINER_KEY_INFO
) -> tuple[bytes, bytes]:
    """Evaluate a blinded element; returns (evaluated_element 32 bytes, proof 64 bytes)."""
    out = bytes(evaluator(seed, info).evaluate(blinded).serialize())
    # voprf: serialize() = proof (c||s, 64 bytes) || evaluated element (32 bytes).
    return out[64:], out[:64]


def receipt_mac(receipt_key: bytes, container_id: bytes, challenge: bytes) -> bytes:
    """Spec §key-schedule: HMAC-SHA-256(receipt_key, label || container_id || challenge)."""
    return hmac.new(receipt_key, RECEIPT_LABEL + container_id + challenge, "sha256").digest()


def new_token(rng: Callable[[int], bytes]) -> str:
    """Return a fresh bearer token ``rwc_`` + base64url(32 random bytes)."""
    return TOKEN_PREFIX + b64e(rng(TOKEN_RANDOM_BYTES))


def token_hash(token: str) -> bytes:
    """Return SHA-256 of a token: what the database stores (never the token itself).

    A plain hash suffices because tokens carry 256 bits of entropy (no brute force).
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def challenge_hash(challenge: bytes) -> bytes:
    """Return SHA-256 of a receipt challenge (stored instead of the challenge)."""
    return hashlib.sha256(b"rwc/v1 challenge" + challenge).digest()
