"""Sealing: files, directories or one stream -> a container file, atomically.

Order of work, so that bad input costs nothing: collect and check the inputs (refusing
symlinks, devices, FIFOs and sockets), check the destination, run the key-release step
(the server's answer, its proof verified), then seal the payload into a staged file beside
the destination (nameless on Linux, see pycontainer/_engine/staging.py: a killed seal
leaves nothing) while Argon2id turns the answer into the KEK in a thread of its own (the
payload needs only the random DEK), write the header with the wrapped keys, fsync, and
publish under its name in one step. Files are sealed chunk-parallel
(:func:`~pycontainer._engine.pipeline.seal_chunks`: the sizes and the index are known
before the first byte is read, so every chunk's plaintext source and ciphertext offset are
fixed); a stream goes through :class:`~pycontainer._engine.pipeline.EncryptingSink`. Any
failure discards the staged file; a source file that changes size while it is read fails
the seal instead of
producing an index that lies.

Spec anchors: spec/format.md §header, §slot-server-oprf, §key-schedule, §payload, §index.

The order of work reads top to bottom here; its parts have modules of their own: the
inputs (_inputs.py), reading files (_files.py), the header and the KEK (_header.py).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Required, TypedDict, Unpack

from pycontainer import _portable
from pycontainer._engine import staging
from pycontainer._engine.pipeline import EncryptingSink, seal_chunks
from pycontainer._engine.readahead import DIRECT_READ_AHEAD
from pycontainer._engine.writeback import DROP_BEHIND, Writeback
from pycontainer.errors import (
    ContainerError,
    FormatError,
    InputError,
    OutputExistsError,
)
from pycontainer.format import archive, keyschedule
from pycontainer.format import primitives as p
from pycontainer.format.archive import Entry
from pycontainer.format.header import check_url
from pycontainer.format.stream import sealed_length
from pycontainer.keyrelease import KeyServer, SlotInfo, release_oprf
from pycontainer.progress import Progress
from pycontainer.writer._files import FileReader
from pycontainer.writer._header import RandomSource, Stretch, draft_header
from pycontainer.writer._inputs import (
    Source,
    StrPath,
    check_inputs,
    check_names,
    check_stream_name,
    collect,
    nfc,
)

__all__ = [
    "SealOptions",
    "SealResult",
    "check_inputs",
    "check_stream_name",
    "collect",
    "seal_paths",
    "seal_stream",
]


@dataclass(frozen=True)
class SealResult:
    """What sealing produced; the CLI commits ``header_digest`` and ``receipt_key``.

    Attributes:
        container_id: The 16-byte container id.
        header_digest: SHA-256 of the complete header.
        receipt_key: The key the server uses to check readers' receipts (secret).
        entries: Number of index entries.
        payload_bytes: Size of the encrypted payload (the file is header + payload).
        data_bytes: Total content bytes of the files sealed.
    """

    container_id: bytes
    header_digest: bytes
    receipt_key: bytes = dataclasses.field(repr=False)
    entries: int
    payload_bytes: int
    data_bytes: int


class SealOptions(TypedDict, total=False):
    """The keyword arguments of :func:`seal_paths` and :func:`seal_stream`.

    One list for both, read in one place (``_seal``), so the two entry points cannot drift
    apart in their defaults or checks.

    Attributes:
        slot: The container's registration at the key server (required).
        key_server: Evaluates the blinded element: the HTTP client, or an in-process one
            (required).
        password: The container password, "" for none (required).
        chunk_log2: log2 of the STREAM chunk size (default ``CHUNK_LOG2_DEFAULT``).
        argon2: Argon2id cost parameters (default ``ARGON2_DEFAULT``).
        force: Replace the output file if it exists (default False).
        progress: Called as ``progress(bytes_done, bytes_total)`` after each chunk;
            ``bytes_total`` is 0 for a stream (its size is unknown until its end).
        rng: Randomness for DEK, nonces and receipt secret (``os.urandom`` if None); only
            test-vector generators pass anything else.
        workers: Threads sealing chunks, the caller's included (1 = single-threaded).
        before_publish: Called with the result once the container is complete on disk
            (still nameless) and before it gets its name; an exception from it discards
            the container (``rwc seal`` commits the registration here, so a container
            only appears once the server has activated it).
    """

    slot: Required[SlotInfo]
    key_server: Required[KeyServer]
    password: Required[str]
    chunk_log2: int
    argon2: p.Argon2Params
    force: bool
    progress: Progress | None
    rng: RandomSource | None
    workers: int
    before_publish: Callable[[SealResult], None] | None


def _check_params(chunk_log2: int, argon2: p.Argon2Params, slot: SlotInfo, workers: int) -> None:
    if not p.CHUNK_LOG2_MIN <= chunk_log2 <= p.CHUNK_LOG2_MAX:
        raise InputError(
            f"chunk_log2 must be between {p.CHUNK_LOG2_MIN} and {p.CHUNK_LOG2_MAX}",
            hint="use the default",
        )
    if not argon2.within_bounds():
        raise InputError(
            "Argon2 parameters out of the allowed range "
            f"(m {p.ARGON2_M_MIN}..{p.ARGON2_M_MAX} KiB, t {p.ARGON2_T_MIN}..{p.ARGON2_T_MAX}, "
            f"p {p.ARGON2_P_MIN}..{p.ARGON2_P_MAX})",
            hint="use the defaults",
        )
    if len(slot.container_id) != p.CONTAINER_ID_SIZE or len(slot.public_key) != p.PUBLIC_KEY_SIZE:
        raise InputError(
            "the key server registration is malformed (container id or public key size)",
            hint="register the container again",
        )
    try:
        check_url(slot.url)
    except FormatError:
        raise InputError(
            f"the key server URL {slot.url!r} cannot be stored in a container",
            hint="use an https:// URL (http:// only for 127.0.0.1/localhost)",
        ) from None
    if workers < 1:
        raise InputError("workers must be at least 1", hint="use the default")


def _check_destination(out: Path, *, force: bool) -> None:
    if out.is_dir():
        raise OutputExistsError(
            f"{out} is a directory", hint="give the path of the container file to create"
        )
    if (out.exists() or out.is_symlink()) and not force:
        raise OutputExistsError(
            f"{out} already exists", hint="choose another name, or pass --force to replace it"
        )
    if not out.parent.is_dir():
        raise InputError(f"the directory {out.parent} does not exist", hint="create it first")


WriteAt = Callable[[memoryview, int], None]


@dataclass(frozen=True)
class _Payload:
    """What a producer needs to seal the payload (the options resolved by ``_seal``)."""

    key: bytes = dataclasses.field(repr=False)
    chunk_log2: int
    workers: int
    write_at: WriteAt
    on_chunk: Callable[[int], None]


# produce(payload) seals the whole plaintext and returns the index entries, the data bytes
# and the plaintext length; it releases its resources on failure.
_Produced = tuple[list[Entry], int, int]
Producer = Callable[[_Payload], _Produced]


def _seal(
    out_path: StrPath, produce: Producer, data_total: int, options: SealOptions
) -> SealResult:
    out = Path(out_path)
    slot, key_server = options["slot"], options["key_server"]
    chunk_log2 = options.get("chunk_log2", p.CHUNK_LOG2_DEFAULT)
    argon2 = options.get("argon2", p.ARGON2_DEFAULT)
    force = options.get("force", False)
    workers = options.get("workers", p.WORKERS_DEFAULT)
    progress = options.get("progress")
    before_publish = options.get("before_publish")
    rng = options.get("rng") or os.urandom
    _check_params(chunk_log2, argon2, slot, workers)
    _check_destination(out, force=force)
    # The key release itself comes first, before any input is read: a refusal (revoked,
    # bad proof, wrong token) costs nothing. Only its Argon2id runs beside the payload.
    oprf_out, _evaluation = release_oprf(slot, key_server, options["password"])
    dek = rng(p.KEY_SIZE)
    receipt_secret = rng(p.RECEIPT_SECRET_SIZE)
    draft = draft_header(slot, argon2=argon2, chunk_log2=chunk_log2, rng=rng)
    payload_key = keyschedule.payload_key(dek, draft.payload_nonce)
    receipt_key = keyschedule.receipt_key(receipt_secret, slot.container_id)
    stretch = Stretch(oprf_out, slot.container_id, argon2)
    try:
        # Leftovers of earlier seals killed here (ours only, and only those no live run
        # holds).
        staging.remove_stale(out.parent)
        try:
            staged = staging.StagedFile(out, 0o644)
        except OSError as exc:
            raise ContainerError(
                f"cannot create a file in {out.parent}: {exc.strerror}",
                hint="check the directory's permissions and free space",
            ) from None
        try:
            fd = staged.fd
            base = draft.length
            # The container is fsynced before publish: its writeback starts as chunks are
            # written, and what was written back leaves the page cache behind the writes
            # (pycontainer/_engine/writeback.py: a 10 GiB seal paid for 10 GiB of fresh
            # pages, as the extraction did).
            writeback = Writeback(fd, drop_behind=DROP_BEHIND)

            def write_at(view: memoryview, offset: int) -> None:
                # pwrite: thread-safe and position-independent, so workers write
                # concurrently; in pieces on a disk (writeback.WRITE_PIECE says why).
                _portable.pwrite_all(fd, view, base + offset, piece=writeback.piece)
                writeback.start(base + offset, len(view))

            def on_chunk(done: int) -> None:
                if progress is not None:
                    progress(min(done, data_total) if data_total else done, data_total)

            entries, data_bytes, plaintext = produce(
                _Payload(payload_key, chunk_log2, workers, write_at, on_chunk)
            )
            header = draft.finish(stretch.kek(), dek, receipt_secret)
            _portable.pwrite_all(fd, memoryview(header), 0)
            os.fsync(fd)
            result = SealResult(
                container_id=slot.container_id,
                header_digest=keyschedule.header_digest(header),
                receipt_key=receipt_key,
                entries=len(entries),
                payload_bytes=sealed_length(plaintext, chunk_log2),
                data_bytes=data_bytes,
            )
            if before_publish is not None:
                before_publish(result)
            staged.publish(force=force)
        except BaseException as exc:
            staged.discard()
            if isinstance(exc, OSError):
                raise ContainerError(
                    f"writing {out} failed: {exc.strerror}",
                    hint="check free space and permissions; nothing was written",
                ) from None
            raise
    finally:
        stretch.join()  # no thread outlives the seal, whatever happened
    return result


def _encode_index(entries: list[Entry]) -> bytes:
    index = archive.encode_index(entries)
    # spec §index: readers refuse larger indexes, so never write one.
    if len(index) > p.INDEX_LENGTH_MAX:
        raise InputError(
            "the file list is too large for one container",
            hint="split the data into several containers",
        )
    return index


def seal_paths(
    paths: Sequence[StrPath], out_path: StrPath, **options: Unpack[SealOptions]
) -> SealResult:
    """Seal files and directories into a new container.

    Each input is stored under its base name (``seal_paths(["a/dir1", "file2"], ...)``
    stores ``dir1/...`` and ``file2``), with sizes, mtimes and permission bits.

    Args:
        paths: Files and directories to seal.
        out_path: The container file to create.
        **options: :class:`SealOptions` (``slot``, ``key_server`` and ``password`` are
            required).

    Returns:
        The :class:`SealResult`.

    Raises:
        InputError: An input is missing, special (symlink, device, FIFO, socket),
            unreadable, badly named, or changed while sealing; or a parameter is invalid.
        OutputExistsError: ``out_path`` exists and ``force`` is False.
        KeyServerCallError: The key-release step failed (KeyServerProtocolError: bad proof).
        ContainerError: Writing the output failed (nothing is left behind).
    """
    sources = collect(paths)
    entries = [s.entry for s in sources]
    # The index is known before any byte is read (sizes from the walk): a too-large one is
    # refused before the key server is asked, and the payload length is fixed up front.
    index = _encode_index(entries)
    tail = index + archive.encode_trailer(len(index))

    def produce(payload: _Payload) -> _Produced:
        reader = FileReader(sources, tail, payload.chunk_log2)
        try:
            reader.check_empty_files()
            seal_chunks(
                payload.key,
                payload.chunk_log2,
                reader.length,
                reader.fill,
                payload.write_at,
                workers=payload.workers,
                progress=payload.on_chunk,
                # Reads around the page cache have no kernel read-ahead: threads of
                # our own keep reads queued at the disk (_engine/readahead.py).
                read_ahead=DIRECT_READ_AHEAD if reader.reads_around_cache() else 0,
            )
        finally:
            reader.close()
        return entries, reader.data_length, reader.length

    return _seal(out_path, produce, sum(e.size for e in entries), options)


def seal_stream(
    stream: BinaryIO,
    name: str,
    out_path: StrPath,
    *,
    mode: int = 0o600,
    mtime_ns: int | None = None,
    **options: Unpack[SealOptions],
) -> SealResult:
    """Seal one byte stream (e.g. stdin) as a single file entry called ``name``.

    Memory stays constant: the size is learned at the end of the stream. ``progress``
    receives ``bytes_total == 0`` (unknown).

    Args:
        stream: A binary stream to read until EOF.
        name: The entry name (default for the CLI: "stdin").
        out_path: The container file to create.
        mode: Permission bits stored for the entry.
        mtime_ns: Modification time stored (now if None).
        **options: :class:`SealOptions`, as for :func:`seal_paths`.

    Returns:
        The :class:`SealResult`.

    Raises:
        InputError: Bad name or parameters, or reading the stream failed.
        OutputExistsError: ``out_path`` exists and ``force`` is False.
        KeyServerCallError: The key-release step failed.
        ContainerError: Writing the output failed.
    """
    name = nfc(name)
    when = time.time_ns() if mtime_ns is None else mtime_ns
    secs, nsecs = divmod(when, 1_000_000_000)
    probe = Entry(name, p.ENTRY_FILE, mode & p.MODE_MASK, secs, nsecs, 0)
    check_names([Source(probe, None)])

    def produce(payload: _Payload) -> _Produced:
        sink = EncryptingSink(
            payload.key,
            payload.chunk_log2,
            payload.write_at,
            workers=payload.workers,
            progress=payload.on_chunk,
        )
        try:
            entries = _fill_from_stream(sink)
            index = _encode_index(entries)
            sink.write(index)
            sink.write(archive.encode_trailer(len(index)))
            sink.close()
        except BaseException:
            sink.abort()
            raise
        return entries, entries[0].size, sink.plaintext_length

    def _fill_from_stream(sink: EncryptingSink) -> list[Entry]:
        readinto = getattr(stream, "readinto", None)
        try:
            while True:
                room = sink.space()
                if readinto is not None:
                    n = readinto(room)
                else:
                    data = stream.read(len(room))
                    n = len(data)
                    room[:n] = data
                if not n:
                    break
                sink.commit(n)
        except OSError as exc:
            raise InputError(
                f"reading the input stream failed: {exc.strerror or exc}",
                hint="check the program or file feeding rwc",
            ) from None
        return [probe._replace(size=sink.plaintext_length)]

    return _seal(out_path, produce, 0, options)
