"""AES-256-GCM ceilings: ``openssl speed`` (one core) and ``cryptography``'s AESGCM alone.

The AESGCM sweep over chunk sizes is what picks the container's default
chunk size: the smallest chunk whose 2-thread throughput is within
``tolerance`` of the best (smaller chunks = less memory per worker and
cheaper random access; bigger ones amortise the per-call overhead).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from stats import MIB
from tools import require

CHUNK_LOG2_SWEEP = (12, 14, 16, 18, 20, 22, 24)  # 4 KiB .. 16 MiB


@dataclass(frozen=True)
class OpenSSLSpeed:
    """openssl speed -evp aes-256-gcm figures, bytes/second per block size."""

    by_block: dict[int, float]

    @property
    def ceiling(self) -> float:
        """The one-core ceiling: best of the 16 KiB and bigger blocks."""
        big = [v for size, v in self.by_block.items() if size >= 16384]
        return max(big) if big else max(self.by_block.values())


def openssl_speed(
    seconds: int, big_blocks: tuple[int, ...] = (1 << 20,), *, all_blocks: bool = True
) -> OpenSSLSpeed:
    """Run ``openssl speed -evp aes-256-gcm`` (single process = one core) and parse -mr output.

    Args:
        seconds: Seconds per block size.
        big_blocks: Extra block sizes measured with ``-bytes`` (bigger than openssl's 16 KiB).
        all_blocks: Also run openssl's default block sizes (16 B .. 16 KiB); if False only
            16 KiB and ``big_blocks`` are measured (quick mode).
    """
    openssl = require("openssl", "openssl")
    by_block: dict[int, float] = {}
    runs: list[list[str]] = [[]] if all_blocks else [["-bytes", "16384"]]
    runs += [["-bytes", str(b)] for b in big_blocks]
    for extra in runs:
        argv = [openssl, "speed", "-mr", "-seconds", str(seconds), *extra, "-evp", "aes-256-gcm"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        sizes: list[int] = []
        for line in out.splitlines():
            # -mr format: "+H:16:64:..." header, "+F:<n>:AES-256-GCM:<bytes/s>:..." figures.
            if line.startswith("+H:"):
                sizes = [int(x) for x in line[3:].split(":") if x]
            elif line.startswith("+F:") and sizes:
                values = [float(x) for x in line.split(":")[3:] if x]
                by_block.update(zip(sizes, values, strict=False))
    if not by_block:
        raise RuntimeError("could not parse `openssl speed -mr` output")
    return OpenSSLSpeed(by_block=dict(sorted(by_block.items())))


def _encrypt_loop(key: AESGCM, chunk: bytes, count: int) -> None:
    nonce = bytearray(12)
    for i in range(count):
        # STREAM-style counter nonces, as the container does; values are irrelevant here.
        nonce[:8] = i.to_bytes(8, "big")
        key.encrypt(bytes(nonce), chunk, None)


def aesgcm_throughput(chunk_size: int, total_bytes: int, threads: int) -> float:
    """Bytes/second of one pass of AESGCM.encrypt over ``total_bytes`` split across threads."""
    key = AESGCM(AESGCM.generate_key(256))
    chunk = os.urandom(chunk_size)
    per_thread = max(1, total_bytes // chunk_size // threads)
    workers = [
        threading.Thread(target=_encrypt_loop, args=(key, chunk, per_thread))
        for _ in range(threads)
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    return per_thread * threads * chunk_size / elapsed


@dataclass(frozen=True)
class ChunkSweep:
    """AESGCM throughput (bytes/s) per chunk_log2, on 1 and 2 threads."""

    one_thread: dict[int, float]
    two_threads: dict[int, float]

    def recommend(self, tolerance: float = 0.05) -> int:
        """Smallest chunk_log2 within ``tolerance`` of the best on 1 AND on 2 threads."""
        best1 = max(self.one_thread.values())
        best2 = max(self.two_threads.values())
        for log2 in sorted(self.two_threads):
            if (
                self.one_thread[log2] >= (1 - tolerance) * best1
                and self.two_threads[log2] >= (1 - tolerance) * best2
            ):
                return log2
        return max(self.two_threads, key=lambda k: self.two_threads[k])


def chunk_sweep(total_bytes: int, runs: int) -> ChunkSweep:
    """Measure AESGCM alone at 4 KiB .. 16 MiB chunks on 1 and 2 threads.

    Sizes are interleaved within each run and the best run is kept: on a shared machine
    interference only ever slows a micro-benchmark down, so the maximum is the least noisy
    estimate of what the primitive can do.
    """
    one: dict[int, float] = {}
    two: dict[int, float] = {}
    for _ in range(runs):
        for log2 in CHUNK_LOG2_SWEEP:
            size = 1 << log2
            total = max(total_bytes, 4 * size)
            one[log2] = max(one.get(log2, 0.0), aesgcm_throughput(size, total, 1))
            two[log2] = max(two.get(log2, 0.0), aesgcm_throughput(size, total, 2))
    return ChunkSweep(one_thread=one, two_threads=two)


def mib_s(bytes_per_second: float) -> str:
    """Format a rate in MiB/s."""
    return f"{bytes_per_second / MIB:,.0f}"
