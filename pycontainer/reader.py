"""Opening containers: offline header inspection, key release, random access, extraction.

Order of checks in :func:`open_container` (each step trusts only what the previous ones
authenticated):

1. parse the header strictly and bound every field (hostile Argon2 parameters are refused
   here, before the server is contacted and before any allocation);
2. check the payload length is possible (truncation at a chunk boundary costs no request);
3. key release with proof verification, Argon2id, KEK, unwrap (wrong password here);
4. verify the header MAC (HeaderAuthError);
5. decrypt the FINAL chunk first: it authenticates the end of the payload and the trailer,
   so ``index_length`` is trusted only after that;
6. decrypt the index chunks, decode the index, check paths and that the sizes add up.

Extraction writes into a private temp directory beside the destination and moves the result
into place only after every extracted byte authenticated; on any failure the temp directory
is removed, so no unauthenticated plaintext is ever left on disk.

Spec anchors: spec/format.md §header, §key-schedule, §payload, §index, §paths.
"""

from __future__ import annotations

import io
import os
import stat
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from pycontainer import _portable
from pycontainer._engine.extract import extract_entries
from pycontainer._engine.pipeline import open_chunks
from pycontainer.errors import (
    FormatError,
    InputError,
    PayloadError,
    ReaderLimitError,
)
from pycontainer.format import archive, keyschedule
from pycontainer.format import header as hdr
from pycontainer.format import primitives as p
from pycontainer.format.archive import Entry
from pycontainer.format.stream import Layout, StreamCipher
from pycontainer.keyrelease import Evaluation, KeyServer, SlotInfo, release_kek

Progress = Callable[[int, int], None]
StrPath = str | os.PathLike[str]
# send(container_id, challenge, receipt_mac): delivers the receipt; must not raise.
ReceiptSender = Callable[[bytes, bytes, bytes], None]


@dataclass(frozen=True)
class ReaderLimits:
    """Reader-side bounds (each at most the spec's MUST bound).

    Attributes:
        max_index_length: Largest index accepted, in bytes (held in memory).
        max_entries: Largest entry count accepted.
        max_argon2_m: Largest Argon2 memory accepted, in KiB.
    """

    max_index_length: int = p.INDEX_LENGTH_MAX
    max_entries: int = p.ENTRY_COUNT_MAX
    max_argon2_m: int = p.ARGON2_M_MAX


@dataclass(frozen=True)
class SlotSummary:
    """The public content of a server-oprf slot.

    Attributes:
        url: Key server URL.
        container_id: 16-byte container id.
        public_key: 32-byte server public key.
        argon2: Argon2id parameters.
    """

    url: str
    container_id: bytes
    public_key: bytes
    argon2: p.Argon2Params


@dataclass(frozen=True)
class HeaderInfo:
    """What can be learned from a container without the key server.

    Attributes:
        version: Format version.
        suite: Cipher suite.
        chunk_log2: log2 of the chunk size.
        header_length: Header bytes (MAC included).
        payload_length: Encrypted payload bytes.
        slots: The server-oprf slots.
        unknown_slots: Number of slots of unknown types.
        extensions: Number of (non-critical) extensions.
    """

    version: int
    suite: int
    chunk_log2: int
    header_length: int
    payload_length: int
    slots: tuple[SlotSummary, ...]
    unknown_slots: int
    extensions: int

    @property
    def chunk_size(self) -> int:
        """Chunk plaintext size in bytes."""
        return 1 << self.chunk_log2

    @property
    def container_id(self) -> bytes | None:
        """The first slot's container id, or None without a usable slot."""
        return self.slots[0].container_id if self.slots else None


def _open_fd(path: StrPath) -> int:
    try:
        # O_NONBLOCK: opening a FIFO someone passed as "the container" must not hang; it is
        # refused below. It has no effect on regular files.
        fd = os.open(path, _portable.read_flags())
    except FileNotFoundError:
        raise InputError(f"{os.fspath(path)} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(
            f"{os.fspath(path)} is a directory, not a container", hint="check the path"
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read {os.fspath(path)}: {exc.strerror}", hint="check its permissions"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(
            f"{os.fspath(path)} is not a regular file", hint="give the path of a container"
        )
    return fd


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    data = _portable.pread(fd, length, offset)
    if len(data) != length:
        raise FormatError(
            "the container is truncated inside its header",
            hint="get a complete copy of the container",
        )
    return data


def _read_header_fd(fd: int) -> tuple[bytes, hdr.Header]:
    prefix = _portable.pread(fd, p.PREFIX_SIZE, 0)
    # spec §header: the length is bounded (<= 64 KiB) before the rest is read.
    length = hdr.header_length(prefix)
    raw = _pread_exact(fd, length, 0)
    return raw, hdr.decode_header(raw)


def _info(raw: bytes, header: hdr.Header, file_size: int) -> HeaderInfo:
    slots = tuple(
        SlotSummary(s.url, s.container_id, s.public_key, s.argon2) for s in header.oprf_slots()
    )
    return HeaderInfo(
        version=header.version,
        suite=header.suite,
        chunk_log2=header.chunk_log2,
        header_length=len(raw),
        payload_length=file_size - len(raw),
        slots=slots,
        unknown_slots=len(header.slots) - len(slots),
        extensions=len(header.extensions),
    )


def read_header(path: StrPath) -> HeaderInfo:
    """Parse a container's header offline (no key server, nothing authenticated).

    Args:
        path: The container file.

    Returns:
        The public header information.

    Raises:
        InputError: The file cannot be read.
        FormatError: The header is malformed (or a subclass of it).
    """
    fd = _open_fd(path)
    try:
        raw, header = _read_header_fd(fd)
        return _info(raw, header, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def open_container(
    path: StrPath,
    *,
    key_server: KeyServer,
    password: str,
    url_override: str | None = None,
    limits: ReaderLimits | None = None,
    workers: int = p.WORKERS_DEFAULT,
    send_receipt: ReceiptSender | None = None,
) -> Container:
    """Open a container: key release, header MAC, trailer and index authentication.

    Args:
        path: The container file.
        key_server: Evaluates the blinded element.
        password: The container password ("" for none).
        url_override: Ask this URL instead of the one in the header (for a moved server;
            the proof still has to verify against the header's public key).
        limits: Reader bounds (defaults: the spec's).
        workers: Threads decrypting chunks in verify()/extract() (1 = single-threaded).
        send_receipt: Called once with (container_id, challenge, receipt_mac) as soon as
            the key unwrapped, before the header MAC and the payload are checked, when the
            server sent a challenge (spec §receipts: a damaged payload then costs no
            attempt). It must not raise: a failed receipt never fails the open.

    Returns:
        An open :class:`Container` (use it as a context manager).

    Raises:
        InputError: The file cannot be read.
        FormatError: Malformed header or index (UnsafePathError for unsafe paths,
            UnsupportedVersionError for unknown versions, suites or critical extensions).
        PayloadError: The payload is truncated or a chunk failed authentication.
        KeyServerError: The key-release step failed (KeyServerProtocolError: bad proof).
        WrongPasswordError: The password is wrong.
        HeaderAuthError: The header was modified.
    """
    lim = limits or ReaderLimits()
    if workers < 1:
        raise InputError("workers must be at least 1", hint="use the default")
    fd = _open_fd(path)
    try:
        return _open(
            fd,
            key_server=key_server,
            password=password,
            url_override=url_override,
            lim=lim,
            workers=workers,
            send_receipt=send_receipt,
        )
    except BaseException:
        os.close(fd)
        raise


def _open(
    fd: int,
    *,
    key_server: KeyServer,
    password: str,
    url_override: str | None,
    lim: ReaderLimits,
    workers: int,
    send_receipt: ReceiptSender | None,
) -> Container:
    # spec §reading step 1, in its order: the header structure ([F-MAGIC] .. [F-NO-SLOT]),
    raw, header = _read_header_fd(fd)
    # spec §slots: exactly one slot is used, the first of a supported type (no reader-
    # dependent choice; any failure with it ends the open).
    slot = header.oprf_slots()[0]
    # then the reader's own limits ([F-READER-LIMIT]: a tighter bound must be named),
    if slot.argon2.m > lim.max_argon2_m:
        raise ReaderLimitError(
            f"the container asks for {slot.argon2.m} KiB of Argon2 memory, more than this "
            f"reader allows ({lim.max_argon2_m} KiB)",
            hint="raise the reader's Argon2 memory limit if you trust the sender",
        )
    layout = Layout(header.chunk_log2, os.fstat(fd).st_size - len(raw))
    # then [F-PAYLOAD-EMPTY], [F-CHUNK-SHORT]: a truncated copy costs no server attempt,
    layout.check()
    # then the reader's own input: a moved-server address and [F-PASSWORD-LENGTH].
    if url_override is not None:
        try:
            hdr.check_url(url_override)  # spec §slot-server-oprf: same rules as the header's
        except FormatError:
            raise InputError(
                f"the key server address {url_override!r} is not allowed",
                hint="use an https:// URL (http:// only for 127.0.0.1, [::1] or localhost)",
            ) from None
    keyschedule.check_password(password)
    # spec/protocol.md §evaluate: the digest of the header as read lets the server refuse an
    # altered copy (or a swapped container id) before the attempt counts.
    info = SlotInfo(
        url_override or slot.url,
        slot.container_id,
        slot.public_key,
        header_digest=keyschedule.header_digest(raw),
    )
    kek, evaluation = release_kek(info, key_server, password, slot.argon2)
    dek, receipt_secret = keyschedule.unwrap(kek, slot.wrap_nonce, slot.wrapped, slot.aad())
    receipt_key = keyschedule.receipt_key(receipt_secret, slot.container_id)
    if send_receipt is not None and evaluation.challenge is not None:
        # spec §reading step 3: the unwrap proved the password; confirm before anything else
        # is checked, so a damaged header or payload costs no attempt of the budget.
        mac = keyschedule.receipt_mac(receipt_key, slot.container_id, evaluation.challenge)
        send_receipt(slot.container_id, evaluation.challenge, mac)
    # spec [F-MAC]: covers every header byte, including unknown slots/extensions.
    keyschedule.verify_header_mac(keyschedule.header_key(dek), raw[: -p.MAC_SIZE], header.mac)
    container = Container(
        fd=fd,
        header_bytes=raw,
        layout=layout,
        payload_key=keyschedule.payload_key(dek, header.payload_nonce),
        receipt_key=receipt_key,
        container_id=slot.container_id,
        evaluation=evaluation,
        workers=workers,
    )
    container._load_index(lim)
    return container


class Container:
    """An opened, authenticated container. Use as a context manager.

    Attributes:
        container_id: The 16-byte container id.
        receipt_key: Key for the read receipt (secret; do not log).
        evaluation: The key server's answer, incl. its receipt ``challenge``.
        header_digest: SHA-256 of the header (what the writer committed).
    """

    def __init__(
        self,
        *,
        fd: int,
        header_bytes: bytes,
        layout: Layout,
        payload_key: bytes,
        receipt_key: bytes,
        container_id: bytes,
        evaluation: Evaluation,
        workers: int,
    ) -> None:
        """Internal: use :func:`open_container`."""
        self._fd = fd
        self._offset = len(header_bytes)
        self._layout = layout
        self._key = payload_key
        self._cipher = StreamCipher(payload_key)
        self._workers = workers
        self._entries: list[Entry] = []
        self._by_path: dict[str, Entry] = {}
        self._data_length = 0
        self._memo: dict[int, bytes] = {}  # chunks decrypted while loading the index
        self._closed = False
        self.receipt_key = receipt_key
        self.container_id = container_id
        self.evaluation = evaluation
        self.header_digest = keyschedule.header_digest(header_bytes)

    # -- construction -----------------------------------------------------------------
    def _load_index(self, lim: ReaderLimits) -> None:
        layout = self._layout
        last = layout.chunk_count - 1
        # spec §reading step 4: the final chunk first; it authenticates the end and trailer.
        self._memo[last] = self._chunk(last)
        total = layout.plaintext_length
        # spec [F-TRAILER]: room for an empty index and the trailer (also when n = 1).
        if total < p.TRAILER_SIZE + archive.INDEX_MIN:
            raise FormatError(
                "the payload is too short to hold an index and a trailer",
                hint="the container was built by a faulty or malicious tool",
            )
        index_length = archive.decode_trailer(self._plain(total - p.TRAILER_SIZE, total))
        # spec [F-TRAILER]: 4 <= index_length <= min(len(P) - 8, 2^28).
        if not archive.INDEX_MIN <= index_length <= min(total - p.TRAILER_SIZE, p.INDEX_LENGTH_MAX):
            raise FormatError(
                "the container's trailer gives an impossible index length",
                hint="the container was built by a faulty or malicious tool",
            )
        if index_length > lim.max_index_length:  # spec [F-READER-LIMIT]
            raise ReaderLimitError(
                f"the container index is {index_length} bytes, more than this reader allows "
                f"({lim.max_index_length})",
                hint="raise the reader's index limit if you trust the sender",
            )
        data_length = total - p.TRAILER_SIZE - index_length
        index = self._plain(data_length, data_length + index_length)
        # spec §reading step 5: index rules, [F-DATA-SIZE], then the paths.
        entries = archive.decode_index(index, max_entries=lim.max_entries, data_length=data_length)
        self._memo.clear()
        self._entries = entries
        self._by_path = {e.path: e for e in entries}
        self._data_length = data_length

    # -- chunk access -----------------------------------------------------------------
    def _chunk(self, index: int) -> bytes:
        """Decrypt one chunk (random access)."""
        if self._closed:
            raise ValueError("I/O operation on a closed container")
        start, length = self._layout.span(index)
        sealed = _portable.pread(self._fd, length, self._offset + start)
        if len(sealed) != length:
            raise PayloadError
        return self._cipher.decrypt(index, index == self._layout.chunk_count - 1, sealed)

    def _plain(self, start: int, end: int) -> bytes:
        """Return plaintext bytes [start, end), decrypting only the chunks needed."""
        log2 = self._layout.chunk_log2
        parts = []
        for i in self._layout.chunks_for(start, end):
            data = self._memo.get(i)
            if data is None:
                data = self._chunk(i)
            base = i << log2
            parts.append(data[max(start - base, 0) : end - base])
        return b"".join(parts)

    # -- public API -------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Return the index entries, in index order."""
        return list(self._entries)

    def entry(self, path: str) -> Entry:
        """Return the entry at ``path``.

        Raises:
            InputError: There is no such entry.
        """
        e = self._by_path.get(unicodedata.normalize("NFC", path.strip("/")))
        if e is None:
            raise InputError(
                f"{path!r} is not in this container", hint="list the entries to see its content"
            )
        return e

    def open_entry(self, path: str) -> EntryReader:
        """Open a file entry for reading (seekable, read-only, decrypts on demand).

        Raises:
            InputError: No such entry, or it is a directory.
        """
        e = self.entry(path)
        if not e.is_file:
            raise InputError(f"{path!r} is a directory", hint="open a file entry instead")
        return EntryReader(self, e)

    def receipt_mac(self, challenge: bytes | None = None) -> bytes:
        """Return the receipt MAC for ``challenge`` (default: the evaluation's challenge).

        Raises:
            InputError: There is no challenge to answer.
        """
        ch = challenge if challenge is not None else self.evaluation.challenge
        if ch is None:
            raise InputError(
                "the key server sent no receipt challenge",
                hint="no receipt is needed for this opening",
            )
        return keyschedule.receipt_mac(self.receipt_key, self.container_id, ch)

    def verify(self, progress: Progress | None = None) -> None:
        """Authenticate every chunk of the payload; write nothing.

        Raises:
            PayloadError: A chunk failed authentication.
        """
        total = self._layout.plaintext_length

        def keep_nothing(_index: int, view: memoryview) -> int:
            return len(view)

        def report(done: int) -> None:
            if progress is not None:
                progress(done, total)

        self._run_chunks(range(self._layout.chunk_count), keep_nothing, report)

    def _run_chunks(
        self,
        indices: Sequence[int],
        consume: Callable[[int, memoryview], int],
        progress: Callable[[int], None] | None,
    ) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed container")
        # Unordered and chunk-parallel: neither verify() nor extraction needs the chunks in
        # order, and each thread reads, decrypts and consumes its own chunk (no hand-off).
        open_chunks(
            self._fd,
            self._offset,
            self._layout,
            self._key,
            indices,
            consume=consume,
            workers=self._workers,
            progress=progress,
        )

    def extract(
        self,
        dest: StrPath,
        paths: Sequence[str] | None = None,
        *,
        force: bool = False,
        progress: Progress | None = None,
    ) -> list[Entry]:
        """Extract entries into the directory ``dest``.

        Semantics: ``dest`` is a directory. If it does not exist it is created; if it exists
        it must be empty unless ``force``. With ``force``, a non-empty ``dest`` is allowed and
        existing top-level *files* with the same name as an extracted top-level item are
        replaced; an existing top-level *directory* of the same name is never merged or
        deleted (OutputExistsError). Nothing is moved into ``dest`` before every extracted
        byte has authenticated; on any failure nothing decrypted is left behind.

        Permission bits (never setuid/setgid/sticky) and mtimes are restored.

        Args:
            dest: The destination directory.
            paths: Entries to extract (a directory selects everything under it); all if None.
            force: Allow a non-empty ``dest`` (see above).
            progress: Called as ``progress(bytes_done, bytes_total)``.

        Returns:
            The entries extracted.

        Raises:
            InputError: A requested path is not in the container.
            OutputExistsError: ``dest`` is a file, or non-empty without ``force``, or a
                top-level directory would be replaced.
            PayloadError: A chunk failed authentication (nothing was extracted).
            ContainerError: Writing failed (nothing was extracted).
        """
        return extract_entries(
            self._run_chunks,
            self._layout,
            self._entries,
            Path(dest),
            paths,
            force=force,
            progress=progress,
        )

    def close(self) -> None:
        """Close the container file (entry readers stop working)."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EntryReader(io.RawIOBase):
    """A seekable, read-only view of one file entry; decrypts only the chunks it needs.

    ``read(n)`` returns ``n`` bytes unless the end of the entry is reached. The current
    chunk's plaintext is cached, so sequential small reads decrypt each chunk once.
    """

    def __init__(self, container: Container, entry: Entry) -> None:
        """Internal: use :meth:`Container.open_entry`."""
        super().__init__()
        self._c = container
        self.entry = entry
        self._pos = 0
        self._cached_index = -1
        self._cached = b""

    def readable(self) -> bool:  # noqa: D102
        return True

    def seekable(self) -> bool:  # noqa: D102
        return True

    def tell(self) -> int:  # noqa: D102
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:  # noqa: D102
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.entry.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: object) -> int:  # noqa: D102
        if self.closed:
            raise ValueError("I/O operation on closed file")
        out = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        log2 = self._c._layout.chunk_log2
        written = 0
        while written < len(out) and self._pos < self.entry.size:
            absolute = self.entry.offset + self._pos
            index = absolute >> log2
            if index != self._cached_index:
                self._cached = self._c._chunk(index)
                self._cached_index = index
            within = absolute - (index << log2)
            k = min(
                len(out) - written,
                len(self._cached) - within,
                self.entry.size - self._pos,
            )
            out[written : written + k] = self._cached[within : within + k]
            written += k
            self._pos += k
        return written

    def views(self) -> Iterator[memoryview]:
        """Yield the rest of the entry, chunk by chunk, without copying it.

        Each piece is a view of one chunk's plaintext, yielded only after that whole chunk
        authenticated. The next chunk is read and decrypted on a helper thread while the
        caller writes this one (``pread`` and AES-GCM release the GIL): ``rwc cat`` into a
        pipe then spends its time writing, not waiting for the cipher.
        """
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if self._pos >= self.entry.size:
            return
        log2 = self._c._layout.chunk_log2
        first = (self.entry.offset + self._pos) >> log2
        last = (self.entry.offset + self.entry.size - 1) >> log2
        with ThreadPoolExecutor(1, thread_name_prefix="rwc-read-ahead") as pool:
            ahead = pool.submit(self._c._chunk, first)
            for index in range(first, last + 1):
                data = ahead.result()
                if index < last:
                    ahead = pool.submit(self._c._chunk, index + 1)
                self._cached, self._cached_index = data, index
                within = self.entry.offset + self._pos - (index << log2)
                k = min(len(data) - within, self.entry.size - self._pos)
                self._pos += k
                yield memoryview(data)[within : within + k]

    def readall(self) -> bytes:
        """Read from the current position to the end of the entry in one allocation."""
        buf = bytearray(max(0, self.entry.size - self._pos))
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def close(self) -> None:  # noqa: D102
        self._cached = b""
        super().close()
