"""The key schedule of format v1: Argon2id, HKDF, key wrap, header MAC, receipt MAC.

Pure functions over bytes; no I/O. Every primitive comes from ``cryptography`` or
libargon2 (through ``argon2-cffi-bindings``, the binding ``argon2-cffi`` itself calls); this
module only fixes labels, salts and lengths.

Spec anchors: spec/format.md §key-schedule.
"""

from __future__ import annotations

from typing import Any

from _argon2_cffi_bindings import ffi, lib
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.bindings._rust import openssl as _rust_openssl
from cryptography.hazmat.primitives import hashes

from pycontainer.errors import ContainerError, HeaderAuthError, InputError, WrongPasswordError
from pycontainer.format import primitives as p
from pycontainer.format.stream import AESGCM  # cryptography's (see stream.py)

# HKDF and HMAC: cryptography's own classes, taken where its public modules take them from
# (kdf/hkdf.py: ``HKDF = rust_openssl.kdf.HKDF``, hmac.py: ``HMAC = rust_openssl.hmac.HMAC``;
# the same objects, tests/cli/test_lazy_imports.py), as format/stream.py takes AESGCM. The
# public modules only add the classes to their abstract base classes (the ``kdf`` package's
# KeyDerivationFunction, hashes.HashContext), which no code here asks about: ~1.3 M
# instructions of every small `rwc cat` (issue 15, bench/profiles/startup.md).
HKDF = _rust_openssl.kdf.HKDF
HMAC = _rust_openssl.hmac.HMAC

# libargon2's allocate_cbk and free_cbk (cffi callbacks), or None: see stretch().
Argon2Memory = tuple[Any, Any] | None


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = p.KEY_SIZE) -> bytes:
    """HKDF-SHA-256 (RFC 5869). An empty salt means the RFC's all-zero default."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


PASSWORD_MAX = p.OPRF_INPUT_MAX - len(p.LABEL_OPRF_INPUT) - p.CONTAINER_ID_SIZE  # 65502


def check_password(password: str) -> None:
    """Refuse a password the key schedule cannot take (spec [F-PASSWORD-LENGTH]).

    RFC 9497 bounds the OPRF input to 2^16 - 1 bytes, so the password (its UTF-8 bytes) may
    have at most 65502; checked before anything is sent to a server.

    Raises:
        InputError: The password is too long or is not encodable as UTF-8.
    """
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError(
            "the password contains characters that cannot be encoded (lone surrogates)",
            hint="type the password again",
        ) from None
    if size > PASSWORD_MAX:
        raise InputError(
            f"the password is {size} bytes long; at most {PASSWORD_MAX} bytes are possible",
            hint="use a shorter password",
        )


def oprf_input(container_id: bytes, password: str) -> bytes:
    """Return the VOPRF input: label || container_id || password (UTF-8).

    spec §key-schedule: binding the container id makes each container's password guesses
    separate work even under the same server key.
    """
    return p.LABEL_OPRF_INPUT + container_id + password.encode("utf-8")


def stretch(
    oprf_out: bytes, container_id: bytes, params: p.Argon2Params, memory: Argon2Memory = None
) -> bytes:
    """Argon2id(secret=oprf_out, salt=container_id, t, m, p, version 0x13, 32 bytes).

    The caller must have bounded ``params`` (the header codec does) before calling this.
    ``memory``: libargon2's (allocate, free) callbacks for its blocks
    (``pycontainer.argon2_memory.blocks``: huge pages), or None for its own ``malloc``; the
    bytes out are the same either way.

    Raises:
        ContainerError: libargon2 failed (not enough memory for ``params.m``).
    """
    # Performance: this is the computation argon2-cffi's ``argon2.low_level.hash_secret_raw``
    # makes (argon2_hash: an argon2_context with these fields, then argon2_ctx, Argon2id, raw
    # output), made here on the binding itself: importing the ``argon2`` package costs every
    # `rwc cat` its password hasher, profiles and the dataclasses/inspect modules they load,
    # ~41 M instructions of a ~330 M start-up (issue 15, bench/profiles/startup.md). Through
    # argon2_ctx rather than argon2_hash only for the allocate/free callbacks (``memory``).
    # tests/container/test_keyschedule_argon2.py checks that both give the same bytes;
    # spec/vectors pin them.
    # libargon2 starts its own threads per call, one per lane as argon2_hash does (no shared
    # pool: test_argon2_threads.py), and wipes its m KiB of blocks before freeing them
    # (ARGON2_DEFAULT_FLAGS and the library's FLAG_clear_internal_memory), with or without
    # ``memory``.
    secret = ffi.new("uint8_t[]", oprf_out)
    salt = ffi.new("uint8_t[]", container_id)
    out = ffi.new("uint8_t[]", p.KEY_SIZE)
    ctx = ffi.new("argon2_context *")  # zeroed: no secret, no associated data, no callbacks
    ctx.out, ctx.outlen = out, p.KEY_SIZE
    ctx.pwd, ctx.pwdlen = secret, len(oprf_out)
    ctx.salt, ctx.saltlen = salt, len(container_id)
    ctx.t_cost, ctx.m_cost, ctx.lanes, ctx.threads = params.t, params.m, params.p, params.p
    ctx.version, ctx.flags = p.ARGON2_VERSION, lib.ARGON2_DEFAULT_FLAGS
    if memory is not None:
        ctx.allocate_cbk, ctx.free_cbk = memory
    try:
        rv = lib.argon2_ctx(ctx, lib.Argon2_id)
        if rv != lib.ARGON2_OK:
            raise _argon2_failed(int(rv), params)
        return bytes(ffi.buffer(out, p.KEY_SIZE))
    finally:
        # Security: the copies handed to C hold the VOPRF output and the stretched key;
        # zero them before cffi frees them (argon2-cffi left them to the allocator).
        ffi.memmove(secret, bytes(len(oprf_out)), len(oprf_out))
        ffi.memmove(out, bytes(p.KEY_SIZE), p.KEY_SIZE)


def _argon2_failed(rv: int, params: p.Argon2Params) -> ContainerError:
    if rv == lib.ARGON2_MEMORY_ALLOCATION_ERROR:
        return ContainerError(
            f"not enough memory for the password's Argon2id ({params.m // 1024} MiB)",
            hint="close other programs and try again, or use a computer with more memory",
        )
    reason = ffi.string(lib.argon2_error_message(rv)).decode("ascii", "replace")
    return ContainerError(f"Argon2id failed: {reason}")


def kek(oprf_out: bytes, stretched: bytes, container_id: bytes) -> bytes:
    """KEK = HKDF(ikm = oprf_out || stretched, salt = container_id, info = "rwc/v1 kek")."""
    return hkdf(oprf_out + stretched, container_id, p.LABEL_KEK)


def derive_kek(
    oprf_out: bytes, container_id: bytes, params: p.Argon2Params, memory: Argon2Memory = None
) -> bytes:
    """Run Argon2id and HKDF: the KEK from the verified VOPRF output (``memory``: stretch)."""
    return kek(oprf_out, stretch(oprf_out, container_id, params, memory), container_id)


def wrap(key_enc_key: bytes, nonce: bytes, dek: bytes, receipt_secret: bytes, aad: bytes) -> bytes:
    """Seal DEK || receipt_secret under the KEK (AES-256-GCM, 80 bytes out)."""
    return AESGCM(key_enc_key).encrypt(nonce, dek + receipt_secret, aad)


def unwrap(key_enc_key: bytes, nonce: bytes, wrapped: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Open the wrapped keys.

    Returns:
        (DEK, receipt_secret).

    Raises:
        WrongPasswordError: Authentication failed. The server's proof had verified, so the
            VOPRF output is the server's: the password is wrong (or the slot was altered).
    """
    try:  # spec [F-WRAP]
        plain = AESGCM(key_enc_key).decrypt(nonce, wrapped, aad)
    except InvalidTag:
        raise WrongPasswordError(
            "the password is wrong (the key server answered correctly, but the container "
            "key could not be unlocked)",
            hint="check the password with the person who sealed the container; "
            "every attempt is recorded by the key server",
        ) from None
    return plain[: p.KEY_SIZE], plain[p.KEY_SIZE :]


def header_key(dek: bytes) -> bytes:
    """header_key = HKDF(ikm = DEK, salt = "", info = "rwc/v1 header")."""
    return hkdf(dek, b"", p.LABEL_HEADER)


def payload_key(dek: bytes, payload_nonce: bytes) -> bytes:
    """payload_key = HKDF(ikm = DEK, salt = payload_nonce, info = "rwc/v1 payload")."""
    return hkdf(dek, payload_nonce, p.LABEL_PAYLOAD)


def receipt_key(receipt_secret: bytes, container_id: bytes) -> bytes:
    """receipt_key = HKDF(ikm = receipt_secret, salt = container_id, "rwc/v1 receipt key")."""
    return hkdf(receipt_secret, container_id, p.LABEL_RECEIPT_KEY)


# HMAC and SHA-256 come from cryptography, like every other primitive here, not from the
# stdlib's hmac and hashlib: those load the system's libcrypto beside the one cryptography
# carries, ~11 M instructions of every small `rwc cat`'s start-up for two small MACs and a
# digest (issue 15, bench/profiles/startup.md; tests/cli/test_lazy_imports.py).


def _hmac_sha256(key: bytes, data: bytes) -> HMAC:
    mac = HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac


def header_mac(key: bytes, unsigned: bytes) -> bytes:
    """HMAC-SHA-256(header_key, all header bytes before the MAC)."""
    return _hmac_sha256(key, unsigned).finalize()


def verify_header_mac(key: bytes, unsigned: bytes, mac: bytes) -> None:
    """Check the header MAC in constant time.

    Raises:
        HeaderAuthError: The MAC does not match.
    """
    # spec [F-MAC]: "with a constant-time comparison". HMAC.verify compares in constant
    # time (OpenSSL's CRYPTO_memcmp), as hmac.compare_digest does; a MAC of another length
    # is refused the same way (InvalidSignature).
    try:
        _hmac_sha256(key, unsigned).verify(mac)
    except InvalidSignature:
        raise HeaderAuthError(
            "the container header was modified after sealing (header authentication failed)",
            hint="get a fresh copy of the container from its sender",
        ) from None


def header_digest(header_bytes: bytes) -> bytes:
    """SHA-256 of the complete header (MAC included): what the writer commits at the server."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(header_bytes)
    return digest.finalize()


def receipt_mac(key: bytes, container_id: bytes, challenge: bytes) -> bytes:
    """HMAC-SHA-256(receipt_key, "rwc/v1 receipt" || container_id || challenge)."""
    return _hmac_sha256(key, p.LABEL_RECEIPT + container_id + challenge).finalize()
