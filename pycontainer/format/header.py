"""Header codec: bytes <-> records, canonical and strict, no cryptography.

The header is read field by field from a buffer whose length was bounded first
(``HEADER_MIN <= header_length <= HEADER_MAX``), so no field can make us allocate more than
64 KiB, and each rule is checked right after its field, in the order spec §reading step 1
fixes (two faults in one header give the same error class in every conforming reader).
Encoding writes the same fields out in the same order, each through :func:`_uint` (a value
its field cannot hold is refused). It used ``construct``, imported on the writer's first
call: 29-39 ms of imports (construct loads pdb) between a seal's key release and its first
payload byte (bench/profiles/disk.md); the layout is eleven fixed fields and two
length-prefixed lists. A slot's key-wrap AAD, which readers need too, is a fixed layout
written out here. A decoded header re-encodes to the same bytes (tests/vectors).

Spec anchors: spec/format.md §header, §slot-server-oprf, §extensions.
"""

from pycontainer._record import Record
from pycontainer.errors import FormatError, NotAContainerError, UnsupportedVersionError
from pycontainer.format import oprf
from pycontainer.format import primitives as p
from pycontainer.format.url import UrlError, parse_server_url

# spec §slot-server-oprf: slot_length = 154 + url_length.
_OPRF_SLOT_FIXED = 2 + p.CONTAINER_ID_SIZE + p.PUBLIC_KEY_SIZE + 12 + p.WRAP_NONCE_SIZE + 80


def _uint(value: int, size: int, what: str) -> bytes:
    """``value`` as a ``size``-byte big-endian field; a value that does not fit is refused."""
    try:
        return value.to_bytes(size, "big")
    except OverflowError:  # negative or too large: the field cannot hold it
        raise _corrupt(f"{what} does not fit its field") from None


# Records (pycontainer/_record.py), not frozen dataclasses or NamedTuples: every `rwc cat`
# defines them, and those cost ~3.7 M and ~0.6 M instructions each against ~0.1 M (issue 15).
class OprfSlot(Record):
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
        """Return the slot body bytes before ``wrap_nonce``: the AAD of the key wrap.

        spec §slot-server-oprf: url_length (u16) || url || container_id (16) ||
        public_key (32) || argon2_m || argon2_t || argon2_p (u32 each), big-endian.
        """
        url = self.url.encode("utf-8")
        return b"".join(
            (
                _uint(len(url), 2, "key server URL length"),
                url,
                self.container_id,
                self.public_key,
                _uint(self.argon2.m, 4, "Argon2 memory"),
                _uint(self.argon2.t, 4, "Argon2 passes"),
                _uint(self.argon2.p, 4, "Argon2 lanes"),
            )
        )


class UnknownSlot(Record):
    """A slot of a type this version does not know; skipped by readers (spec §header)."""

    slot_type: int
    body: bytes


class Extension(Record):
    """A header extension (spec §extensions). v1 defines none."""

    ext_type: int
    critical: bool
    body: bytes


Slot = OprfSlot | UnknownSlot


class Header(Record):
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
    mac: bytes = b""
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
        parse_server_url(url)
    except UrlError as exc:
        raise _corrupt(f"key server URL refused: {exc}") from None


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
            raise _unsupported_extension(ext)
    if len({e.ext_type for e in h.extensions}) != len(h.extensions):  # spec [F-EXT-DUPLICATE]
        raise _corrupt("an extension type appears twice")


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


def _encode_slot(slot: Slot) -> bytes:
    """``slot_type (u16) || slot_length (u16) || body`` (spec §header)."""
    if isinstance(slot, OprfSlot):
        kind, body = p.SLOT_TYPE_SERVER_OPRF, slot.aad() + slot.wrap_nonce + slot.wrapped
    else:
        kind, body = slot.slot_type, slot.body
    if len(body) > 0xFFFF:
        raise _corrupt("slot too long")
    return _uint(kind, 2, "slot type") + _uint(len(body), 2, "slot length") + body


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
    # spec §header, in its order: magic, version, header_length (filled in below), suite,
    # chunk_log2, payload_nonce, slot_count and slots, ext_count and extensions.
    fields = [
        p.MAGIC,
        _uint(header.version, 2, "version"),
        bytes(4),
        _uint(header.suite, 2, "suite"),
        _uint(header.chunk_log2, 1, "chunk_log2"),
        header.payload_nonce,
        _uint(len(header.slots), 1, "slot count"),
        *(_encode_slot(s) for s in header.slots),
        _uint(len(header.extensions), 1, "extension count"),
    ]
    for e in header.extensions:
        flags = p.EXT_FLAG_CRITICAL if e.critical else 0
        fields += [_uint(e.ext_type, 2, "extension type"), _uint(flags, 1, "extension flags")]
        fields += [_uint(len(e.body), 2, "extension length"), e.body]
    out = bytearray().join(fields)
    length = len(out) + p.MAC_SIZE
    if not p.HEADER_MIN <= length <= p.HEADER_MAX:
        raise _corrupt("header length out of range")
    at = len(p.MAGIC) + 2
    out[at : at + 4] = _uint(length, 4, "header length")
    return bytes(out)


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

    Order (spec §reading step 1): [F-MAGIC], [F-PREFIX], [F-VERSION], [F-HLEN-RANGE].

    Args:
        prefix: The first 14 bytes of the container (fewer if the file is shorter).

    Returns:
        The total header length, within [HEADER_MIN, HEADER_MAX].

    Raises:
        FormatError: Not a container, too short, or an out-of-range length.
        UnsupportedVersionError: A version other than 1.
    """
    # spec [F-MAGIC] first, so that "not a container at all" gets its own message.
    if len(prefix) < len(p.MAGIC) or prefix[: len(p.MAGIC)] != p.MAGIC:
        raise NotAContainerError(
            "this file is not an rwc container (wrong magic bytes)",
            hint="check that you picked the right file",
        )
    # spec [F-PREFIX]: the magic but not even the fixed prefix: truncated, whatever the
    # bytes after the magic say (a version in a 10-byte file is not looked at).
    if len(prefix) < p.PREFIX_SIZE:
        raise _corrupt("the file ends inside the fixed header fields")
    fields = _Fields(prefix, len(p.MAGIC), p.PREFIX_SIZE)
    version = fields.uint(2)
    if version != p.VERSION:  # spec [F-VERSION]
        raise UnsupportedVersionError(
            f"this container uses format version {version}; this rwc reads version "
            f"{p.VERSION} only",
            hint="install a newer rwc",
        )
    length = fields.uint(4)
    # spec [F-HLEN-RANGE]: bound the length before reading or allocating anything.
    if not p.HEADER_MIN <= length <= p.HEADER_MAX:
        raise _corrupt("header length out of range")
    return length


class _Fields:
    """Reads the header's fields in order; a field past ``end`` is [F-HLEN-MATCH]."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self._data = data
        self.pos = pos
        self.end = end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            # spec [F-HLEN-MATCH]: no field may run past header_length - 32.
            raise _corrupt("a field runs past the end of the header (into the MAC)")
        out = self._data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")


def decode_header(data: bytes) -> Header:
    """Decode a complete header, strictly, in the order of spec §reading step 1.

    Each field is checked right after it is read, in byte order; the structure must end
    exactly at ``header_length - 32``; only then come the "unsupported" verdicts
    [F-EXT-CRITICAL] and [F-NO-SLOT], so a malformed header is always a format error.

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
    r = _Fields(data, p.PREFIX_SIZE, length - p.MAC_SIZE)
    suite = r.uint(2)
    if suite != p.SUITE_V1:  # spec [F-SUITE]: before any suite-specific field is read
        raise UnsupportedVersionError(
            f"this container uses cipher suite {suite}, which this rwc does not know",
            hint="install a newer rwc",
        )
    chunk_log2 = r.uint(1)
    if not p.CHUNK_LOG2_MIN <= chunk_log2 <= p.CHUNK_LOG2_MAX:  # spec [F-CHUNK-LOG2]
        raise _corrupt("chunk size out of range")
    payload_nonce = r.take(p.PAYLOAD_NONCE_SIZE)
    slot_count = r.uint(1)
    if not p.SLOT_COUNT_MIN <= slot_count <= p.SLOT_COUNT_MAX:  # spec [F-SLOT-COUNT]
        raise _corrupt("slot count out of range")
    slots: list[Slot] = []
    for _ in range(slot_count):
        slot_type = r.uint(2)
        body = r.take(r.uint(2))
        if slot_type == p.SLOT_TYPE_SERVER_OPRF:
            slots.append(_decode_oprf_slot(body))
        else:
            # spec §header: unknown slot types are skipped (but still covered by the MAC).
            slots.append(UnknownSlot(slot_type=slot_type, body=body))
    ext_count = r.uint(1)
    if ext_count > p.EXT_COUNT_MAX:  # spec [F-EXT-COUNT]
        raise _corrupt("too many extensions")
    exts: list[Extension] = []
    for _ in range(ext_count):
        ext_type = r.uint(2)
        flags = r.uint(1)
        body = r.take(r.uint(2))
        # spec [F-EXT-FLAGS]: only bit 0 (critical) is defined; others MUST be zero.
        if flags & ~p.EXT_FLAG_CRITICAL:
            raise _corrupt("extension flags have reserved bits set")
        # spec [F-EXT-DUPLICATE]: one extension per type, so no reader has to pick one.
        if any(e.ext_type == ext_type for e in exts):
            raise _corrupt(f"extension type {ext_type} appears twice")
        exts.append(Extension(ext_type, bool(flags & p.EXT_FLAG_CRITICAL), body))
    # spec [F-HLEN-MATCH]: the MAC directly follows the last extension; no byte left over.
    if r.pos != r.end:
        raise _corrupt("unexpected bytes before the MAC")
    header = Header(
        chunk_log2=chunk_log2,
        payload_nonce=payload_nonce,
        slots=tuple(slots),
        extensions=tuple(exts),
        mac=bytes(data[length - p.MAC_SIZE : length]),
        version=p.VERSION,
        suite=suite,
    )
    for ext in exts:
        # spec [F-EXT-CRITICAL]: v1 knows no extension; an unknown critical one is refused,
        # only once the whole header proved well-formed.
        if ext.critical:
            raise _unsupported_extension(ext)
    if not header.oprf_slots():  # spec [F-NO-SLOT]
        raise UnsupportedVersionError(
            "this container has no key slot this rwc can use", hint="install a newer rwc"
        )
    return header


def _unsupported_extension(ext: Extension) -> UnsupportedVersionError:
    return UnsupportedVersionError(
        f"this container needs header extension {ext.ext_type}, which this rwc does not know",
        hint="install a newer rwc",
    )


def _decode_oprf_slot(body: bytes) -> OprfSlot:
    """Decode a server-oprf slot: [F-SLOT-LENGTH], [F-URL], [F-PUBKEY], [F-ARGON2] in order."""
    # spec [F-SLOT-LENGTH]: exactly 154 + url_length bytes (so url_length itself must fit).
    if len(body) < 2 or len(body) != _OPRF_SLOT_FIXED + int.from_bytes(body[:2], "big"):
        raise _corrupt("server-oprf slot length does not match its URL length")
    # The length matched, so every field below is within the body and the last ends it.
    f = _Fields(body, 0, len(body))
    raw_url = f.take(f.uint(2))
    try:
        url = raw_url.decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt("key server URL refused: not valid UTF-8") from None
    check_url(url)  # spec [F-URL]
    container_id = f.take(p.CONTAINER_ID_SIZE)
    public_key = f.take(p.PUBLIC_KEY_SIZE)
    oprf.check_public_key(public_key)  # spec [F-PUBKEY]
    argon2 = p.Argon2Params(m=f.uint(4), t=f.uint(4), p=f.uint(4))
    # spec [F-ARGON2]: the bounds are checked here, long before any allocation, so
    # a hostile header cannot make a reader burn gigabytes or hours.
    if not argon2.within_bounds():
        raise _corrupt("Argon2 parameters out of the allowed range")
    return OprfSlot(
        url=url,
        container_id=container_id,
        public_key=public_key,
        argon2=argon2,
        wrap_nonce=f.take(p.WRAP_NONCE_SIZE),
        wrapped=f.take(p.WRAPPED_SIZE),
    )
