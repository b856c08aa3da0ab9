"""Sealing: files, directories or one stream -> a container file, atomically.

Order of work, so that bad input costs nothing: collect and check the inputs (refusing
symlinks, devices, FIFOs and sockets), check the destination, run the key-release step,
then stream the payload through :class:`~pycontainer.stream.EncryptingSink` into a temp
file beside the destination, fsync it, and rename it into place. Any failure removes the
temp file; a source file that changes size while it is read fails the seal instead of
producing an index that lies.

Spec anchors: spec/format.md §header, §slot-server-oprf, §key-schedule, §payload, §index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pycontainer import archive, keyschedule
from pycontainer import primitives as p
from pycontainer.archive import Entry
from pycontainer.errors import (
    ContainerError,
    FormatError,
    InputError,
    OutputExistsError,
    UnsafePathError,
)
from pycontainer.header import Header, OprfSlot, check_url, encode_unsigned
from pycontainer.keyrelease import KeyServer, SlotInfo, release_kek
from pycontainer.stream import EncryptingSink, sealed_length

RandomSource = Callable[[int], bytes]
Progress = Callable[[int, int], None]
StrPath = str | os.PathLike[str]


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


@dataclass(frozen=True)
class _Source:
    entry: Entry
    fs_path: str | None  # None for directories
    dev_ino: tuple[int, int] = (0, 0)


def _refuse(path: str, st_mode: int) -> InputError:
    if stat.S_ISLNK(st_mode):
        return InputError(
            f"{path} is a symbolic link; rwc does not store links",
            hint="replace the link with a copy of the file it points to, or leave it out",
        )
    kind = (
        "a device"
        if stat.S_ISBLK(st_mode) or stat.S_ISCHR(st_mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(st_mode)
        else "a socket"
        if stat.S_ISSOCK(st_mode)
        else "not a regular file or directory"
    )
    return InputError(
        f"{path} is {kind}; rwc only seals regular files and directories",
        hint="leave it out, or pipe its content with `rwc seal -` (stream sealing)",
    )


def _entry_for(name: str, st: os.stat_result) -> Entry:
    secs, nsecs = divmod(st.st_mtime_ns, 1_000_000_000)
    kind = p.ENTRY_DIR if stat.S_ISDIR(st.st_mode) else p.ENTRY_FILE
    size = st.st_size if kind == p.ENTRY_FILE else 0
    # spec §index: permission bits only; setuid/setgid/sticky are dropped.
    return Entry(name, kind, st.st_mode & p.MODE_MASK, secs, nsecs, size)


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", hint="check the path you gave to seal") from None
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}", hint="check its permissions"
        ) from None


def collect(paths: Sequence[StrPath]) -> list[_Source]:
    """Walk the inputs into index order (pre-order, names sorted), refusing special files.

    An input ``a/b/dir`` is stored as ``dir/...``; a file input by its base name.

    Raises:
        InputError: A missing, special or unreadable input, a name that cannot be stored,
            or two inputs with the same name.
    """
    if not paths:
        raise InputError("nothing to seal", hint="name at least one file or directory")
    sources: list[_Source] = []
    for given in paths:
        top = os.fspath(given)
        # abspath, not resolve(): normalise '.' and '..' lexically, never follow links.
        name = Path(os.path.abspath(top)).name  # noqa: PTH100
        if not name:
            raise InputError(
                f"{top} has no name to store it under",
                hint="seal the files inside it instead",
            )
        stack: list[tuple[str, str]] = [(top, name)]
        while stack:
            fs_path, arc = stack.pop()
            st = _lstat(fs_path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise _refuse(fs_path, st.st_mode)
            entry = _entry_for(arc, st)
            if entry.is_dir:
                sources.append(_Source(entry, None))
                try:
                    names = sorted(c.name for c in Path(fs_path).iterdir())
                except OSError as exc:
                    raise InputError(
                        f"cannot list {fs_path}: {exc.strerror}", hint="check its permissions"
                    ) from None
                # Reversed onto the stack so that children come out in sorted order.
                stack.extend((f"{fs_path}/{n}", f"{arc}/{n}") for n in reversed(names))
            else:
                sources.append(_Source(entry, fs_path, (st.st_dev, st.st_ino)))
            if len(sources) > p.ENTRY_COUNT_MAX:
                raise InputError(
                    f"too many files (more than {p.ENTRY_COUNT_MAX})",
                    hint="split the data into several containers",
                )
    _check_names(sources)
    return sources


def _check_names(sources: Sequence[_Source]) -> None:
    try:
        archive.check_entries(s.entry for s in sources)
    except UnsafePathError as exc:
        raise InputError(
            f"cannot seal {exc.path!r}: the name {exc.reason}"
            if exc.reason.startswith(("contains", "collides", "appears"))
            else f"cannot seal {exc.path!r}: {exc.reason}",
            hint="rename the file (names must be valid UTF-8 in NFC form, without control "
            "characters or backslashes, and must differ in more than letter case)",
        ) from None


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


def _build_header(
    slot: SlotInfo,
    *,
    argon2: p.Argon2Params,
    chunk_log2: int,
    kek: bytes,
    dek: bytes,
    receipt_secret: bytes,
    rng: RandomSource,
) -> tuple[bytes, bytes]:
    wrap_nonce = rng(p.WRAP_NONCE_SIZE)
    payload_nonce = rng(p.PAYLOAD_NONCE_SIZE)
    placeholder = OprfSlot(
        slot.url, slot.container_id, slot.public_key, argon2, wrap_nonce, bytes(p.WRAPPED_SIZE)
    )
    # spec §slot-server-oprf: the wrap's AAD is the slot body before wrap_nonce, so the URL,
    # public key and Argon2 parameters cannot be swapped without breaking the unwrap.
    wrapped = keyschedule.wrap(kek, wrap_nonce, dek, receipt_secret, placeholder.aad())
    oprf_slot = dataclasses.replace(placeholder, wrapped=wrapped)
    unsigned = encode_unsigned(Header(chunk_log2, payload_nonce, (oprf_slot,)))
    mac = keyschedule.header_mac(keyschedule.header_key(dek), unsigned)
    return unsigned + mac, payload_nonce


def _write_all(fd: int, view: memoryview, offset: int) -> None:
    # pwrite: thread-safe and position-independent, so workers write chunks concurrently.
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _publish(tmp: Path, out: Path, *, force: bool) -> None:
    if force:
        tmp.replace(out)
    else:
        try:
            # link() fails if `out` appeared meanwhile: no silent overwrite, even racing.
            os.link(tmp, out)
        except FileExistsError:
            raise OutputExistsError(
                f"{out} already exists",
                hint="choose another name, or pass --force to replace it",
            ) from None
        except OSError:
            # File systems without hard links (FAT USB sticks): best effort check + rename.
            if out.exists():
                raise OutputExistsError(
                    f"{out} already exists",
                    hint="choose another name, or pass --force to replace it",
                ) from None
            tmp.rename(out)
        else:
            tmp.unlink()
    try:
        dfd = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the data itself is synced
    finally:
        os.close(dfd)


Filler = Callable[[EncryptingSink], list[Entry]]


def _seal(
    out_path: StrPath,
    fill: Filler,
    *,
    slot: SlotInfo,
    key_server: KeyServer,
    password: str,
    chunk_log2: int,
    argon2: p.Argon2Params,
    force: bool,
    rng: RandomSource,
    workers: int,
    data_total: int,
    progress: Progress | None,
) -> SealResult:
    out = Path(out_path)
    _check_params(chunk_log2, argon2, slot, workers)
    _check_destination(out, force=force)
    kek, _evaluation = release_kek(slot, key_server, password, argon2)
    dek = rng(p.KEY_SIZE)
    receipt_secret = rng(p.RECEIPT_SECRET_SIZE)
    header, payload_nonce = _build_header(
        slot,
        argon2=argon2,
        chunk_log2=chunk_log2,
        kek=kek,
        dek=dek,
        receipt_secret=receipt_secret,
        rng=rng,
    )
    payload_key = keyschedule.payload_key(dek, payload_nonce)

    tmp = out.with_name(f".{out.name}.{os.urandom(6).hex()}.rwc-tmp")
    try:
        # Exclusive create: never follow or reuse something planted at the temp name.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ContainerError(
            f"cannot create a file in {out.parent}: {exc.strerror}",
            hint="check the directory's permissions and free space",
        ) from None
    sink: EncryptingSink | None = None
    try:
        _write_all(fd, memoryview(header), 0)
        base = len(header)

        def write_at(view: memoryview, offset: int) -> None:
            _write_all(fd, view, base + offset)

        def on_chunk(done: int) -> None:
            if progress is not None:
                progress(min(done, data_total) if data_total else done, data_total)

        sink = EncryptingSink(payload_key, chunk_log2, write_at, workers=workers, progress=on_chunk)
        entries = fill(sink)
        data_bytes = sink.plaintext_length
        index = _encode_index(entries)
        sink.write(index)
        sink.write(archive.encode_trailer(len(index)))
        sink.close()
        os.fsync(fd)
        os.close(fd)
        fd = -1
        _publish(tmp, out, force=force)
    except BaseException as exc:
        if sink is not None:
            sink.abort()
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ContainerError(
                f"writing {out} failed: {exc.strerror}",
                hint="check free space and permissions; nothing was written",
            ) from None
        raise
    plaintext = data_bytes + len(index) + p.TRAILER_SIZE
    return SealResult(
        container_id=slot.container_id,
        header_digest=keyschedule.header_digest(header),
        receipt_key=keyschedule.receipt_key(receipt_secret, slot.container_id),
        entries=len(entries),
        payload_bytes=sealed_length(plaintext, chunk_log2),
        data_bytes=data_bytes,
    )


def _encode_index(entries: list[Entry]) -> bytes:
    index = archive.encode_index(entries)
    # spec §index: readers refuse larger indexes, so never write one.
    if len(index) > p.INDEX_LENGTH_MAX:
        raise InputError(
            "the file list is too large for one container",
            hint="split the data into several containers",
        )
    return index


def _read_file_into(sink: EncryptingSink, src: _Source) -> None:
    path = src.fs_path
    assert path is not None
    try:
        # O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
        # O_NONBLOCK: a file swapped for a FIFO must not hang the seal (refused below).
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}",
            hint="check that it still exists and is readable",
        ) from None
    changed = InputError(
        f"{path} changed while it was being sealed",
        hint="seal again when nothing is writing to the file",
    )
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != src.dev_ino:
            raise changed
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # readahead hint only
        remaining = src.entry.size
        while remaining:
            room = sink.space()
            if len(room) > remaining:
                room = room[:remaining]
            n = os.readv(fd, [room])
            if n == 0:
                raise changed  # shrank: the index would promise bytes we do not have
            sink.commit(n)
            remaining -= n
        if os.read(fd, 1):
            raise changed  # grew: the extra bytes would be silently dropped
        after = os.fstat(fd)
        # Same size but rewritten in place (mtime moved): the bytes read may mix two versions.
        if after.st_size != src.entry.size or after.st_mtime_ns != src.entry.mtime_total_ns:
            raise changed
    except OSError as exc:
        raise InputError(
            f"reading {path} failed: {exc.strerror}", hint="check the file and the disk"
        ) from None
    finally:
        os.close(fd)


def seal_paths(
    paths: Sequence[StrPath],
    out_path: StrPath,
    *,
    slot: SlotInfo,
    key_server: KeyServer,
    password: str,
    chunk_log2: int = p.CHUNK_LOG2_DEFAULT,
    argon2: p.Argon2Params = p.ARGON2_DEFAULT,
    force: bool = False,
    progress: Progress | None = None,
    rng: RandomSource | None = None,
    workers: int = p.WORKERS_DEFAULT,
) -> SealResult:
    """Seal files and directories into a new container.

    Each input is stored under its base name (``seal_paths(["a/dir1", "file2"], ...)``
    stores ``dir1/...`` and ``file2``), with sizes, mtimes and permission bits.

    Args:
        paths: Files and directories to seal.
        out_path: The container file to create.
        slot: The container's registration at the key server.
        key_server: Evaluates the blinded element (the HTTP client, or an in-process one).
        password: The container password ("" for none).
        chunk_log2: log2 of the STREAM chunk size.
        argon2: Argon2id cost parameters.
        force: Replace ``out_path`` if it exists.
        progress: Called as ``progress(bytes_done, bytes_total)`` after each chunk.
        rng: Randomness for DEK, nonces and receipt secret (``os.urandom`` if None); only
            test-vector generators pass anything else.
        workers: Threads encrypting chunks (1 = single-threaded).

    Returns:
        The :class:`SealResult`.

    Raises:
        InputError: An input is missing, special (symlink, device, FIFO, socket),
            unreadable, badly named, or changed while sealing; or a parameter is invalid.
        OutputExistsError: ``out_path`` exists and ``force`` is False.
        KeyServerError: The key-release step failed (KeyServerProtocolError: bad proof).
        ContainerError: Writing the output failed (nothing is left behind).
    """
    sources = collect(paths)
    total = sum(s.entry.size for s in sources)

    def fill(sink: EncryptingSink) -> list[Entry]:
        for src in sources:
            if src.entry.is_file:
                _read_file_into(sink, src)
        return [s.entry for s in sources]

    return _seal(
        out_path,
        fill,
        slot=slot,
        key_server=key_server,
        password=password,
        chunk_log2=chunk_log2,
        argon2=argon2,
        force=force,
        rng=rng or os.urandom,
        workers=workers,
        data_total=total,
        progress=progress,
    )


def seal_stream(
    stream: BinaryIO,
    name: str,
    out_path: StrPath,
    *,
    slot: SlotInfo,
    key_server: KeyServer,
    password: str,
    chunk_log2: int = p.CHUNK_LOG2_DEFAULT,
    argon2: p.Argon2Params = p.ARGON2_DEFAULT,
    force: bool = False,
    progress: Progress | None = None,
    rng: RandomSource | None = None,
    workers: int = p.WORKERS_DEFAULT,
    mode: int = 0o600,
    mtime_ns: int | None = None,
) -> SealResult:
    """Seal one byte stream (e.g. stdin) as a single file entry called ``name``.

    Memory stays constant: the size is learned at the end of the stream. ``progress``
    receives ``bytes_total == 0`` (unknown). Other arguments as in :func:`seal_paths`.

    Args:
        stream: A binary stream to read until EOF.
        name: The entry name (default for the CLI: "stdin").
        out_path: The container file to create.
        slot: See :func:`seal_paths`.
        key_server: See :func:`seal_paths`.
        password: See :func:`seal_paths`.
        chunk_log2: See :func:`seal_paths`.
        argon2: See :func:`seal_paths`.
        force: See :func:`seal_paths`.
        progress: See above.
        rng: See :func:`seal_paths`.
        workers: See :func:`seal_paths`.
        mode: Permission bits stored for the entry.
        mtime_ns: Modification time stored (now if None).

    Returns:
        The :class:`SealResult`.

    Raises:
        InputError: Bad name or parameters, or reading the stream failed.
        OutputExistsError: ``out_path`` exists and ``force`` is False.
        KeyServerError: The key-release step failed.
        ContainerError: Writing the output failed.
    """
    when = time.time_ns() if mtime_ns is None else mtime_ns
    secs, nsecs = divmod(when, 1_000_000_000)
    probe = Entry(name, p.ENTRY_FILE, mode & p.MODE_MASK, secs, nsecs, 0)
    _check_names([_Source(probe, None)])

    def fill(sink: EncryptingSink) -> list[Entry]:
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
        return [dataclasses.replace(probe, size=sink.plaintext_length)]

    return _seal(
        out_path,
        fill,
        slot=slot,
        key_server=key_server,
        password=password,
        chunk_log2=chunk_log2,
        argon2=argon2,
        force=force,
        rng=rng or os.urandom,
        workers=workers,
        data_total=0,
        progress=progress,
    )
