"""The HSM that holds the master key's wrapping key, through PKCS#11 (python-pkcs11).

spec §keys-at-rest. The wrapping key is an AES-256 key created in the token as sensitive
and never extractable: its value cannot be read out, only used for AES-GCM inside the
HSM. It encrypts one 32-byte data key per generation (stored in ``key_generations``); the
server decrypts that data key once at start-up and seals per-container secrets in
process (spec §keys-at-rest says why: bench/hsm_seal.py measures both designs).

The PIN is passed to the library only: never logged, never in an error message. Every
PKCS#11 failure becomes a :class:`ConfigError` naming the module, token or key label.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from keyserver._domain.keys import NONCE_BYTES
from keyserver._domain.settings import ConfigError, Settings

if TYPE_CHECKING:
    import pkcs11
    from pkcs11._pkcs11 import lib as Library  # noqa: N812 - a class, named so
    from pkcs11.types import DecryptMixin, EncryptMixin, SecretKey

    class _AesKey(SecretKey, EncryptMixin, DecryptMixin):
        """What get_key returns for an AES key (the stubs split the mixins)."""


_TAG_BITS = 128
# A PKCS#11 module is initialised once per process (C_Initialize); the HSM is used at
# start-up, on a rotation and by the commands, never per request, so one lock serialises
# every use and each use re-initialises the module: it then sees keys another process
# (the rotate command, another instance) created since, and its configuration as it is.
_LOCK = threading.Lock()


def _library(settings: Settings) -> Library:
    try:
        import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it
    except ImportError as exc:
        raise ConfigError("python-pkcs11 is not installed: pip install 'rwc[hsm]'") from exc
    try:
        lib = pkcs11.lib(str(settings.hsm_module))  # cached per module by python-pkcs11
        lib.reinitialize()
    except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
        raise ConfigError(f"cannot load the PKCS#11 module {settings.hsm_module}") from exc
    return lib


@contextmanager
def session(settings: Settings, *, rw: bool = False) -> Iterator[pkcs11.Session]:
    """A logged-in session on the configured token.

    Raises:
        ConfigError: Module, token or PIN wrong (never says which PIN was tried).
    """
    pin = settings.load_hsm_pin()
    with _LOCK:
        lib = _library(settings)
        with _open(lib, settings, pin, rw=rw) as sess:
            yield sess


@contextmanager
def _open(lib: Library, settings: Settings, pin: str, *, rw: bool) -> Iterator[pkcs11.Session]:
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it

    try:
        token = lib.get_token(token_label=settings.hsm_token_label)
    except pkcs11.PKCS11Error as exc:
        raise ConfigError(
            f"no HSM token labelled {settings.hsm_token_label!r} in {settings.hsm_module}"
        ) from exc
    try:
        opened = token.open(rw=rw, user_pin=pin)
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise ConfigError(
            f"the HSM refused the PIN for token {settings.hsm_token_label!r}"
        ) from exc
    except pkcs11.PKCS11Error as exc:
        raise ConfigError(
            f"cannot open the HSM token {settings.hsm_token_label!r} ({type(exc).__name__})"
        ) from exc
    with opened as sess:
        yield sess


def _key(sess: pkcs11.Session, label: str) -> _AesKey:
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it

    try:
        key = sess.get_key(
            object_class=pkcs11.ObjectClass.SECRET_KEY, key_type=pkcs11.KeyType.AES, label=label
        )
    except pkcs11.NoSuchKey as exc:
        raise ConfigError(f"the HSM token has no AES key labelled {label!r}") from exc
    except pkcs11.MultipleObjectsReturned as exc:
        raise ConfigError(f"the HSM token has several keys labelled {label!r}") from exc
    return cast("_AesKey", key)


def has_key(settings: Settings, label: str) -> bool:
    """Whether the token holds a secret key with this label."""
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it

    with session(settings) as sess:
        found = list(sess.get_objects({pkcs11.Attribute.LABEL: label}))
    return bool(found)


def create_wrapping_key(settings: Settings, label: str) -> None:
    """Create the AES-256 wrapping key ``label`` in the token (never extractable).

    Raises:
        ConfigError: A key with this label exists already, or the token refused.
    """
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it
    from pkcs11 import Attribute  # noqa: PLC0415

    if has_key(settings, label):
        raise ConfigError(f"the HSM token already holds a key labelled {label!r}")
    with session(settings, rw=True) as sess:
        try:
            sess.generate_key(
                pkcs11.KeyType.AES,
                256,
                label=label,
                store=True,
                # Security: the key's value never leaves the HSM (SENSITIVE, not
                # EXTRACTABLE), needs a login (PRIVATE), and can only encrypt and decrypt
                # (no WRAP: nothing can export another key under it).
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                    Attribute.MODIFIABLE: False,
                },
            )
        except pkcs11.PKCS11Error as exc:
            raise ConfigError(f"the HSM refused to create the key ({type(exc).__name__})") from exc


def destroy_key(settings: Settings, label: str) -> None:
    """Destroy the wrapping key ``label`` in the token (spec §rotation: the old key).

    Raises:
        ConfigError: No such key, or the token refused.
    """
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it

    with session(settings, rw=True) as sess:
        key = _key(sess, label)
        try:
            key.destroy()
        except pkcs11.PKCS11Error as exc:
            raise ConfigError(
                f"the HSM refused to destroy {label!r} ({type(exc).__name__})"
            ) from exc


def encrypt(settings: Settings, label: str, secret: bytes, aad: bytes, nonce: bytes) -> bytes:
    """AES-256-GCM inside the HSM under ``label``; returns nonce || ciphertext || tag."""
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it
    from pkcs11.mechanisms import GCMParams  # noqa: PLC0415

    with session(settings) as sess:
        key = _key(sess, label)
        try:
            out = key.encrypt(
                secret,
                mechanism=pkcs11.Mechanism.AES_GCM,
                mechanism_param=GCMParams(nonce, aad, _TAG_BITS),
            )
        except pkcs11.PKCS11Error as exc:
            raise ConfigError(f"the HSM refused to encrypt ({type(exc).__name__})") from exc
    assert isinstance(out, bytes)  # one buffer in, one out (not the streaming form)
    return nonce + out


def decrypt(settings: Settings, label: str, sealed: bytes, aad: bytes) -> bytes:
    """Open a value made by :func:`encrypt` inside the HSM.

    Raises:
        ConfigError: The HSM key does not open it (another key, or a tampered value).
    """
    import pkcs11  # noqa: PLC0415 - optional: only an HSM deployment needs it
    from pkcs11.mechanisms import GCMParams  # noqa: PLC0415

    with session(settings) as sess:
        key = _key(sess, label)
        try:
            out = key.decrypt(
                sealed[NONCE_BYTES:],
                mechanism=pkcs11.Mechanism.AES_GCM,
                mechanism_param=GCMParams(sealed[:NONCE_BYTES], aad, _TAG_BITS),
            )
        except pkcs11.PKCS11Error as exc:
            # SoftHSM reports a failed GCM tag as a general error: either way, no key.
            raise ConfigError(
                f"the HSM key {label!r} does not open this database's data key"
            ) from exc
    assert isinstance(out, bytes)  # one buffer in, one out (not the streaming form)
    return out
