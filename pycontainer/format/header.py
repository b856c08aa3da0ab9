"""Header codec: bytes <-> dataclasses, canonical and strict, no cryptography.

The header is parsed with ``construct`` from a buffer whose length was bounded first
(``HEADER_MIN <= header_length <= HEADER_MAX``), so no field can make us allocate more than
64 KiB. Decoding then re-checks every rule of the spec, so that exactly one byte string
encodes a given header (re-encoding a decoded header gives the same bytes).

Spec anchors: spec/format.md §header, §slot-server-oprf, §extensions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import construct as c

from pycontainer.errors import FormatError, UnsupportedVersionError
from pycontainer.format import primitives as p

_PREFIX = c.Struct(
    "magic" / c.Bytes(8),
    "version" / c.Int16ub,
    "header_length" / c.Int32ub,
)

_SLOT = c.Struct(
    "type" / c.Int16ub,
    "body" / c.Prefixed(c.Int16ub, c.GreedyBytes),
)

_EXT = c.Struct(
    "type" / c.Int16ub,
    "flags" / c.Int8ub,
    "body" / c.Prefixed(c.Int16ub, c.GreedyBytes),
)

_BODY = c.Struct(
    "magic" / c.Bytes(8),
    "version" / c.Int16ub,
    "header_length" / c.Int32ub,
    "suite" / c.Int16ub,
    "chunk_log2" / c.Int8ub,
    "payload_nonce" / c.Bytes(p.PAYLOAD_NONCE_SIZE),
    "slots" / c.PrefixedArray(c.Int8ub, _SLOT),
    "exts" / c.PrefixedArray(c.Int8ub, _EXT),
)

_OPRF_SLOT_AAD = c.Struct(
    "url" / c.Prefixed(c.Int16ub, c.GreedyBytes),
    "container_id" / c.Bytes(p.CONTAINER_ID_SIZE),
    "public_key" / c.Bytes(p.PUBLIC_KEY_SIZE),
    "argon2_m" / c.Int32ub,
    "argon2_t" / c.Int32ub,
    "argon2_p" / c.Int32ub,
)

_OPRF_SLOT = c.Struct(
    "aad" / c.RawCopy(_OPRF_SLOT_AAD),
    "wrap_nonce" / c.Bytes(p.WRAP_NONCE_SIZE),
    "wrapped" / c.Bytes(p.WRAPPED_SIZE),
    c.Terminated,
)


@dataclass(frozen=True)
class OprfSlot:
    """Slot type 1 ``server-oprf`` (spec §slot-server-oprf).

    Attributes:
        url: The key server's base URL.
        container_id: 16-byte container id (also the Argon2 and HKDF salt).
        public_key: The server's 32-byte ristretto255 VOPRF public key for this container.
        argon2: Argon2id cost parameters.
        wrap_nonce: AES-GCM nonce of the wrapped keys.
        wrapped: AES-256-GCM(KEK, DEK || receipt_secret), 80 bytes.
    """

    url: str
    container_id: bytes
    public_key: bytes
    argon2: p.Argon2Params
    wrap_nonce: bytes
    wrapped: bytes

    def aad(self) -> bytes:
        """Return the slot body bytes before ``wrap_nonce``: the AAD of the key wrap."""
        return bytes(
            _OPRF_SLOT_AAD.build(
                {
                    "url": self.url.encode("utf-8"),
                    "container_id": self.container_id,
                    "public_key": self.public_key,
                    "argon2_m": self.argon2.m,
                    "argon2_t": self.argon2.t,
                    "argon2_p": self.argon2.p,
                }
            )
        )


@dataclass(frozen=True)
class UnknownSlot:
    """A slot of a type this version does not know; skipped by readers (spec §header)."""

    slot_type: int
    body: bytes


@dataclass(frozen=True)
class Extension:
    """A header extension (spec §extensions). v1 defines none."""

    ext_type: int
    critical: bool
    body: bytes


Slot = OprfSlot | UnknownSlot


@dataclass(frozen=True)
class Header:
    """A decoded (or to-be-encoded) container header.

    Attributes:
        chunk_log2: log2 of the STREAM chunk plaintext size.
        payload_nonce: 16 random bytes, the HKDF salt of the payload key.
        slots: The key slots, in header order.
        extensions: Header extensions, in header order.
        mac: HMAC-SHA-256 over all header bytes before it (empty before signing).
        version: Format version (1).
        suite: Cipher suite (1).
    """

    chunk_log2: int
    payload_nonce: bytes
    slots: tuple[Slot, ...]
    extensions: tuple[Extension, ...] = ()
    mac: bytes = field(default=b"", repr=False)
    version: int = p.VERSION
    suite: int = p.SUITE_V1

    @property
    def chunk_size(self) -> int:
        """The chunk plaintext size in bytes."""
        return 1 << self.chunk_log2

    def oprf_slots(self) -> list[OprfSlot]:
        """Return the slots this reader can use, in header order."""
        return [s for s in self.slots if isinstance(s, OprfSlot)]


def _corrupt(what: str) -> FormatError:
    return FormatError(
        f"the container header is malformed: {what}",
        hint="the file is not a valid rwc container or is damaged; get a fresh copy",
    )


def check_url(url: str) -> None:
    """Check a key-server URL against the slot rules (spec [F-URL]).

    Args:
        url: The URL.

    Raises:
        FormatError: The URL is not allowed in a slot.
    """
    try:
        raw = url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _corrupt("key server URL is not valid UTF-8") from exc
    if not p.URL_MIN <= len(raw) <= p.URL_MAX:
        raise _corrupt("key server URL has a bad length")
    # spec §slot-server-oprf: no whitespace or control characters in the URL.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise _corrupt("key server URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError as exc:
        raise _corrupt("key server URL is not a valid URL") from exc
    if not host:
        raise _corrupt("key server URL has no host")
    # Credentials never belong in a header that travels on a USB stick.
    if parts.username is not None or parts.password is not None:
        raise _corrupt("key server URL must not contain credentials")
    if parts.scheme == "https":
        return
    # spec §slot-server-oprf: plain http only towards this machine (tests, local demo).
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise _corrupt("key server URL must be https:// (http:// only for loopback hosts)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_fields(h: Header) -> None:
    # Checked per spec [F-VERSION].
    if h.version != p.VERSION:
        raise UnsupportedVersionError(
            f"this container uses format version {h.version}; this rwc reads version "
            f"{p.VERSION} only",
            hint="install a newer rwc",
        )
    # Checked per spec [F-SUITE].
    if h.suite != p.SUITE_V1:
        raise UnsupportedVersionError(
            f"this container uses cipher suite {h.suite}, which this rwc does not know",
            hint="install a newer rwc",
        )
    # Checked per spec [F-CHUNK-LOG2].
    if not p.CHUNK_LOG2_MIN <= h.chunk_log2 <= p.CHUNK_LOG2_MAX:
        raise _corrupt("chunk size out of range")
    if len(h.payload_nonce) != p.PAYLOAD_NONCE_SIZE:
        raise _corrupt("payload nonce has the wrong size")
    # Checked per spec [F-SLOT-COUNT] and [F-EXT-COUNT].
    if not p.SLOT_COUNT_MIN <= len(h.slots) <= p.SLOT_COUNT_MAX:
        raise _corrupt("slot count out of range")
    if len(h.extensions) > p.EXT_COUNT_MAX:
        raise _corrupt("too many extensions")
    for slot in h.slots:
        if isinstance(slot, OprfSlot):
            _check_oprf_slot(slot)
        elif slot.slot_type == p.SLOT_TYPE_SERVER_OPRF:
            raise _corrupt("unknown-slot object uses a known slot type")
    for ext in h.extensions:
        # spec [F-EXT-CRITICAL]: v1 knows no extension; an unknown critical one is refused.
        if ext.critical:
            raise UnsupportedVersionError(
                f"this container needs header extension {ext.ext_type}, which this rwc does "
                "not know",
                hint="install a newer rwc",
            )


def _check_oprf_slot(slot: OprfSlot) -> None:
    check_url(slot.url)
    if len(slot.container_id) != p.CONTAINER_ID_SIZE:
        raise _corrupt("container id has the wrong size")
    if len(slot.public_key) != p.PUBLIC_KEY_SIZE:
        raise _corrupt("public key has the wrong size")
    # spec [F-ARGON2]: the bounds are checked here, long before any allocation, so
    # a hostile header cannot make a reader burn gigabytes or hours.
    if not slot.argon2.within_bounds():
        raise _corrupt("Argon2 parameters out of the allowed range")
    if len(slot.wrap_nonce) != p.WRAP_NONCE_SIZE or len(slot.wrapped) != p.WRAPPED_SIZE:
        raise _corrupt("wrapped key has the wrong size")


def _encode_slot(slot: Slot) -> dict[str, object]:
    if isinstance(slot, OprfSlot):
        body = slot.aad() + slot.wrap_nonce + slot.wrapped
        return {"type": p.SLOT_TYPE_SERVER_OPRF, "body": body}
    return {"type": slot.slot_type, "body": slot.body}


def encode_unsigned(header: Header) -> bytes:
    """Encode every header byte before the MAC (the MAC input).

    ``header_length`` is computed here and counts the MAC that will follow.

    Args:
        header: The header; its ``mac`` is ignored.

    Returns:
        The encoded bytes.

    Raises:
        FormatError: The header breaks a rule of the format.
    """
    _check_fields(header)
    for ext in header.extensions:
        if len(ext.body) > 0xFFFF:
            raise _corrupt("extension too long")
    slots = [_encode_slot(s) for s in header.slots]
    for s in slots:
        if len(s["body"]) > 0xFFFF:  # type: ignore[arg-type]
            raise _corrupt("slot too long")
    value = {
        "magic": p.MAGIC,
        "version": header.version,
        "header_length": 0,
        "suite": header.suite,
        "chunk_log2": header.chunk_log2,
        "payload_nonce": header.payload_nonce,
        "slots": slots,
        "exts": [
            {
                "type": e.ext_type,
                "flags": p.EXT_FLAG_CRITICAL if e.critical else 0,
                "body": e.body,
            }
            for e in header.extensions
        ],
    }
    length = len(_BODY.build(value)) + p.MAC_SIZE
    if not p.HEADER_MIN <= length <= p.HEADER_MAX:
        raise _corrupt("header length out of range")
    value["header_length"] = length
    return bytes(_BODY.build(value))


def encode_header(header: Header) -> bytes:
    """Encode a signed header (unsigned part followed by its 32-byte MAC).

    Args:
        header: The header, with ``mac`` set.

    Returns:
        The complete header bytes.

    Raises:
        FormatError: The header breaks a rule of the format or has no MAC.
    """
    if len(header.mac) != p.MAC_SIZE:
        raise _corrupt("MAC has the wrong size")
    return encode_unsigned(header) + header.mac


def header_length(prefix: bytes) -> int:
    """Read and bound ``header_length`` from the first ``PREFIX_SIZE`` bytes of a file.

    Args:
        prefix: At least the first 14 bytes of the container.

    Returns:
        The total header length, within [HEADER_MIN, HEADER_MAX].

    Raises:
        FormatError: Not a container, or an out-of-range length.
        UnsupportedVersionError: A version other than 1.
    """
    if len(prefix) < p.PREFIX_SIZE:
        raise _corrupt("file too short to be a container")
    fields = _PREFIX.parse(prefix[: p.PREFIX_SIZE])
    # spec [F-MAGIC] first, so that "not a container at all" gets its own message.
    if fields.magic != p.MAGIC:
        raise FormatError(
            "this file is not an rwc container (wrong magic bytes)",
            hint="check that you picked the right file",
        )
    if fields.version != p.VERSION:  # spec [F-VERSION]
        raise UnsupportedVersionError(
            f"this container uses format version {fields.version}; this rwc reads version "
            f"{p.VERSION} only",
            hint="install a newer rwc",
        )
    length = int(fields.header_length)
    # spec [F-HLEN-RANGE]: bound the length before reading or allocating anything.
    if not p.HEADER_MIN <= length <= p.HEADER_MAX:
        raise _corrupt("header length out of range")
    return length


def decode_header(data: bytes) -> Header:
    """Decode a complete header, strictly.

    Args:
        data: Exactly the header bytes (``header_length`` of them, MAC included).

    Returns:
        The decoded header. The MAC is NOT verified here (that needs the DEK).

    Raises:
        FormatError: Malformed or non-canonical header (or a subclass of it).
    """
    length = header_length(data)
    if len(data) != length:  # spec [F-HLEN-FILE]
        raise _corrupt("header is truncated")
    try:
        fields = _BODY.parse(data[: length - p.MAC_SIZE])
        consumed = len(_BODY.build(fields))
    except (c.ConstructError, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise _corrupt("header fields do not parse") from exc
    # spec [F-HLEN-MATCH]: the MAC directly follows the last extension; no trailing bytes.
    if consumed != length - p.MAC_SIZE:
        raise _corrupt("unexpected bytes before the MAC")
    slots: list[Slot] = []
    for s in fields.slots:
        if s.type == p.SLOT_TYPE_SERVER_OPRF:
            slots.append(_decode_oprf_slot(bytes(s.body)))
        else:
            # spec §header: unknown slot types are skipped (but still covered by the MAC).
            slots.append(UnknownSlot(slot_type=int(s.type), body=bytes(s.body)))
    exts: list[Extension] = []
    for e in fields.exts:
        # spec [F-EXT-FLAGS]: only bit 0 (critical) is defined; others MUST be zero.
        if e.flags & ~p.EXT_FLAG_CRITICAL:
            raise _corrupt("extension flags have reserved bits set")
        exts.append(
            Extension(
                ext_type=int(e.type),
                critical=bool(e.flags & p.EXT_FLAG_CRITICAL),
                body=bytes(e.body),
            )
        )
    header = Header(
        chunk_log2=int(fields.chunk_log2),
        payload_nonce=bytes(fields.payload_nonce),
        slots=tuple(slots),
        extensions=tuple(exts),
        mac=bytes(data[length - p.MAC_SIZE : length]),
        version=int(fields.version),
        suite=int(fields.suite),
    )
    _check_fields(header)
    return header


def _decode_oprf_slot(body: bytes) -> OprfSlot:
    try:
        # spec [F-SLOT-LENGTH] (Terminated: exactly 154 + url_length bytes), [F-URL] UTF-8.
        f = _OPRF_SLOT.parse(body)
        url = bytes(f.aad.value.url).decode("utf-8")
    except (c.ConstructError, UnicodeDecodeError) as exc:
        raise _corrupt("server-oprf slot does not parse") from exc
    v = f.aad.value
    return OprfSlot(
        url=url,
        container_id=bytes(v.container_id),
        public_key=bytes(v.public_key),
        argon2=p.Argon2Params(m=int(v.argon2_m), t=int(v.argon2_t), p=int(v.argon2_p)),
        wrap_nonce=bytes(f.wrap_nonce),
        wrapped=bytes(f.wrapped),
    )
