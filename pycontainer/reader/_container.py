"""An opened, authenticated container: its index, random access, verify and extract.

Built by :func:`pycontainer.reader.open_container` once the key unwrapped and the header
MAC verified; it then authenticates the final chunk, the trailer and the index before
anything is trusted (spec/format.md §reading steps 4-5).

Spec anchors: spec/format.md §payload, §index.
"""

import os
import unicodedata
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from pycontainer import _portable
from pycontainer._engine.direct import DirectReads, read_span
from pycontainer._engine.pipeline import Buffers, open_chunks
from pycontainer._engine.readahead import DIRECT_READ_AHEAD
from pycontainer._record import Record
from pycontainer.errors import (
    EntryNotFoundError,
    FormatError,
    InputError,
    PayloadError,
    ReaderLimitError,
)
from pycontainer.format import archive, keyschedule
from pycontainer.format import primitives as p
from pycontainer.format.archive import Entry
from pycontainer.format.stream import Layout, StreamCipher
from pycontainer.keyrelease import Evaluation
from pycontainer.reader._entry import EntryReader

if TYPE_CHECKING:  # a module of its own for one alias: ~0.3 M instructions a cat (issue 15)
    from pycontainer.progress import Progress

StrPath = str | os.PathLike[str]


# A record (pycontainer/_record.py), not a frozen dataclass or a NamedTuple: every `rwc cat`
# defines it, and those cost ~3.7 M and ~0.6 M instructions to define against ~0.1 M (issue 15).
class ReaderLimits(Record):
    """Reader-side bounds (each at most the spec's MUST bound).

    Attributes:
        max_index_length: Largest index accepted, in bytes (held in memory).
        max_entries: Largest entry count accepted.
        max_argon2_m: Largest Argon2 memory accepted, in KiB.
    """

    max_index_length: int = p.INDEX_LENGTH_MAX
    max_entries: int = p.ENTRY_COUNT_MAX
    max_argon2_m: int = p.ARGON2_M_MAX


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
        direct: DirectReads | None = None,
    ) -> None:
        """Internal: use :func:`open_container`.

        ``direct`` is the container's twin for reading its payload around the page cache
        (_engine/direct.py); the container owns it from here on and closes it.
        """
        self._fd = fd
        self._direct = direct
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

    def _chunk_into(self, index: int, bufs: Buffers) -> memoryview:
        """Decrypt one chunk into ``bufs`` (no allocation); return a view of its plaintext.

        For streaming a chunk after another (:meth:`EntryReader.views`): :meth:`_chunk`
        allocates two chunk-sized objects per chunk, and the cipher binding zero-fills its
        output before decrypting into it (12% of a 1 GiB ``rwc cat``'s CPU, perf).
        """
        if self._closed:
            raise ValueError("I/O operation on a closed container")
        start, length = self._layout.span(index)
        with memoryview(bufs.sealed) as sealed_all:
            sealed = read_span(self._fd, self._direct, sealed_all, self._offset + start, length)
            if len(sealed) != length:
                sealed.release()
                raise PayloadError  # the file shrank under us: same as truncation
            plain = memoryview(bufs.plain)
            try:
                last = index == self._layout.chunk_count - 1
                n = self._cipher.decrypt_into(index, last, sealed, plain)
            except BaseException:
                plain.release()
                raise
            sealed.release()
        return plain[:n]

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
            EntryNotFoundError: There is no such entry.
        """
        e = self._by_path.get(unicodedata.normalize("NFC", path.strip("/")))
        if e is None:
            raise EntryNotFoundError(path)
        return e

    def open_entry(self, path: str) -> EntryReader:
        """Open a file entry for reading (seekable, read-only, decrypts on demand).

        Raises:
            InputError: No such entry, or it is a directory.
        """
        e = self.entry(path)
        if not e.is_file:
            raise InputError(f"{path!r} is a directory", hint="open a file entry instead")
        # Direct reads wait for the disk, chunk by chunk, without the kernel's read-ahead:
        # two in flight keep the disk busy while a third chunk is written out.
        return EntryReader(
            e,
            self._layout.chunk_log2,
            chunk=self._chunk,
            chunk_into=self._chunk_into,
            ahead=2 if self._direct is not None else 1,
        )

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

    def verify(self, progress: "Progress | None" = None) -> None:
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
            direct=self._direct,
            # Direct reads have no kernel read-ahead: threads of our own keep reads
            # queued at the disk while the workers decrypt and write (ReadAhead).
            read_ahead=DIRECT_READ_AHEAD,
        )

    def extract(
        self,
        dest: StrPath,
        paths: Sequence[str] | None = None,
        *,
        force: bool = False,
        progress: "Progress | None" = None,
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
        # Imported here: only extraction writes files (with staging, openfiles and
        # writeback), and `rwc cat`/`ls`/`verify` would import them for nothing (issue 15:
        # ~3 M instructions of a small cat's start-up, bench/profiles/startup.md); pathlib
        # too (~14 M with urllib.parse and ipaddress), which extraction loads anyway.
        from pathlib import Path  # noqa: PLC0415

        from pycontainer._engine.extract import extract_entries  # noqa: PLC0415

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
            if self._direct is not None:
                self._direct.close()
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
