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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from voprf import ristretto

from keyserver._domain.encoding import b64e

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
class CarriedKeys:
    """Keys that live as long as the deployment: master-key rotation carries them over.

    spec §keys-at-rest: derived from the first generation's master key and, from the
    second generation on, stored sealed under each generation (keyserver/_domain/keygen.py).
    Rotating them would invalidate every audit hash an auditor or witness already holds.

    Attributes:
        audit_key: HMAC key of the audit hash chain.
    """

    audit_key: bytes = field(repr=False)

    @classmethod
    def from_master(cls, master: bytes) -> CarriedKeys:
        """Derive the carried keys from a first-generation master key (HKDF-SHA-256)."""
        return cls(audit_key=_subkey(master, b"audit"))


@dataclass(frozen=True)
class GenerationKeys:
    """The keys of one master-key generation, derived from its data key (HKDF-SHA-256).

    Attributes:
        seal_key: AES-256-GCM key of the sealed per-container secrets.
        row_key: HMAC key of the container rows under this generation (spec
            §row-integrity): a row's MAC is under the key of its ``key_generation``, so a
            row moved to another generation's key without the key does not verify.
    """

    seal_key: bytes = field(repr=False)
    row_key: bytes = field(repr=False)

    @functools.cached_property
    def aead(self) -> AESGCM:
        """One cipher object per generation: the release path opens a seed per release."""
        return AESGCM(self.seal_key)

    @classmethod
    def from_data_key(cls, data_key: bytes) -> GenerationKeys:
        """Spec §keys-at-rest: the subkeys of a generation's 32-byte data (master) key."""
        return cls(seal_key=_subkey(data_key, b"seal"), row_key=_subkey(data_key, b"row-mac"))


@dataclass(frozen=True)
class Generations:
    """What a key ring knows: the carried keys and the keys of each reachable generation.

    Attributes:
        carried: The deployment's long-lived keys.
        keys: Generation number -> its keys.
        current: The generation new secrets are sealed under (the newest known).
    """

    carried: CarriedKeys
    keys: Mapping[int, GenerationKeys] = field(repr=False)
    current: int


class KeyRing:
    """The server's keys, loaded once (lazily) and reloaded when a rotation adds one.

    A rotation (spec §rotation) re-seals rows under a new generation while servers run;
    a server meeting a generation it does not know reloads once (``load``) and then opens
    both: the ring is one object shared by every operation, so a reload reaches them all.

    Args:
        load: Returns the generations (reads the key store: file, HSM, database).
    """

    def __init__(self, load: Callable[[], Generations]) -> None:
        self._load = load
        self._gens: Generations | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_master(cls, master: bytes) -> KeyRing:
        """A ring of one first-generation master key (no rotation yet)."""
        gens = Generations(
            CarriedKeys.from_master(master), {1: GenerationKeys.from_data_key(master)}, 1
        )
        return cls(lambda: gens)

    @property
    def generations(self) -> Generations:
        """The loaded generations (loaded on first use)."""
        gens = self._gens
        if gens is None:
            with self._lock:
                if self._gens is None:
                    self._gens = self._load()
                gens = self._gens
        return gens

    def reload(self) -> None:
        """Read the key store again (a rotation started or ended elsewhere)."""
        gens = self._load()
        with self._lock:
            self._gens = gens

    @property
    def audit_key(self) -> bytes:
        """HMAC key of the audit hash chain (carried across rotations)."""
        return self.generations.carried.audit_key

    @property
    def generation(self) -> int:
        """The generation new secrets are sealed under."""
        return self.generations.current

    def keys_of(self, generation: int) -> GenerationKeys:
        """The keys of ``generation`` (a row's ``key_generation``).

        Raises:
            SealedDataError: This process's master key does not reach that generation.
        """
        keys = self.generations.keys.get(generation)
        if keys is None:
            # A generation added by a rotation after this ring was loaded: read once more.
            self.reload()
            keys = self.generations.keys.get(generation)
        if keys is None:
            raise SealedDataError(f"no key of generation {generation} is configured")
        return keys

    def seal(
        self,
        container_id: bytes,
        purpose: bytes,
        secret: bytes,
        rng: Callable[[int], bytes],
        generation: int | None = None,
    ) -> bytes:
        """Encrypt ``secret`` for ``container_id``; returns nonce || ciphertext.

        ``generation``: the row's generation (default: the current one); one row's
        secrets are always under one generation, the one its ``key_generation`` names.
        """
        nonce = rng(NONCE_BYTES)
        aead = self.keys_of(self.generation if generation is None else generation).aead
        return nonce + aead.encrypt(nonce, secret, _aad(purpose, container_id))

    def open(
        self, container_id: bytes, purpose: bytes, sealed: bytes, generation: int = 1
    ) -> bytes:
        """Decrypt a value produced by :meth:`seal` under ``generation``.

        Raises:
            SealedDataError: If authentication fails or the generation's key is unknown.
        """
        aead = self.keys_of(generation).aead
        try:
            return aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(purpose, container_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise SealedDataError("sealed key material does not authenticate") from exc


def _aad(purpose: bytes, container_id: bytes) -> bytes:
    # spec §keys-at-rest: binds each ciphertext to its row and column.
    return b"rwc/v1 sealed " + purpose + b"\x00" + container_id


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
    """Return a fresh bearer token ``rwc_`` + base64url(32 random bytes), without a "-".

    spec §auth: drawn again while its text holds a "-". Officials copy their token from a
    terminal or an e-mail by double-clicking it (README's card; issue 12, twenty-second
    session: a newcomer noted that a double-click stops at a "-" and copies half the
    token, and sign-in then fails). Letters, digits and "_" are one word to a double-click.
    A draw keeps a token with probability (63/64)^43, about 1/2: the token keeps about 255
    of its 256 bits of entropy, and the format and length are unchanged.
    """
    while "-" in (token := TOKEN_PREFIX + b64e(rng(TOKEN_RANDOM_BYTES))):
        continue
    return token


def token_hash(token: str) -> bytes:
    """Return SHA-256 of a token: what the database stores (never the token itself).

    A plain hash suffices because tokens carry 256 bits of entropy (no brute force).
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def challenge_hash(challenge: bytes) -> bytes:
    """Return SHA-256 of a receipt challenge (stored instead of the challenge)."""
    return hashlib.sha256(b"rwc/v1 challenge" + challenge).digest()
