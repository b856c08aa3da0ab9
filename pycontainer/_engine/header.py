"""A container's header read from its file, offline: nothing is authenticated yet.

What can be learned without the key server (``rwc info``), and the first step of every
open: the header is parsed strictly and every field bounded before anything else
(spec/format.md §header; pycontainer/format/header.py is the parser).

It lives below the reader package (whose ``__init__`` imports the whole reader, with
cryptography, argon2 and voprf) so that `rwc` can read a container's key-server URL before
those imports: the TLS context for it is then built beside them (pycontainer.client.tls,
pycontainer/cli/read.py ``_prepare_tls``; issue 15). pycontainer.reader offers all of it.

Spec anchors: spec/format.md §header.
"""

import os
import stat

from pycontainer import _portable
from pycontainer._record import Record
from pycontainer.errors import FormatError, InputError
from pycontainer.format import header as hdr
from pycontainer.format import primitives as p
from pycontainer.format.stream import Layout

StrPath = str | os.PathLike[str]


# Records (pycontainer/_record.py), not frozen dataclasses or NamedTuples: every `rwc cat`
# defines them, and those cost ~3.7 M and ~0.6 M instructions each against ~0.1 M (issue 15).
class SlotSummary(Record):
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


class HeaderInfo(Record):
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
        # The payload's geometry has one implementation, the reader's (spec §payload).
        return Layout(self.chunk_log2, self.payload_length).chunk_size

    @property
    def container_id(self) -> bytes | None:
        """The first slot's container id, or None without a usable slot."""
        return self.slots[0].container_id if self.slots else None


def open_fd(path: StrPath) -> int:
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


def read_header_fd(fd: int) -> tuple[bytes, hdr.Header]:
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
    fd = open_fd(path)
    try:
        raw, header = read_header_fd(fd)
        return _info(raw, header, os.fstat(fd).st_size)
    finally:
        os.close(fd)
