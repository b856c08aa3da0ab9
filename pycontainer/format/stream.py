"""STREAM (Hoang-Reyhanitabar-Rogaway-Vizár) over AES-256-GCM with a bare payload key.

Chunk ``i`` of plaintext size ``C = 2**chunk_log2`` is sealed with nonce
``i (11 bytes, big-endian) || flag`` where flag is 1 for the final chunk and 0 otherwise; AAD is
empty. Reordering, dropping, duplicating or truncating chunks therefore fails authentication,
and every such failure raises the same :class:`PayloadError`.

This module is the cipher and the layout only (no I/O); the parallel pipelines that
drive it over files live in :mod:`pycontainer._engine.pipeline`.

Spec anchors: spec/format.md §payload.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

from pycontainer._record import Record
from pycontainer.errors import PayloadError
from pycontainer.format import primitives as p

# AES-256-GCM: cryptography's one AESGCM class, taken where its public module takes it from
# (cryptography/hazmat/primitives/ciphers/aead.py: ``AESGCM = rust_openssl.aead.AESGCM``;
# the same object, tests/cli/test_lazy_imports.py). Importing the public module runs the
# ``ciphers`` package first, every block cipher and mode with the deprecated ones, ~7 M
# instructions of every small `rwc cat` for a class it does not use (issue 15). The key
# schedule's key wrap uses this name too: one import of it.
AESGCM = _rust_openssl.aead.AESGCM

_COUNTER_LIMIT = 1 << (8 * p.STREAM_COUNTER_SIZE)  # spec §payload: counter < 2^88


def nonce(index: int, last: bool) -> bytes:
    """Return the STREAM nonce of chunk ``index``.

    Raises:
        PayloadError: The counter would overflow (cannot happen below 2^88 chunks).
    """
    if not 0 <= index < _COUNTER_LIMIT:
        raise PayloadError
    flag = p.STREAM_FLAG_LAST if last else p.STREAM_FLAG_MORE
    return index.to_bytes(p.STREAM_COUNTER_SIZE, "big") + bytes((flag,))


# A record (pycontainer/_record.py), not a frozen dataclass or a NamedTuple: every `rwc cat`
# defines it, and those cost ~3.7 M and ~0.6 M instructions to define against ~0.1 M (issue 15).
class Layout(Record):
    """Geometry of a payload: where chunk ``i`` lives in the ciphertext and the plaintext.

    Attributes:
        chunk_log2: log2 of the chunk plaintext size.
        ciphertext_length: Payload length in bytes (file size minus header).
    """

    chunk_log2: int
    ciphertext_length: int

    @property
    def chunk_size(self) -> int:
        """Plaintext bytes in every chunk but the last."""
        return 1 << self.chunk_log2

    @property
    def sealed_chunk_size(self) -> int:
        """Ciphertext bytes in every chunk but the last (C + 16)."""
        return self.chunk_size + p.TAG_SIZE

    @property
    def chunk_count(self) -> int:
        """N = ceil(L / (C + 16)) (spec §payload)."""
        return -(-self.ciphertext_length // self.sealed_chunk_size)

    @property
    def plaintext_length(self) -> int:
        """Plaintext bytes of the whole payload."""
        return self.ciphertext_length - self.chunk_count * p.TAG_SIZE

    def check(self) -> None:
        """Check that the length is possible for a v1 payload.

        Raises:
            PayloadError: Empty payload, or a final chunk with no plaintext byte (truncation
                at a chunk boundary or a cut inside a tag).
        """
        last = self.ciphertext_length - (self.chunk_count - 1) * self.sealed_chunk_size
        # spec [F-PAYLOAD-EMPTY], [F-CHUNK-SHORT]: v1 plaintext is never empty, so the final
        # chunk holds 1..C plaintext bytes plus its tag.
        if self.ciphertext_length <= 0 or last <= p.TAG_SIZE:
            raise PayloadError

    def span(self, index: int) -> tuple[int, int]:
        """Return (offset in payload, sealed length) of chunk ``index``."""
        start = index * self.sealed_chunk_size
        return start, min(self.sealed_chunk_size, self.ciphertext_length - start)

    def chunks_for(self, start: int, end: int) -> range:
        """Return the chunk indices holding plaintext bytes [start, end)."""
        if end <= start:
            return range(0)
        return range(start >> self.chunk_log2, ((end - 1) >> self.chunk_log2) + 1)


def sealed_length(plaintext_length: int, chunk_log2: int) -> int:
    """Return the payload length for a plaintext of the given size (at least 1 byte)."""
    chunks = max(1, -(-plaintext_length // (1 << chunk_log2)))
    return plaintext_length + chunks * p.TAG_SIZE


class StreamCipher:
    """Seal and open single STREAM chunks with a payload key."""

    def __init__(self, key: bytes) -> None:
        """Create the cipher for a 32-byte payload key."""
        self._aead = AESGCM(key)

    def encrypt_into(self, index: int, last: bool, data: memoryview, out: memoryview) -> int:
        """Seal ``data`` as chunk ``index`` into ``out``; return the sealed length."""
        n = len(data) + p.TAG_SIZE
        self._aead.encrypt_into(nonce(index, last), data, None, out[:n])
        return n

    def decrypt_into(self, index: int, last: bool, sealed: memoryview, out: memoryview) -> int:
        """Open chunk ``index`` from ``sealed`` into ``out``; return the plaintext length.

        Raises:
            PayloadError: Authentication failed (the only message ever given).
        """
        if len(sealed) <= p.TAG_SIZE and not (last and len(sealed) == p.TAG_SIZE):
            raise PayloadError
        n = len(sealed) - p.TAG_SIZE
        try:  # spec [F-CHUNK-AUTH]
            self._aead.decrypt_into(nonce(index, last), sealed, None, out[:n])
        except InvalidTag:
            raise PayloadError from None
        return n

    def encrypt(self, index: int, last: bool, data: bytes) -> bytes:
        """Seal one chunk and return it (convenience for tests and tools)."""
        return self._aead.encrypt(nonce(index, last), data, None)

    def decrypt(self, index: int, last: bool, sealed: bytes) -> bytes:
        """Open one chunk and return its plaintext.

        Raises:
            PayloadError: Authentication failed.
        """
        try:
            return self._aead.decrypt(nonce(index, last), sealed, None)
        except InvalidTag:
            raise PayloadError from None
