"""An independent assembler of rwc v1 containers, for crafting test vectors.

This module is a second implementation of the writer side of spec/format.md, written from the
spec alone (it shares no code with pycontainer): it composes ``cryptography``, ``argon2-cffi``
and ``voprf`` exactly as spec §key-schedule, §header, §slot-server-oprf, §payload and §index
say. Unlike a real writer it lets every field be set to any value, so that a negative vector
can break exactly one rule while everything else, including the header MAC and the chunk
tags, is sealed with the real keys.

Nothing here is random: all "random" values come from a :class:`Drbg` seeded by the vector's
name, so ``generate.py`` is reproducible byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from voprf import ristretto

# spec §header, §key-schedule: constants, spelled out again on purpose (independent code).
MAGIC = b"\x89RWC\r\n\x1a\n"
LABEL_OPRF_INPUT = b"rwc/v1 oprf input"
LABEL_KEK = b"rwc/v1 kek"
LABEL_HEADER = b"rwc/v1 header"
LABEL_PAYLOAD = b"rwc/v1 payload"
LABEL_RECEIPT_KEY = b"rwc/v1 receipt key"
CONTAINER_KEY_INFO = b"rwc/v1 container key"
SLOT_SERVER_OPRF = 1
FILE = 1
DIRECTORY = 2
TAG = 16
DEFAULT_URL = b"https://keys.city.amagasaki.example/"
DEFAULT_MTIME = 1_656_633_600  # 2022-07-01T00:00:00Z
# A published test-vector password, not a secret.
DEFAULT_PASSWORD = "correct horse battery staple"  # noqa: S105


class Drbg:
    """A deterministic byte source: SHA-256 in counter mode over a label (vectors only)."""

    def __init__(self, label: str) -> None:
        self._key = hashlib.sha256(b"rwc/v1 test vector rng\x00" + label.encode()).digest()
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return bytes(out[:n])


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 with a 32-byte output; an empty salt is RFC 5869's zero default."""
    return HKDF(hashes.SHA256(), 32, salt or None, info).derive(ikm)


def public_key(seed: bytes) -> bytes:
    """The container public key the server derives from its seed (spec §key-server)."""
    return bytes(ristretto.Evaluator.from_seed(seed, CONTAINER_KEY_INFO).public_key.serialize())


def oprf_output(seed: bytes, oprf_input: bytes) -> bytes:
    """Run blind/evaluate/finalize with the server key; the output does not depend on the blind."""
    evaluator = ristretto.Evaluator.from_seed(seed, CONTAINER_KEY_INFO)
    client, blinded = ristretto.Client.blind(oprf_input)
    return bytes(client.finalize(evaluator.evaluate(blinded), evaluator.public_key))


@dataclass
class Entry:
    """One raw index entry; every field may hold an out-of-range value."""

    path: str | bytes
    content: bytes = b""
    kind: int = FILE
    mode: int = 0o644
    mtime_s: int = DEFAULT_MTIME
    mtime_ns: int = 0
    size: int | None = None  # None: len(content)
    path_length: int | None = None  # None: len(path)

    def path_bytes(self) -> bytes:
        return self.path if isinstance(self.path, bytes) else self.path.encode("utf-8")

    def encode(self) -> bytes:
        raw = self.path_bytes()
        plen = len(raw) if self.path_length is None else self.path_length
        size = len(self.content) if self.size is None else self.size
        # spec §index: kind u8 | mode u16 | mtime_s i64 | mtime_ns u32 | path_length u16 |
        # path | size u64.
        return (
            struct.pack(">BHqIH", self.kind, self.mode, self.mtime_s, self.mtime_ns, plen)
            + raw
            + struct.pack(">Q", size)
        )


def encode_index(entries: list[Entry], count: int | None = None) -> bytes:
    """entry_count u32 || entries (spec §index)."""
    n = len(entries) if count is None else count
    return struct.pack(">I", n) + b"".join(e.encode() for e in entries)


@dataclass
class Builder:
    """The keys and fields of one container; methods assemble its parts.

    Attributes:
        name: Vector name (seeds the deterministic randomness).
        seed: The server's 32-byte VOPRF seed for this container.
        password: The sealing password.
        chunk_log2: log2 of the chunk size used to seal (and declared by default).
        argon2: (m, t, p) declared in the slot and used to seal.
        url: Slot URL bytes.
        entries: The index entries; data is their contents in order.
    """

    name: str
    password: str = DEFAULT_PASSWORD
    chunk_log2: int = 12
    argon2: tuple[int, int, int] = (8192, 1, 1)
    url: bytes = DEFAULT_URL
    entries: list[Entry] = field(default_factory=list)
    seed: bytes = b""
    container_id: bytes = b""
    dek: bytes = b""
    receipt_secret: bytes = b""
    payload_nonce: bytes = b""
    wrap_nonce: bytes = b""

    def __post_init__(self) -> None:
        rng = Drbg(self.name)
        self.seed = self.seed or rng(32)
        self.container_id = self.container_id or rng(16)
        self.dek = rng(32)
        self.receipt_secret = rng(32)
        self.payload_nonce = rng(16)
        self.wrap_nonce = rng(12)
        self._rng = rng

    # --- key schedule (spec §key-schedule) -------------------------------------------------

    def kek(self, argon2: tuple[int, int, int] | None = None, password: str | None = None) -> bytes:
        m, t, p = argon2 or self.argon2
        pw = self.password if password is None else password
        oprf_out = oprf_output(self.seed, LABEL_OPRF_INPUT + self.container_id + pw.encode())
        stretched = hash_secret_raw(
            secret=oprf_out,
            salt=self.container_id,
            time_cost=t,
            memory_cost=m,
            parallelism=p,
            hash_len=32,
            type=Type.ID,
            version=0x13,
        )
        return hkdf(oprf_out + stretched, self.container_id, LABEL_KEK)

    @property
    def header_key(self) -> bytes:
        return hkdf(self.dek, b"", LABEL_HEADER)

    @property
    def payload_key(self) -> bytes:
        return hkdf(self.dek, self.payload_nonce, LABEL_PAYLOAD)

    @property
    def receipt_key(self) -> bytes:
        return hkdf(self.receipt_secret, self.container_id, LABEL_RECEIPT_KEY)

    # --- header (spec §header, §slot-server-oprf) ------------------------------------------

    def slot_aad(
        self,
        *,
        url: bytes | None = None,
        url_length: int | None = None,
        public_key_bytes: bytes | None = None,
        argon2: tuple[int, int, int] | None = None,
    ) -> bytes:
        u = self.url if url is None else url
        m, t, p = argon2 or self.argon2
        pk = public_key(self.seed) if public_key_bytes is None else public_key_bytes
        ulen = len(u) if url_length is None else url_length
        return struct.pack(">H", ulen) + u + self.container_id + pk + struct.pack(">III", m, t, p)

    def oprf_slot(
        self,
        *,
        url: bytes | None = None,
        url_length: int | None = None,
        public_key_bytes: bytes | None = None,
        argon2: tuple[int, int, int] | None = None,
        seal_argon2: tuple[int, int, int] | None = None,
        sealable: bool = True,
        extra: bytes = b"",
        wrapped_len: int = 80,
    ) -> bytes:
        """Return a server-oprf slot body, its keys wrapped under the real KEK.

        ``sealable=False`` (parameters Argon2id cannot run with, or would take too long)
        puts deterministic filler in ``wrapped``: such a header must be refused before any
        key derivation anyway.
        """
        aad = self.slot_aad(
            url=url, url_length=url_length, public_key_bytes=public_key_bytes, argon2=argon2
        )
        if sealable:
            kek = self.kek(seal_argon2 or argon2)
            wrapped = AESGCM(kek).encrypt(self.wrap_nonce, self.dek + self.receipt_secret, aad)
        else:
            wrapped = self._rng(80)
        return aad + self.wrap_nonce + wrapped[:wrapped_len] + extra

    def unsigned_header(
        self,
        *,
        magic: bytes = MAGIC,
        version: int = 1,
        header_length: int | None = None,
        header_length_delta: int = 0,
        suite: int = 1,
        chunk_log2: int | None = None,
        payload_nonce: bytes | None = None,
        slots: list[tuple[int, bytes]] | None = None,
        slot_count: int | None = None,
        slot_lengths: list[int] | None = None,
        exts: list[tuple[int, int, bytes]] | None = None,
        ext_count: int | None = None,
    ) -> bytes:
        """All header bytes before the MAC; every field may be overridden."""
        if slots is None:
            slots = [(SLOT_SERVER_OPRF, self.oprf_slot())]
        exts = exts or []
        parts = [struct.pack(">B", len(slots) if slot_count is None else slot_count)]
        for i, (stype, body) in enumerate(slots):
            blen = len(body) if slot_lengths is None else slot_lengths[i]
            parts.append(struct.pack(">HH", stype, blen) + body)
        parts.append(struct.pack(">B", len(exts) if ext_count is None else ext_count))
        for etype, flags, body in exts:
            parts.append(struct.pack(">HBH", etype, flags, len(body)) + body)
        rest = b"".join(parts)
        c = self.chunk_log2 if chunk_log2 is None else chunk_log2
        nonce = self.payload_nonce if payload_nonce is None else payload_nonce
        length = 8 + 2 + 4 + 2 + 1 + 16 + len(rest) + 32
        hlen = (length if header_length is None else header_length) + header_length_delta
        return magic + struct.pack(">HIHB", version, hlen, suite, c) + nonce + rest

    def sign(self, unsigned: bytes) -> bytes:
        """unsigned || HMAC-SHA-256(header_key, unsigned) (spec §header, mac)."""
        return unsigned + hmac.new(self.header_key, unsigned, hashlib.sha256).digest()

    def header(self, **kw: object) -> bytes:
        return self.sign(self.unsigned_header(**kw))  # type: ignore[arg-type]

    # --- payload (spec §payload, §index) ---------------------------------------------------

    def data(self) -> bytes:
        return b"".join(e.content for e in self.entries if e.kind == FILE)

    def index(self) -> bytes:
        return encode_index(self.entries)

    def plaintext(
        self,
        *,
        data: bytes | None = None,
        index: bytes | None = None,
        index_length: int | None = None,
    ) -> bytes:
        """data || index || trailer (index_length u64)."""
        d = self.data() if data is None else data
        i = self.index() if index is None else index
        n = len(i) if index_length is None else index_length
        return d + i + struct.pack(">Q", n)

    def seal_chunk(self, i: int, chunk: bytes, *, last: bool) -> bytes:
        """AES-256-GCM(payload_key, I2OSP(i, 11) || last, chunk, "") (spec §payload)."""
        nonce = i.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        return AESGCM(self.payload_key).encrypt(nonce, chunk, None)

    def chunks(self, plaintext: bytes, *, chunk_log2: int | None = None) -> list[bytes]:
        """STREAM-seal a plaintext into its list of sealed chunks."""
        size = 1 << (self.chunk_log2 if chunk_log2 is None else chunk_log2)
        pieces = [plaintext[i : i + size] for i in range(0, len(plaintext), size)] or [b""]
        last = len(pieces) - 1
        return [self.seal_chunk(i, c, last=i == last) for i, c in enumerate(pieces)]

    def payload(self, plaintext: bytes | None = None) -> bytes:
        return b"".join(self.chunks(self.plaintext() if plaintext is None else plaintext))

    def build(self) -> bytes:
        """The whole container with no fault: header || payload."""
        return self.header() + self.payload()
