"""The open asks the disk for the payload's start and tail before the key release.

(pycontainer/reader/__init__.py ``_prefetch``: the disk reads while the server answers and
Argon2id runs.) The advice is real; the test only records its order against the key
server's call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import PREFETCH_BYTES, read_header
from tests.support.container import Kit


def test_payload_start_and_tail_requested_before_the_key_release(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(5 * Kit.C + 7))
    out = tmp_path / "c.rwc"
    kit.seal([src], out)
    events: list[Any] = []
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_WILLNEED:
            events.append(("willneed", offset, length))
        real(fd, offset, length, advice)

    class Watched:
        def evaluate(self, slot: SlotInfo, blinded: bytes) -> Evaluation:
            events.append("evaluate")
            return kit.ks.evaluate(slot, blinded)

    monkeypatch.setattr(os, "posix_fadvise", advise)
    with kit.open(out, key_server=Watched()) as c:
        assert [e.path for e in c.entries()] == ["data.bin"]
    header = read_header(out).header_length
    size = out.stat().st_size
    assert events[-1] == "evaluate"
    asked = events[:-1]
    assert ("willneed", header, PREFETCH_BYTES) in asked  # the start of the payload
    # The final chunk and the one before it (trailer and index, read first).
    sealed = Kit.C + 16
    count = -(-(size - header) // sealed)
    tail = header + (count - 2) * sealed
    assert count > 2 and ("willneed", tail, size - tail) in asked
