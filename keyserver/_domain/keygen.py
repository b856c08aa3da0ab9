"""Master-key generations: which key opens which rows, and how rotation bridges two of them.

spec §keys-at-rest, §rotation. I/O-free: the records come from the ``key_generations``
table and the configured key from a file or an HSM (keyserver/_store/keystore.py).

Each generation ``g`` has a 32-byte data key ``D_g``: the master key file's content, or
for an HSM generation 32 random bytes stored in the database encrypted by a wrapping key
that never leaves the HSM. Its seal key is ``HKDF(D_g, "rwc/v1 keyserver seal")``. The
record of ``g`` stores, sealed under ``g``'s seal key:

- ``carried``: the deployment's long-lived keys (the audit key), so that the audit chain
  and every head already exported stay valid across rotations;
- during a rotation from ``g-1`` to ``g`` only, two bridges: ``D_{g-1}`` sealed under
  ``g`` and ``D_g`` sealed under ``g-1``, so that a server configured with either key
  opens rows of both generations while rows move. ``--finish`` erases both bridges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag

from keyserver._domain.keys import NONCE_BYTES, CarriedKeys, GenerationKeys, Generations
from keyserver._domain.settings import ConfigError

DATA_KEY_BYTES = 32
SOURCE_FILE = "file"
SOURCE_HSM = "hsm"
# spec §rotation: a generation is ``current`` (the only one outside a rotation), ``next``
# (rows are moving to it), ``old`` (all rows moved, key not destroyed yet), ``destroyed``.
STATE_CURRENT = "current"
STATE_NEXT = "next"
STATE_OLD = "old"
STATE_DESTROYED = "destroyed"
LIVE_STATES = frozenset({STATE_CURRENT, STATE_NEXT, STATE_OLD})

_PURPOSE_CARRIED = b"carried-keys"
_PURPOSE_BRIDGE = b"data-key"
_HSM_AAD = b"rwc/v1 hsm data key\x00"


@dataclass(frozen=True)
class GenerationRecord:
    """One row of ``key_generations``.

    Attributes:
        generation: 1, 2, ... in the order of rotations.
        source: ``file`` or ``hsm``.
        state: One of the ``STATE_*`` values.
        carried: The carried keys sealed under this generation.
        hsm_key_label: The HSM wrapping key's label (HSM generations).
        hsm_wrapped: ``D_g`` encrypted by that key (HSM generations).
        prior_under_this: Bridge: ``D_{g-1}`` sealed under this generation.
        this_under_prior: Bridge: ``D_g`` sealed under generation ``g-1``.
    """

    generation: int
    source: str
    state: str
    carried: bytes = field(repr=False)
    hsm_key_label: str | None = None
    hsm_wrapped: bytes | None = field(default=None, repr=False)
    prior_under_this: bytes | None = field(default=None, repr=False)
    this_under_prior: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConfiguredKey:
    """The key this process was configured with.

    Attributes:
        data_key: The master key file's 32 bytes (file source), else None.
        hsm_key_label: The wrapping key's label (HSM source), else None.
        hsm_decrypt: Decrypts ``(label, blob, aad)`` inside the HSM (HSM source).
    """

    data_key: bytes | None = field(default=None, repr=False)
    hsm_key_label: str | None = None
    hsm_decrypt: Callable[[str, bytes, bytes], bytes] | None = field(default=None, repr=False)

    @property
    def describe(self) -> str:
        """Names the key for messages (never its value)."""
        if self.hsm_key_label is not None:
            return f"the HSM key {self.hsm_key_label!r}"
        return "the master key"


def hsm_aad(generation: int) -> bytes:
    """Spec §keys-at-rest: AAD of a data key encrypted by an HSM wrapping key."""
    return _HSM_AAD + generation.to_bytes(8, "big")


def _seal(key: bytes, purpose: bytes, generation: int, secret: bytes, nonce: bytes) -> bytes:
    aad = b"rwc/v1 sealed " + purpose + b"\x00" + generation.to_bytes(8, "big")
    return nonce + GenerationKeys.from_data_key(key).aead.encrypt(nonce, secret, aad)


def _open(key: bytes, purpose: bytes, generation: int, sealed: bytes) -> bytes | None:
    aad = b"rwc/v1 sealed " + purpose + b"\x00" + generation.to_bytes(8, "big")
    try:
        return GenerationKeys.from_data_key(key).aead.decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad
        )
    except (InvalidTag, ValueError):
        return None


def _encode_carried(carried: CarriedKeys) -> bytes:
    return b"".join(getattr(carried, f.name) for f in dataclasses.fields(CarriedKeys))


def _decode_carried(raw: bytes) -> CarriedKeys:
    names = [f.name for f in dataclasses.fields(CarriedKeys)]
    if len(raw) != DATA_KEY_BYTES * len(names):
        raise ConfigError("the carried keys of this database have the wrong size")
    return CarriedKeys(
        **{n: raw[i * DATA_KEY_BYTES : (i + 1) * DATA_KEY_BYTES] for i, n in enumerate(names)}
    )


def seal_carried(
    data_key: bytes, generation: int, carried: CarriedKeys, rng: Callable[[int], bytes]
) -> bytes:
    """The ``carried`` column of generation ``generation`` (sealed under its data key)."""
    return _seal(data_key, _PURPOSE_CARRIED, generation, _encode_carried(carried), rng(NONCE_BYTES))


def seal_bridge(
    under: bytes, under_generation: int, data_key: bytes, rng: Callable[[int], bytes]
) -> bytes:
    """A bridge: ``data_key`` sealed under the data key of ``under_generation``."""
    return _seal(under, _PURPOSE_BRIDGE, under_generation, data_key, rng(NONCE_BYTES))


def opens(record: GenerationRecord, data_key: bytes) -> bool:
    """Whether ``data_key`` is the data key of ``record``'s generation."""
    return _open(data_key, _PURPOSE_CARRIED, record.generation, record.carried) is not None


def _destroyed(key: ConfiguredKey, generation: int) -> str:
    return (
        f"{key.describe} is generation {generation}, destroyed by a master-key rotation;"
        " configure the current master key"
    )


def _own(records: Sequence[GenerationRecord], key: ConfiguredKey) -> tuple[int, bytes]:
    """Which generation the configured key is, and its data key."""
    for rec in sorted(records, key=lambda r: -r.generation):
        if key.hsm_key_label is not None:
            if rec.source != SOURCE_HSM or rec.hsm_key_label != key.hsm_key_label:
                continue
            if rec.hsm_wrapped is None:
                # --finish erased it: this label's key was the old one of a rotation.
                raise ConfigError(_destroyed(key, rec.generation))
            assert key.hsm_decrypt is not None
            data = key.hsm_decrypt(key.hsm_key_label, rec.hsm_wrapped, hsm_aad(rec.generation))
        elif rec.source == SOURCE_FILE and key.data_key is not None:
            data = key.data_key
        else:
            continue
        if _open(data, _PURPOSE_CARRIED, rec.generation, rec.carried) is None:
            continue
        if rec.state not in LIVE_STATES:
            # spec §rotation: a destroyed generation opens nothing any more.
            raise ConfigError(_destroyed(key, rec.generation))
        return rec.generation, data
    raise ConfigError(f"{key.describe} does not match this database")


def reach(records: Sequence[GenerationRecord], key: ConfiguredKey) -> tuple[int, dict[int, bytes]]:
    """The configured key's generation, and the data keys it reaches (own, bridged).

    Raises:
        ConfigError: The key matches no live generation.
    """
    own_gen, own_key = _own(records, key)
    found = {own_gen: own_key}
    by_gen = {r.generation: r for r in records}
    for other, holder in ((own_gen + 1, own_gen + 1), (own_gen - 1, own_gen)):
        rec, bridge_rec = by_gen.get(other), by_gen.get(holder)
        if rec is None or rec.state not in LIVE_STATES or bridge_rec is None:
            continue
        # The bridge of a rotation from g-1 to g is stored in g's record, both ways.
        bridge = bridge_rec.this_under_prior if other > own_gen else bridge_rec.prior_under_this
        if bridge is not None:
            opened = _open(own_key, _PURPOSE_BRIDGE, own_gen, bridge)
            if opened is not None:
                found[other] = opened
    return own_gen, found


def resolve(records: Sequence[GenerationRecord], key: ConfiguredKey) -> Generations:
    """The generations the configured key gives access to.

    With no record (a database from before rotation existed), a key file is generation 1
    and its audit key is derived as always. Otherwise the key must open one live record;
    a bridge adds the neighbouring generation while a rotation is under way.

    Raises:
        ConfigError: The key matches no live generation, or an HSM key and no record.
    """
    if not records:
        if key.data_key is None:
            raise ConfigError(f"this database has no generation for {key.describe}")
        first = GenerationKeys.from_data_key(key.data_key)
        return Generations(CarriedKeys.from_master(key.data_key), {1: first}, 1)
    own_gen, found = reach(records, key)
    own = next(r for r in records if r.generation == own_gen)
    raw = _open(found[own_gen], _PURPOSE_CARRIED, own_gen, own.carried)
    assert raw is not None  # _own opened it
    return Generations(
        carried=_decode_carried(raw),
        keys={g: GenerationKeys.from_data_key(d) for g, d in found.items()},
        current=max(found),
    )
