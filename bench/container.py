"""Container benchmark: rwc seal/open vs age, against the AES-GCM ceilings.

Figures (medians of ``runs`` runs, same machine, same run):
- seal and open throughput of one random file (MiB/s), rwc with workers=1 and the default
  threaded path, age (X25519 recipient; encrypt to a file, decrypt to /dev/null);
- peak RSS of each of those processes (``os.wait4`` rusage of that child);
- ``openssl speed -evp aes-256-gcm`` (one core) and ``cryptography`` AESGCM alone at chunk
  sizes 4 KiB .. 16 MiB on 1 and 2 threads -> the recommended default chunk size;
- Argon2id time with the default parameters (the throughput runs use m=8 MiB, t=1, p=1 so
  the KDF does not pollute the figures).

Length: one measurement: its verdicts compare the container figures with the AES-GCM and
Argon2id ceilings of the same run, so they stay in one file (shared timing helpers live in
core.py and procs.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aead
import core
from argon2.low_level import Type, hash_secret_raw
from procs import ProcResult, run_measured
from stats import GIB, MIB, human_size, median, table, verdict
from tools import require

from pycontainer.format.primitives import CHUNK_LOG2_DEFAULT

HERE = Path(__file__).resolve().parent
CHILD = HERE / "rwc_child.py"
BENCH_ARGON2 = (8192, 1, 1)  # KiB, t, p: small so KDF time stays out of throughput
DEFAULT_ARGON2 = (65536, 3, 4)  # spec default (RFC 9106 second recommendation)
SEED = "42" * 32
CID = "17" * 16
TARGET_AGE_RATIO = 1.5
TARGET_SINGLE_VS_OPENSSL = 0.70
TARGET_RSS_BEYOND_ARGON2_MIB = 100
TMPFS = Path("/dev/shm")


@dataclass(frozen=True)
class Options:
    """What to run; see run.py for the command-line flags."""

    size: int
    runs: int
    quick: bool
    big_size: int = 10 * GIB  # run_big's size (bench/run.py runs it last, with --big)
    workdir: Path | None = None
    chunk_log2: int | None = None
    sweep_bytes: int = 512 * MIB
    openssl_seconds: int = 3
    e2e_chunk_sweep: bool = True


def _pick_workdir(opts: Options, need: int) -> tuple[Path, str]:
    """Prefer tmpfs (measures the code, not the disk); fall back to disk if it is too small."""
    if opts.workdir is not None:
        return opts.workdir, "given"
    if TMPFS.is_dir() and shutil.disk_usage(TMPFS).free > need + GIB:
        return TMPFS, "tmpfs (/dev/shm)"
    return Path(tempfile.gettempdir()), f"disk ({tempfile.gettempdir()})"


def _random_file(path: Path, size: int) -> None:
    block = 8 * MIB
    with path.open("wb") as f:
        left = size
        while left:
            n = min(block, left)
            f.write(os.urandom(n))
            left -= n


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _rwc(
    op: str,
    src: Path,
    dst: Path | None,
    workers: int | None,
    chunk_log2: int | None,
    argon2: tuple[int, int, int] = BENCH_ARGON2,
    mode: str = "verify",
) -> tuple[float, ProcResult]:
    argv = [
        sys.executable,
        str(CHILD),
        op,
        "--input",
        str(src),
        "--seed",
        SEED,
        "--cid",
        CID,
        "--argon2",
        ",".join(map(str, argon2)),
    ]
    if dst is not None:
        argv += ["--output", str(dst)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if chunk_log2 is not None:
        argv += ["--chunk-log2", str(chunk_log2)]
    if op == "open":
        argv += ["--mode", mode]
    proc = run_measured(argv, env=_child_env())
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]), proc


class _Series:
    """Collects seconds and peak RSS of one configuration over the runs."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.rss_kib: list[int] = []

    def add(self, seconds: float, proc: ProcResult) -> None:
        self.seconds.append(seconds)
        self.rss_kib.append(proc.max_rss_kib)

    def rate(self, size: int) -> float:
        return size / median(self.seconds)

    def rss_mib(self) -> float:
        return max(self.rss_kib) / 1024


def _age_setup(work: Path) -> tuple[str, Path, str]:
    age = require("age", "age")
    keygen = require("age-keygen", "age")
    key = work / "age-key.txt"
    key.unlink(missing_ok=True)
    run_measured([keygen, "-o", str(key)])
    recipient = next(
        line.split(":", 1)[1].strip()
        for line in key.read_text().splitlines()
        if line.startswith("# public key:")
    )
    return age, key, recipient


def measure_files(
    size: int,
    runs: int,
    work: Path,
    chunk_log2: int | None,
    with_age: bool = True,
    extras: bool = True,
) -> dict[str, dict[str, float]]:
    """Seal/open ``size`` random bytes ``runs`` times with age and rwc; return figures."""
    src = work / "input.bin"
    age_out = work / "input.age"
    rwc_out = work / "input.rwc"
    print(f"  generating {human_size(size)} of random bytes in {work} ...", flush=True)
    _random_file(src, size)
    series: dict[str, _Series] = {}

    def s(name: str) -> _Series:
        return series.setdefault(name, _Series())

    try:
        if with_age:
            age, key, recipient = _age_setup(work)
        for run in range(runs):
            print(f"  run {run + 1}/{runs}", flush=True)
            if with_age:
                p = run_measured([age, "-r", recipient, "-o", str(age_out), str(src)])
                s("age seal").add(p.seconds, p)
                p = run_measured([age, "-d", "-i", str(key), "-o", "/dev/null", str(age_out)])
                s("age open").add(p.seconds, p)
                age_out.unlink()  # keep the tmpfs/disk footprint at two copies
            for label, workers in (("rwc workers=1", 1), ("rwc default", None)):
                rwc_out.unlink(missing_ok=True)
                sec, p = _rwc("seal", src, rwc_out, workers, chunk_log2)
                s(f"{label} seal").add(sec, p)
                sec, p = _rwc("open", rwc_out, None, workers, chunk_log2)
                s(f"{label} open").add(sec, p)
            if extras:
                dest = work / "extracted"
                sec, p = _rwc("open", rwc_out, dest, None, chunk_log2, mode="extract")
                s("rwc default open+extract").add(sec, p)
                shutil.rmtree(dest, ignore_errors=True)
                sec, p = _rwc("open", rwc_out, None, None, chunk_log2, mode="read")
                s("rwc open_entry read").add(sec, p)
    finally:
        for f in (src, age_out, rwc_out):
            f.unlink(missing_ok=True)
    return {
        name: {
            "mib_s": ser.rate(size) / MIB,
            "seconds": median(ser.seconds),
            "peak_rss_mib": ser.rss_mib(),
        }
        for name, ser in series.items()
    }


def baseline_rss_mib() -> float:
    """Peak RSS of a Python child that only imports the library (interpreter floor)."""
    p = run_measured(
        [sys.executable, "-c", "import pycontainer.writer, pycontainer.reader"], env=_child_env()
    )
    return p.max_rss_kib / 1024


def kdf_seconds(params: tuple[int, int, int], runs: int) -> float:
    """Median time of one Argon2id derivation (argon2-cffi, as the key schedule uses it)."""
    m, t, p = params
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        hash_secret_raw(
            b"\x00" * 64,
            b"\x01" * 16,
            time_cost=t,
            memory_cost=m,
            parallelism=p,
            hash_len=32,
            type=Type.ID,
            version=0x13,
        )
        times.append(time.perf_counter() - start)
    return median(times)


def e2e_chunk_sweep(
    size: int, work: Path, logs: tuple[int, ...], runs: int
) -> dict[int, dict[str, float]]:
    """rwc default path seal/open at several chunk sizes, best of ``runs`` (interleaved)."""
    src = work / "sweep.bin"
    out = work / "sweep.rwc"
    _random_file(src, size)
    result: dict[int, dict[str, float]] = {}
    try:
        for _ in range(runs):
            for log2 in logs:
                out.unlink(missing_ok=True)
                seal_s, seal_p = _rwc("seal", src, out, None, log2)
                open_s, open_p = _rwc("open", out, None, None, log2)
                old = result.get(log2, {"seal_mib_s": 0.0, "open_mib_s": 0.0, "peak_rss_mib": 0})
                result[log2] = {
                    "seal_mib_s": max(old["seal_mib_s"], size / seal_s / MIB),
                    "open_mib_s": max(old["open_mib_s"], size / open_s / MIB),
                    "peak_rss_mib": max(
                        old["peak_rss_mib"], seal_p.max_rss_kib / 1024, open_p.max_rss_kib / 1024
                    ),
                }
    finally:
        src.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    return result


def recommend_e2e(e2e: dict[int, dict[str, float]], tolerance: float = 0.10) -> int:
    """Smallest chunk_log2 whose seal + open rate is within ``tolerance`` of the best.

    Smaller chunks mean less memory in flight and cheaper random access, so a bigger chunk
    must win by more than the run-to-run noise of a shared 2-core machine (~10%).
    """
    score = {k: v["seal_mib_s"] + v["open_mib_s"] for k, v in e2e.items()}
    best = max(score.values())
    return min(k for k, v in score.items() if v >= (1 - tolerance) * best)


def run(opts: Options) -> dict[str, Any]:
    """Run the container benchmark, print the tables, and return the figures."""
    results: dict[str, Any] = {"size": opts.size, "runs": opts.runs}
    work_root, where = _pick_workdir(opts, 3 * opts.size)
    results["storage"] = where
    print(
        f"\n== Container benchmark: {human_size(opts.size)} random file on {where}, "
        f"median of {opts.runs} run(s), {os.cpu_count()} CPUs ==",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="rwc-bench-", dir=work_root) as tmp:
        files = measure_files(opts.size, opts.runs, Path(tmp), opts.chunk_log2)
    results["files"] = files

    print("  openssl speed -evp aes-256-gcm (one core) ...", flush=True)
    speed = aead.openssl_speed(
        opts.openssl_seconds, () if opts.quick else (1 << 20,), all_blocks=not opts.quick
    )
    results["openssl_bytes_s"] = speed.by_block
    ceiling = speed.ceiling / MIB
    results["openssl_ceiling_mib_s"] = ceiling

    print("  rwc STREAM core (no I/O) ...", flush=True)
    core_log2 = opts.chunk_log2 or CHUNK_LOG2_DEFAULT
    results["chunk_log2"] = core_log2
    results["stream_core_mib_s"] = {
        str(w): (
            r / MIB if (r := core.stream_seal_rate(opts.sweep_bytes, w, core_log2, 3)) else None
        )
        for w in (1, 2)
    }

    print("  AESGCM alone, chunk sweep on 1 and 2 threads ...", flush=True)
    sweep = aead.chunk_sweep(opts.sweep_bytes, 1 if opts.quick else 3)
    recommended = sweep.recommend()
    results["aesgcm_sweep_mib_s"] = {
        "1": {k: v / MIB for k, v in sweep.one_thread.items()},
        "2": {k: v / MIB for k, v in sweep.two_threads.items()},
    }
    results["recommended_chunk_log2"] = recommended

    e2e: dict[int, dict[str, float]] = {}
    if opts.e2e_chunk_sweep:
        print("  rwc end-to-end at several chunk sizes ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="rwc-bench-", dir=work_root) as tmp:
            logs = tuple(sorted({16, 18, 20, 22, recommended}))
            e2e = e2e_chunk_sweep(min(opts.size, 256 * MIB), Path(tmp), logs, opts.runs)
        results["e2e_chunk_sweep"] = e2e
        results["recommended_chunk_log2_e2e"] = recommend_e2e(e2e)

    print("  Argon2id timings ...", flush=True)
    kdf_default = kdf_seconds(DEFAULT_ARGON2, 1 if opts.quick else 3)
    kdf_bench = kdf_seconds(BENCH_ARGON2, 3)
    results["kdf_seconds"] = {"default": kdf_default, "bench": kdf_bench}
    base = baseline_rss_mib()
    results["python_baseline_rss_mib"] = base

    _print(results, files, speed, sweep, e2e, opts)
    return results


def big_room(size: int) -> tuple[Path, str]:
    """Where run_big writes, and why it cannot ("" if it can): free space checked first."""
    base = Path(os.environ.get("RWC_BENCH_BIG_DIR", "/var/tmp"))
    need = 2 * size + 2 * GIB  # input + one output at a time, plus slack
    free = shutil.disk_usage(base).free if base.is_dir() else 0
    if free < need:
        return base, (
            f"needs {need / GIB:.1f} GiB free in {base}, has {free / GIB:.1f} GiB"
            " (set RWC_BENCH_BIG_DIR)"
        )
    return base, ""


def run_big(opts: Options) -> dict[str, Any]:
    """Peak RSS (and throughput) at ``big_size`` on disk, one run; its table and target.

    A part of its own (bench/run.py, --big), run after every other part: its ~30 GiB of
    writes would otherwise still be written back while they are measured.
    """
    base, why = big_room(opts.big_size)
    print(
        f"\n== Container at {human_size(opts.big_size)} on disk in {base}: peak RSS "
        f"through the library API; load average {os.getloadavg()[0]:.2f} ==",
        flush=True,
    )
    if why:
        print(f"  SKIPPED: {why}")
        return {"skipped": why, "targets": []}
    with tempfile.TemporaryDirectory(prefix="rwc-bench-big-", dir=base) as tmp:
        big = measure_files(opts.big_size, 1, Path(tmp), opts.chunk_log2, extras=False)
    print(f"\n-- {human_size(opts.big_size)} on disk, 1 run")
    rows = [[n, f"{f['mib_s']:,.0f}", f"{f['peak_rss_mib']:.0f}"] for n, f in big.items()]
    print(table(["tool / path", "MiB/s", "peak RSS MiB"], rows))
    argon2_mib = BENCH_ARGON2[0] / 1024
    brss = max((f["peak_rss_mib"] for n, f in big.items() if n.startswith("rwc")), default=0)
    target = {
        "target": f"peak RSS beyond Argon2, {human_size(opts.big_size)}",
        "goal": f"< ~{TARGET_RSS_BEYOND_ARGON2_MIB} MiB",
        "measured": f"{brss - argon2_mib:.0f} MiB",
        "verdict": verdict(brss - argon2_mib < TARGET_RSS_BEYOND_ARGON2_MIB),
    }
    print("\n-- Target")
    print(table(["target", "goal", "measured", "verdict"], [list(target.values())]))
    return {"big": big, "targets": [target]}


def _print(
    results: dict[str, Any],
    files: dict[str, dict[str, float]],
    speed: aead.OpenSSLSpeed,
    sweep: aead.ChunkSweep,
    e2e: dict[int, dict[str, float]],
    opts: Options,
) -> None:
    ceiling = speed.ceiling / MIB
    argon2_mib = BENCH_ARGON2[0] / 1024
    base = results["python_baseline_rss_mib"]
    print(
        f"\n-- Seal/open of {human_size(opts.size)} ({results['storage']}); "
        f"rwc via the library API in-process with an InProcessKeyServer, "
        f"Argon2 m={BENCH_ARGON2[0]} KiB t={BENCH_ARGON2[1]} p={BENCH_ARGON2[2]}"
    )
    rows = [
        [name, f"{f['mib_s']:,.0f}", f"{f['seconds']:.2f}", f"{f['peak_rss_mib']:.0f}"]
        for name, f in files.items()
    ]
    print(table(["tool / path", "MiB/s", "seconds", "peak RSS MiB"], rows))
    print(f"  Python interpreter + library import alone: {base:.0f} MiB RSS")

    def rate(name: str) -> float | None:
        return files[name]["mib_s"] if name in files else None

    targets = []
    for op in ("seal", "open"):
        r, a = rate(f"rwc default {op}"), rate(f"age {op}")
        ratio = r / a if r and a else None
        targets.append(
            [
                f"{op}: rwc default / age",
                ">= 1.5x",
                f"{ratio:.2f}x" if ratio else "n/a",
                verdict(ratio >= TARGET_AGE_RATIO if ratio else None),
            ]
        )
    for op in ("seal", "open"):
        r1 = rate(f"rwc workers=1 {op}")
        frac = r1 / ceiling if r1 else None
        targets.append(
            [
                f"{op}: rwc workers=1 / openssl 1-core",
                ">= 70%",
                f"{frac:.0%}" if frac else "n/a",
                verdict(frac >= TARGET_SINGLE_VS_OPENSSL if frac else None),
            ]
        )
    core1 = results["stream_core_mib_s"].get("1")
    frac = core1 / ceiling if core1 else None
    targets.append(
        [
            "STREAM core workers=1 (no I/O) / openssl 1-core",
            ">= 70%",
            f"{frac:.0%}" if frac else "n/a",
            verdict(frac >= TARGET_SINGLE_VS_OPENSSL if frac else None),
        ]
    )
    rss = max((f["peak_rss_mib"] for n, f in files.items() if n.startswith("rwc")), default=0)
    beyond = rss - argon2_mib
    targets.append(
        [
            "peak RSS beyond Argon2 memory",
            f"< ~{TARGET_RSS_BEYOND_ARGON2_MIB} MiB",
            f"{beyond:.0f} MiB (incl. {base:.0f} MiB interpreter)",
            verdict(beyond < TARGET_RSS_BEYOND_ARGON2_MIB),
        ]
    )
    print("\n-- Targets")
    print(table(["target", "goal", "measured", "verdict"], targets))
    results["targets"] = [
        dict(zip(["target", "goal", "measured", "verdict"], t, strict=False)) for t in targets
    ]

    core = results["stream_core_mib_s"]
    print(
        f"\n-- rwc STREAM core, no I/O (chunk_log2={results['chunk_log2']}): "
        + ", ".join(f"workers={w}: {v:,.0f} MiB/s" for w, v in core.items() if v)
    )
    print(
        f"\n-- openssl speed -evp aes-256-gcm (one core): ceiling {ceiling:,.0f} MiB/s "
        "(best of the >= 16 KiB blocks)"
    )
    print(
        table(
            ["block bytes", "MiB/s"],
            [[k, f"{v / MIB:,.0f}"] for k, v in speed.by_block.items() if k >= 1024],
        )
    )

    print("\n-- cryptography AESGCM.encrypt alone (no I/O), MiB/s")
    rows = [
        [
            human_size(1 << k),
            str(k),
            aead.mib_s(sweep.one_thread[k]),
            aead.mib_s(sweep.two_threads[k]),
        ]
        for k in sorted(sweep.one_thread)
    ]
    print(table(["chunk", "chunk_log2", "1 thread", "2 threads"], rows))
    if e2e:
        print(
            f"\n-- rwc default path end-to-end by chunk size (best of {opts.runs}, "
            f"{human_size(min(opts.size, 256 * MIB))})"
        )
        rows = [
            [
                human_size(1 << k),
                str(k),
                f"{v['seal_mib_s']:,.0f}",
                f"{v['open_mib_s']:,.0f}",
                f"{v['peak_rss_mib']:.0f}",
            ]
            for k, v in sorted(e2e.items())
        ]
        print(table(["chunk", "chunk_log2", "seal MiB/s", "open MiB/s", "peak RSS MiB"], rows))
    rec = results["recommended_chunk_log2"]
    print(
        f"\nAESGCM alone: chunk_log2 = {rec} ({human_size(1 << rec)}) is the smallest chunk "
        "within 5% of the best on 1 and on 2 threads."
    )
    if "recommended_chunk_log2_e2e" in results:
        rec = results["recommended_chunk_log2_e2e"]
        why = "smallest chunk whose end-to-end seal + open rate is within 10% of the best"
    else:
        why = "from the AESGCM sweep alone (no end-to-end sweep in this run)"
    results["recommendation"] = rec
    print(f"RECOMMENDATION: default chunk_log2 = {rec} ({human_size(1 << rec)} chunks): {why}.")

    kdf = results["kdf_seconds"]
    print(
        f"\n-- Argon2id (one derivation per seal/open): default m=65536 KiB t=3 p=4: "
        f"{kdf['default'] * 1000:,.0f} ms; bench m={BENCH_ARGON2[0]} t={BENCH_ARGON2[1]} "
        f"p={BENCH_ARGON2[2]}: {kdf['bench'] * 1000:,.1f} ms (included in the rwc timings)"
    )
