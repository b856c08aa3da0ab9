"""The container-library tests' kit: a key server, a slot, fast parameters, raw sealing.

``Kit`` bundles a real in-process VOPRF key server, a registered slot, small Argon2
parameters, and helpers, including :meth:`Kit.seal_raw`, which seals an arbitrary (possibly
hostile) index with real keys, bypassing the writer's input checks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pycontainer._engine.pipeline import EncryptingSink
from pycontainer.format import archive, keyschedule
from pycontainer.format import primitives as p
from pycontainer.keyrelease import InProcessKeyServer, SlotInfo, release_kek
from pycontainer.reader import Container, open_container
from pycontainer.writer import SealResult, seal_paths, seal_stream
from pycontainer.writer._header import build_header

FAST = p.Argon2Params(m=8192, t=1, p=1)
SMALL_CHUNK = 12
PASSWORD = "correct horse battery staple"


class Kit:
    """Test helpers around one in-process key server and one registered container slot."""

    FAST = FAST
    CHUNK_LOG2 = SMALL_CHUNK
    C = 1 << SMALL_CHUNK
    PASSWORD = PASSWORD

    def __init__(self) -> None:
        self.ks = InProcessKeyServer()
        self.slot: SlotInfo = self.ks.register()

    def seal(self, paths: list[Any], out: Path, **kw: Any) -> SealResult:
        self._defaults(kw)
        return seal_paths(paths, out, **kw)

    def seal_stream(self, stream: Any, name: str, out: Path, **kw: Any) -> SealResult:
        self._defaults(kw)
        return seal_stream(stream, name, out, **kw)

    def _defaults(self, kw: dict[str, Any]) -> None:
        kw.setdefault("slot", self.slot)
        kw.setdefault("key_server", self.ks)
        kw.setdefault("password", PASSWORD)
        kw.setdefault("chunk_log2", SMALL_CHUNK)
        kw.setdefault("argon2", FAST)

    def open(self, path: Path, **kw: Any) -> Container:
        kw.setdefault("key_server", self.ks)
        kw.setdefault("password", PASSWORD)
        return open_container(path, **kw)

    def seal_raw(
        self,
        out: Path,
        data: bytes,
        index: bytes,
        *,
        chunk_log2: int = SMALL_CHUNK,
        argon2: p.Argon2Params = FAST,
        index_length: int | None = None,
    ) -> None:
        """Write a container with real keys whose payload is data || index || trailer."""
        kek, _ = release_kek(self.slot, self.ks, PASSWORD, argon2)
        dek, receipt_secret = os.urandom(32), os.urandom(32)
        header, payload_nonce = build_header(
            self.slot,
            argon2=argon2,
            chunk_log2=chunk_log2,
            kek=kek,
            dek=dek,
            receipt_secret=receipt_secret,
            rng=os.urandom,
        )
        buf = bytearray(header)

        def write_at(view: memoryview, offset: int) -> None:
            at = len(header) + offset
            buf[at : at + len(view)] = view

        sink = EncryptingSink(
            keyschedule.payload_key(dek, payload_nonce), chunk_log2, write_at, workers=1
        )
        sink.write(data)
        sink.write(index)
        trailer = len(index) if index_length is None else index_length
        sink.write(archive.encode_trailer(trailer))
        sink.close()
        out.write_bytes(bytes(buf))

    @staticmethod
    def file_entry(path: str, size: int, mode: int = 0o644) -> archive.Entry:
        return archive.Entry(path, p.ENTRY_FILE, mode, 1_700_000_000, 5, size)

    @staticmethod
    def dir_entry(path: str, mode: int = 0o755) -> archive.Entry:
        return archive.Entry(path, p.ENTRY_DIR, mode, 1_700_000_000, 5, 0)

    @staticmethod
    def leftovers(directory: Path) -> list[str]:
        """Names of rwc temp files/dirs left in a directory."""
        return sorted(n for n in os.listdir(directory) if n.endswith(".rwc-tmp"))
