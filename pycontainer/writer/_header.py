"""The container header as sealing builds it, and the KEK derived beside the payload.

The payload needs only the DEK, the payload nonce and its own offset (the header's length),
so the header is drafted first (its random parts drawn, its length fixed), the payload is
sealed while Argon2id turns the server's answer into the KEK on a thread of its own, and
the draft is finished (keys wrapped, header MAC) once the KEK is known.

Spec anchors: spec/format.md §header, §slot-server-oprf, §key-schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from pycontainer import argon2_memory
from pycontainer.errors import ContainerError
from pycontainer.format import keyschedule
from pycontainer.format import primitives as p
from pycontainer.format.header import Header, OprfSlot, encode_unsigned
from pycontainer.keyrelease import SlotInfo

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class Draft:
    """The header before the KEK is known: its random parts drawn, its length fixed.

    The payload needs only the DEK, the payload nonce and its own offset (the header's
    length, which the wrapped keys and the MAC do not change), so it is sealed while
    Argon2id derives the KEK; :meth:`finish` then wraps the keys and MACs the header.
    """

    placeholder: OprfSlot
    chunk_log2: int
    payload_nonce: bytes

    @property
    def length(self) -> int:
        """The length of the finished header."""
        return len(self._unsigned(self.placeholder)) + p.MAC_SIZE

    def _unsigned(self, oprf_slot: OprfSlot) -> bytes:
        return encode_unsigned(Header(self.chunk_log2, self.payload_nonce, (oprf_slot,)))

    def finish(self, kek: bytes, dek: bytes, receipt_secret: bytes) -> bytes:
        """The complete header: the keys wrapped under ``kek``, then the header MAC."""
        slot = self.placeholder
        # spec §slot-server-oprf: the wrap's AAD is the slot body before wrap_nonce, so the
        # URL, public key and Argon2 parameters cannot be swapped without breaking the unwrap.
        wrapped = keyschedule.wrap(kek, slot.wrap_nonce, dek, receipt_secret, slot.aad())
        unsigned = self._unsigned(slot._replace(wrapped=wrapped))
        header = unsigned + keyschedule.header_mac(keyschedule.header_key(dek), unsigned)
        if len(header) != self.length:  # the payload already sits at `length`: never shift it
            raise ContainerError(
                "internal error: the header changed length while sealing",
                hint="report this; nothing was written",
            )
        return header


def draft_header(
    slot: SlotInfo, *, argon2: p.Argon2Params, chunk_log2: int, rng: RandomSource
) -> Draft:
    wrap_nonce = rng(p.WRAP_NONCE_SIZE)
    payload_nonce = rng(p.PAYLOAD_NONCE_SIZE)
    placeholder = OprfSlot(
        slot.url, slot.container_id, slot.public_key, argon2, wrap_nonce, bytes(p.WRAPPED_SIZE)
    )
    return Draft(placeholder, chunk_log2, payload_nonce)


def build_header(
    slot: SlotInfo,
    *,
    argon2: p.Argon2Params,
    chunk_log2: int,
    kek: bytes,
    dek: bytes,
    receipt_secret: bytes,
    rng: RandomSource,
) -> tuple[bytes, bytes]:
    """The complete header and its payload nonce, in one step (tests/support seals raw)."""
    draft = draft_header(slot, argon2=argon2, chunk_log2=chunk_log2, rng=rng)
    return draft.finish(kek, dek, receipt_secret), draft.payload_nonce


class Stretch:
    """Argon2id of the verified VOPRF output in a thread of its own, while the payload seals.

    Argon2id (m=64 MiB, t=3, p=4 by default) is the largest fixed cost of a seal after
    start-up, and its only input is the server's answer: run it beside the payload instead
    of before it. It does no I/O and touches no shared state; the argon2 binding releases
    the GIL. :meth:`kek` and :meth:`join` always wait for it, an interrupt included, so no
    thread outlives the seal.
    """

    def __init__(self, oprf_out: bytes, container_id: bytes, argon2: p.Argon2Params) -> None:
        self._args = (oprf_out, container_id, argon2)
        self._kek: bytes | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rwc-argon2id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with argon2_memory.blocks() as memory:  # huge pages for the blocks (issue 15)
                self._kek = keyschedule.derive_kek(*self._args, memory)
        except BaseException as exc:  # noqa: BLE001 -- re-raised by kek() in the caller
            self._error = exc
        finally:
            self._done.set()

    def join(self) -> None:
        """Wait for the derivation to end (after a failure elsewhere: its result is moot).

        Ctrl-C (or rwc's SIGTERM/SIGHUP) is raised in the caller's thread, here too: it is
        re-raised once the derivation has ended, not at once. Argon2id cannot be stopped
        midway, and a caller that left would return from the seal with the thread still
        holding the server's answer and 64 MiB; worse, an interrupted Thread.join marks
        the running thread as stopped (CPython 3.11 _wait_for_tstate_lock), so the seal's
        final join returned at once. An Event, as pycontainer/_engine/pipeline.py waits
        for its helpers.
        """
        interrupted: BaseException | None = None
        while True:
            try:
                self._done.wait()
                break
            except BaseException as exc:  # noqa: BLE001 -- re-raised once the thread ended
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def kek(self) -> bytes:
        """Wait for the KEK; raise what the derivation raised (or an interrupt meanwhile)."""
        self.join()
        if self._error is not None:
            raise self._error
        assert self._kek is not None
        return self._kek
