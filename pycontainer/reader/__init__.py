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

import contextlib
import os
from collections.abc import Callable

from pycontainer._engine.direct import open_direct
from pycontainer._engine.header import (
    HeaderInfo,
    SlotSummary,
    StrPath,
    open_fd,
    read_header,
    read_header_fd,
)
from pycontainer.errors import FormatError, InputError, ReaderLimitError
from pycontainer.format import header as hdr
from pycontainer.format import keyschedule
from pycontainer.format import primitives as p
from pycontainer.format.stream import Layout
from pycontainer.keyrelease import KeyServer, SlotInfo, release_kek
from pycontainer.reader._container import Container, ReaderLimits
from pycontainer.reader._entry import EntryReader

__all__ = [
    "Container",
    "EntryReader",
    "HeaderInfo",
    "ReaderLimits",
    "ReceiptSender",
    "SlotSummary",
    "open_container",
    "read_header",
]

# How much of the payload to ask the disk for while the key is released (see _prefetch).
PREFETCH_BYTES = 64 << 20

# send(container_id, challenge, receipt_mac): delivers the receipt; must not raise.
ReceiptSender = Callable[[bytes, bytes, bytes], None]


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
        KeyServerCallError: The key-release step failed (KeyServerProtocolError: bad proof).
        WrongPasswordError: The password is wrong.
        HeaderAuthError: The header was modified.
    """
    lim = limits or ReaderLimits()
    if workers < 1:
        raise InputError("workers must be at least 1", hint="use the default")
    fd = open_fd(path)
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
    raw, header = read_header_fd(fd)
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
    # Cold and big: the payload is read around the page cache (_engine/direct.py), and
    # only the tail (read first, through the cache, for the index) is worth prefetching.
    direct = open_direct(fd, len(raw) + layout.ciphertext_length)
    try:
        _prefetch(fd, len(raw), layout, payload_start=direct is None)
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
            direct=direct,
        )
        container._load_index(lim)
    except BaseException:
        # open_container closes fd; the twin is ours to close until the container is
        # returned (then Container.close closes both).
        if direct is not None:
            direct.close()
        raise
    return container


def _prefetch(fd: int, header_length: int, layout: Layout, *, payload_start: bool) -> None:
    """Ask the kernel to start reading what the open reads first, while the key is released.

    The key release (a server round trip, then Argon2id: ~0.1-0.2 s) needs no payload, and
    the disk is idle meanwhile. POSIX_FADV_WILLNEED reads in the background: the final
    chunk and what precedes it (the trailer and the index, read first, spec §reading step
    4) and the start of the payload (where extraction and most ``rwc cat`` begin), at most
    :data:`PREFETCH_BYTES` of it. Nothing is read into Python, nothing is trusted early.
    Advice only: on a memory file system or without fadvise it changes nothing.

    Not the payload's start when it is read directly (``payload_start`` False): the pages
    prefetched into the cache would only be read a second time, from the disk.
    """
    last = layout.chunk_count - 1
    tail_start, _ = layout.span(max(0, last - 1))
    ranges = [(tail_start, layout.ciphertext_length - tail_start)]
    if payload_start:
        ranges.append((0, PREFETCH_BYTES))
    for start, length in ranges:
        with contextlib.suppress(AttributeError, OSError):
            os.posix_fadvise(fd, header_length + start, length, os.POSIX_FADV_WILLNEED)
