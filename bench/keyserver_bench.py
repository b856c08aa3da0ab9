"""Key-server benchmark: key releases per second vs Tang, and a bulk suspension.

For each database (SQLite file, PostgreSQL database created and dropped here) and each
worker count (``keyserver serve --workers N``): a fresh database is prepared through the
keyserver's Python API (init, principals, containers registered, evaluated and committed
exactly as a writer would), the real server is started on loopback with the installed
``keyserver`` command, and ``wrk`` POSTs evaluate requests (reader token, valid blinded
ristretto255 element) over 16 keep-alive connections; each scaling row also at more
connections until its rate stops rising (scaling.py: the target is judged at each
configuration's peak). The configurations of one series (1 and 2 workers; 2 instances on
one PostgreSQL) each run on their own fresh database, all up at once, and are swept in
step (scaling.sweeps): a ratio divides figures taken at the same minutes, on databases
with the same history (bench/README.md, "Session 24: scaling out in step").

Attempt budget: every evaluation without a receipt counts toward the container's budget
(the server caps a budget at 1000 and suspends at the limit). We register ``containers``
containers with budget 1000 and spread the load round-robin over them, so a run may make
up to containers x 1000 releases before anything is suspended; the bench checks that no
request was refused. No receipts are sent (that would be a second request per release).

Bulk suspension: ``bulk`` active containers of one medium are inserted straight into the
tables through the ORM models (real sealed seeds; random public keys, because 100,000
VOPRF key derivations are not what is measured; no per-container audit entries), then ONE
``POST /v1/media/{medium}/suspend`` is timed from the client side.

Length: one run per database and worker count whose rows are compared with each other (scaling,
CPU per release, bulk suspend); the wrk driver, the bare endpoint and Tang are in their own
files.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from bare_voprf import running_bare
from pg_waits import Waits, sampling
from procs import group_cpu_seconds, pids_cpu_seconds
from scaling import point, print_scaling, row_points, scaling, sweeps
from sqlalchemy import insert
from stats import table, verdict
from tang import free_port, running_tang, stop
from voprf import ristretto
from wrk import Length, Requests, WrkResult, describe, run_wrk

TARGET_SUSPEND_SECONDS = 2.0
TARGET_SUSPEND_COUNT = 100_000
BUDGET = 1000  # the server's maximum attempt budget (keyserver._service.register)
# The load sends no receipts, so every release stays unconfirmed: the per-principal and
# per-medium window caps (spec §receipt, defaults 30 and 50) would refuse all but the
# first few. The bench raises them to their maximum and shortens the window to 1 s; the
# caps are still counted on every batch. Why the window: a deployment counts at most
# cap + one batch of rows (refused attempts add none, receipts confirm the others),
# while a 24 h window here would count every release of the whole run, more with every
# row (bench/README.md, "window counts").
BENCH_CAPS = {
    "principal_attempt_cap": 1_000_000,
    "medium_attempt_cap": 1_000_000,
    "attempt_window": "1s",
}
PG_ADMIN = os.environ.get(
    "RWC_BENCH_PG_ADMIN", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
PG_URL = os.environ.get("RWC_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{db}")


def _b64(raw: bytes) -> str:
    import base64  # noqa: PLC0415

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Prepared:
    """A database ready for the load test."""

    database_url: str
    master_key_b64: str
    reader_token: str
    official_token: str
    container_ids: list[str]


# ----------------------------------------------------------------------------- databases


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh SQLite file in a temporary directory (disk, WAL), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rwc-bench-ks-") as tmp:
        yield f"sqlite:///{tmp}/keyserver.db"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """CREATE DATABASE rwc_bench_<random> on the local server; DROP it afterwards."""
    import psycopg  # noqa: PLC0415 - only when PostgreSQL figures are wanted

    name = "rwc_bench_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(db=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> str | None:
    """None if the local PostgreSQL answers, else why not."""
    try:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:  # psycopg errors, or psycopg missing
        return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]


# ----------------------------------------------------------------------------- preparation


def _settings(database_url: str, master_key_b64: str) -> Any:
    from keyserver._domain.settings import Settings  # noqa: PLC0415

    return Settings.load(
        overrides={
            "database_url": database_url,
            "master_key_b64": master_key_b64,
            "sweep_interval": 0,
            **BENCH_CAPS,
        },
        env={},
    )


def prepare(database_url: str, containers: int) -> Prepared:
    """Migrate, create principals, register+evaluate+commit ``containers`` containers."""
    from keyserver._service import KeyService  # noqa: PLC0415
    from keyserver._store import init_database  # noqa: PLC0415
    from keyserver.testing import bootstrap_principal, new_master_key_b64  # noqa: PLC0415

    master = new_master_key_b64()
    settings = _settings(database_url, master)
    init_database(settings)
    writer_token = bootstrap_principal(settings, "bench-writer", ["writer"])
    reader_token = bootstrap_principal(settings, "bench-reader", ["reader"])
    official_token = bootstrap_principal(settings, "bench-official", ["official"])
    service = KeyService(settings)
    ids = []
    try:
        writer = service.authenticate(writer_token)
        for i in range(containers):
            reg = service.register(
                writer,
                label=f"bench-{i}",
                medium="bench-load",
                readers=["bench-reader"],
                reader_groups=[],
                password_required=False,
                attempt_budget=BUDGET,
            )
            cid = reg["container_id"]
            _, blinded = ristretto.Client.blind(b"rwc bench sealing input")
            service.evaluate(writer, cid, blinded.serialize())
            service.commit(writer, cid, header_digest=os.urandom(32), receipt_key=os.urandom(32))
            ids.append(cid)
    finally:
        service.close()
    return Prepared(database_url, master, reader_token, official_token, ids)


def bulk_insert(prep: Prepared, medium: str, count: int, batch: int = 10_000) -> float:
    """Insert ``count`` active containers of ``medium`` via the ORM tables; return seconds."""
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from keyserver._domain import keys, rowmac  # noqa: PLC0415
    from keyserver._domain.media import medium_key  # noqa: PLC0415
    from keyserver._store.engine import make_engine  # noqa: PLC0415
    from keyserver._store.models import (  # noqa: PLC0415
        Container,
        ContainerReader,
        Medium,
        Principal,
    )

    settings = _settings(prep.database_url, prep.master_key_b64)
    ring = keys.KeyRing.from_master(settings.load_master_key())
    engine = make_engine(settings)
    start = time.perf_counter()
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            issuer = session.execute(
                select(Principal.id).where(Principal.name == "bench-writer")
            ).scalar_one()
            # spec §media: a medium is registered before its containers name it (what a
            # register call does), or the suspend by medium finds no such medium.
            session.add(Medium(key=medium_key(medium), name=medium, created_at=now))
            for first in range(0, count, batch):
                rows, readers = [], []
                for _ in range(first, min(first + batch, count)):
                    cid = os.urandom(16)
                    rows.append(
                        {
                            "id": cid,
                            "label": "bulk",
                            "medium": medium,
                            "issuer_id": issuer,
                            "state": "active",
                            "public_key": os.urandom(32),
                            "seed_sealed": ring.seal(
                                cid, keys.PURPOSE_SEED, os.urandom(32), os.urandom
                            ),
                            "receipt_key_sealed": ring.seal(
                                cid, keys.PURPOSE_RECEIPT, os.urandom(32), os.urandom
                            ),
                            "header_digest": os.urandom(32),
                            "password_required": False,
                            "attempt_budget": 10,
                            "unconfirmed": 0,
                            "created_at": now,
                            "activated_at": now,
                            "changed_by": "bench-writer",
                        }
                    )
                    # spec §row-integrity: rows as the server writes them, MAC included.
                    mac_input = dict.fromkeys(rowmac.FIELD_NAMES) | rows[-1]
                    rows[-1]["row_mac"] = rowmac.row_mac(rowmac.key_of(ring, mac_input), mac_input)
                    readers.append({"container_id": cid, "name": "bench-reader"})
                session.execute(insert(Container), rows)
                session.execute(insert(ContainerReader), readers)
    finally:
        engine.dispose()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- server


def _keyserver_command() -> list[str]:
    exe = Path(sys.executable).with_name("keyserver")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("keyserver")
    if found:
        return [found]
    return [sys.executable, "-m", "keyserver._cli.main"]


_LOG_KEY_DIR = tempfile.TemporaryDirectory(prefix="rwc-bench-log-")
_LOG_KEYS: dict[str, Path] = {}


@contextlib.contextmanager
def running_keyserver(
    prep: Prepared,
    workers: int,
    checkpoint_interval: float | None = 10.0,
    env_extra: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """``keyserver serve --workers N`` on a loopback port; yields (base URL, process group).

    With a ``checkpoint_interval`` (seconds; the default is the server's own default) the
    server keeps its transparency log as a deployment does: a log key in a temporary
    file, the follower hashing the new audit entries and signing a checkpoint that often.
    None: no log key, no follower (the figures from before issue 13).
    """
    from keyserver._cli.tlog import create_log_key  # noqa: PLC0415

    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "KEYSERVER_DATABASE_URL": prep.database_url,
            "KEYSERVER_MASTER_KEY": prep.master_key_b64,
            "KEYSERVER_SWEEP_INTERVAL": "0",
            **{f"KEYSERVER_{k.upper()}": str(v) for k, v in BENCH_CAPS.items()},
        }
    )
    env.pop("KEYSERVER_DATA_DIR", None)
    env.pop("KEYSERVER_LOG_KEY_FILE", None)
    env.update(env_extra or {})
    if checkpoint_interval is not None:
        # One log key per database, shared by every server on it (as instances must).
        if prep.database_url not in _LOG_KEYS:
            path = Path(_LOG_KEY_DIR.name) / f"log-{len(_LOG_KEYS)}.key"
            create_log_key(path, "bench.example/rwc")
            _LOG_KEYS[prep.database_url] = path
        env["KEYSERVER_LOG_KEY_FILE"] = str(_LOG_KEYS[prep.database_url])
        env["KEYSERVER_CHECKPOINT_INTERVAL"] = f"{checkpoint_interval:g}s"
    argv = [*_keyserver_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        # The access log is off (the `keyserver serve` default; the audit log records every
        # release); stdout is discarded anyway, stderr is kept for start-up failures.
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError("keyserver serve exited: " + " / ".join(tail))
                with contextlib.suppress(requests.RequestException):
                    if requests.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("keyserver serve did not become ready in 60 s")
                time.sleep(0.1)
            yield base, proc.pid
        finally:
            stop(proc)


def _evaluate_request_body() -> str:
    """The JSON body of an evaluate request: one valid blinded element."""
    _, blinded = ristretto.Client.blind(b"rwc bench reader input")
    return '{"blinded_element": "' + _b64(blinded.serialize()) + '"}'


def _evaluate_request(prep: Prepared) -> tuple[str, dict[str, str]]:
    body = _evaluate_request_body()
    headers = {
        "Authorization": "Bearer " + prep.reader_token,
        "Content-Type": "application/json",
    }
    return body, headers


def load_test(
    prep: Prepared,
    base: str,
    duration: Length,
    keepalive: bool = True,
    *,
    threads: int = 2,
    connections: int = 16,
) -> WrkResult:
    """Check one evaluate by hand, then run wrk round-robin over the containers."""
    body, headers = _evaluate_request(prep)
    first = requests.post(
        f"{base}/v1/containers/{prep.container_ids[0]}/evaluate",
        data=body,
        headers=headers,
        timeout=10,
    )
    if first.status_code != 200 or len(first.json().get("proof", "")) == 0:
        raise RuntimeError(f"evaluate sanity check failed: HTTP {first.status_code}")
    paths = [f"/v1/containers/{cid}/evaluate" for cid in prep.container_ids]
    return run_wrk(
        base + paths[0],
        method="POST",
        body=body,
        headers=headers,
        duration=duration,
        keepalive=keepalive,
        paths=paths,
        threads=threads,
        connections=connections,
    )


def bare_load(base: str, duration: Length, connections: int = 16) -> WrkResult:
    """wrk against the bare FastAPI + VOPRF endpoint (bare_voprf.py): evaluate's body."""
    return run_wrk(
        f"{base}/v1/containers/x/evaluate",
        method="POST",
        body=_evaluate_request_body(),
        headers={"Content-Type": "application/json"},
        duration=duration,
        connections=connections,
    )


def load_test_instances(
    prep: Prepared, bases: list[str], duration: Length, connections: int = 16
) -> WrkResult:
    """One wrk per instance at the same time (``connections`` in all); figures summed."""
    per = connections // len(bases)
    with concurrent.futures.ThreadPoolExecutor(len(bases)) as pool:
        parts = list(
            pool.map(lambda b: load_test(prep, b, duration, threads=1, connections=per), bases)
        )
    return WrkResult(
        rps=sum(p.rps for p in parts),
        p50_ms=max(p.p50_ms for p in parts),
        p99_ms=max(p.p99_ms for p in parts),
        requests=sum(p.requests for p in parts),
        errors=sum(p.errors for p in parts),
        error_kinds="; ".join(p.error_kinds for p in parts if p.error_kinds),
    )


def postgres_backends(database_url: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving the bench database (none on SQLite).

    They do the key server's SQL work, so their CPU belongs to the release; the shared
    background writers (WAL writer, checkpointer) are not counted.
    """
    if not database_url.startswith("postgresql"):
        return []
    import psycopg  # noqa: PLC0415

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchall()
    return [int(r[0]) for r in rows]


Measured = tuple[WrkResult, float, Waits | None]


def postgres_shared() -> list[int]:
    """Process ids of PostgreSQL's shared background processes (WAL writer, checkpointer,
    background writer): they work for every database of the server, ours included."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmd = f.read()
                if cmd.startswith(b"postgres: ") and any(k in cmd for k in _PG_SHARED):
                    found.append(int(entry.name))
    return found


_PG_SHARED = (b"walwriter", b"checkpointer", b"background writer")


def _children_cpu() -> float:
    """CPU seconds of the children this process has reaped (wrk runs as one).

    getrusage counts microseconds; os.times counts clock ticks (10 ms), in which a
    fixed-count smoke run of wrk (a few ms) would read as nothing.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_cpu(
    pgids: list[int],
    fn: Callable[[], WrkResult],
    database_url: str = "",
    parts: dict[str, float] | None = None,
) -> Measured:
    """Run a load test; return it, the server CPU ms per request it answered, and waits.

    Every process of the servers' groups is counted (supervisor, workers, forked tangd),
    and on PostgreSQL the backends of the bench database (pool connections live for the
    whole run; one opened during the test counts from zero), whose wait events are also
    sampled (pg_waits: CPU vs lock wait vs WAL fsync).

    ``parts``, if given, receives the CPU ms per request of every process the release
    needs on this machine (issue 15: the ceiling of the scaling rows): ``server``,
    ``backends``, ``pg_shared`` (postgres_shared), ``wrk`` (the load generator),
    their sum ``all``, and ``busy``: the CPUs all of them kept busy on average.
    """
    postgres = database_url.startswith("postgresql")
    backends = postgres_backends(database_url)
    shared = postgres_shared() if postgres else []
    server0 = sum(group_cpu_seconds(g) for g in pgids)
    backends0, shared0 = pids_cpu_seconds(backends), pids_cpu_seconds(shared)
    wrk0, wall0 = _children_cpu(), time.perf_counter()
    with contextlib.ExitStack() as stack:
        waits = (
            stack.enter_context(sampling(PG_ADMIN, database_url.rsplit("/", 1)[1]))
            if postgres
            else None
        )
        result = fn()
        wrk, wall = _children_cpu() - wrk0, time.perf_counter() - wall0
        after_backends = postgres_backends(database_url)
        server = sum(group_cpu_seconds(g) for g in pgids) - server0
        spent_backends = pids_cpu_seconds(after_backends) - backends0
        spent_shared = pids_cpu_seconds(shared) - shared0
    per = 1000 / max(result.requests, 1)
    if parts is not None:
        parts.update(
            server=server * per,
            backends=spent_backends * per,
            pg_shared=spent_shared * per,
            wrk=wrk * per,
        )
        parts["all"] = sum(parts.values())
        parts["busy"] = (server + spent_backends + spent_shared + wrk) / wall
    return result, (server + spent_backends) * per, waits


_HEAD_SERIES = {
    "jobs": "rwc_release_batch_jobs_total",
    "batches": "rwc_release_lock_hold_seconds_count",
    "wait": "rwc_release_lock_wait_seconds_sum",
    "hold": "rwc_release_lock_hold_seconds_sum",
    "cpu": "rwc_release_lock_cpu_seconds_sum",
    # Of the hold, the committer waiting for a CPU (Linux; 0 where not measured).
    "runq": "rwc_release_lock_runq_seconds_sum",
    "commit": "rwc_release_commit_seconds_sum",
    # After the head is released (early lock release, keyserver/_store/durability.py).
    "flush": "rwc_release_flush_seconds_sum",
}


def head_snapshot(bases: list[str], workers: int = 1) -> dict[str, float]:
    """The chain-head series of the servers' /metrics, summed over every worker.

    Each scrape is a new connection (``requests.get``: no session), and ``serve --workers
    N`` hands new connections to its workers in turn (keyserver/_cli/serve_handoff.py), so
    N scrapes in a row reach each worker once while no other client connects.
    """
    sums = dict.fromkeys(_HEAD_SERIES, 0.0)
    for base in bases:
        for _ in range(workers):
            text = requests.get(f"{base}/metrics", timeout=10).text
            for key, name in _HEAD_SERIES.items():
                found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
                sums[key] += float(found.group(1)) if found else 0.0
    return sums


def with_head(
    bases: list[str], fn: Callable[[], Measured], workers: int = 1
) -> tuple[Measured, dict[str, float] | None]:
    """Run ``fn``; also return the chain head's figures per release over it (issue 15).

    From the servers' own histograms (spec §operations: ``rwc_release_lock_*``), as the
    difference of two scrapes of every worker (head_snapshot).
    """
    before = head_snapshot(bases, workers)
    measured = fn()
    after = head_snapshot(bases, workers)
    delta = {k: after[k] - before[k] for k in before}
    jobs = delta["jobs"]
    if jobs <= 0:
        return measured, None
    figures = {
        k: 1000 * delta[k] / jobs for k in ("wait", "hold", "cpu", "runq", "commit", "flush")
    }
    figures["jobs_per_batch"] = jobs / max(delta["batches"], 1)
    figures["jobs"] = jobs  # against the requests answered: every worker was scraped
    return measured, figures


def time_suspend(prep: Prepared, base: str, medium: str, expected: int) -> float:
    """Time one POST /v1/media/{medium}/suspend (client side); check the affected count."""
    start = time.perf_counter()
    resp = requests.post(
        f"{base}/v1/media/{medium}/suspend",
        json={"reason": "bench: lost medium", "public_reason": "lost"},
        headers={"Authorization": "Bearer " + prep.official_token},
        timeout=300,
    )
    seconds = time.perf_counter() - start
    if resp.status_code != 200 or resp.json().get("affected") != expected:
        raise RuntimeError(f"bulk suspend failed: HTTP {resp.status_code} {resp.text[:200]}")
    return seconds


def plain_update(prep: Prepared, medium: str, expected: int) -> float:
    """Seconds of ONE plain SQL UPDATE of the medium's rows and its COMMIT: the reference.

    Issue 15: the bulk suspend's 2 s moved with the VM (1.12 s, then 2.23 s, same code),
    so it is shown against the least any suspend costs on the same database in the same
    run: every row of the medium written once, by the database alone (no read into Python,
    no MAC, no audit entry, no HTTP). Run after the suspend, on the rows it suspended,
    setting the state they already have: PostgreSQL writes a new version of each row and
    SQLite rewrites its pages whether or not a value changes, and nothing the server
    decides changes (the database is dropped after the run).
    """
    from sqlalchemy import text  # noqa: PLC0415

    from keyserver._store.engine import make_engine  # noqa: PLC0415

    engine = make_engine(_settings(prep.database_url, prep.master_key_b64))
    try:
        start = time.perf_counter()
        with engine.begin() as conn:
            done = conn.execute(
                text("UPDATE containers SET state = 'suspended' WHERE medium = :m"), {"m": medium}
            )
        seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    if done.rowcount != expected:
        raise RuntimeError(f"the reference UPDATE wrote {done.rowcount} rows, not {expected}")
    return seconds


def caught_up(
    prep: Prepared, base: str, load: Callable[..., WrkResult]
) -> Callable[..., WrkResult]:
    """``load``, then the database's transparency tree brought up to its audit log at once.

    Configurations measured in turn (sweep_in_step) follow one another by seconds, and a
    server's follower hashes the releases of its point up to ``checkpoint_interval`` (10
    s) after them: in the next configuration's point, on the CPUs it is measured on (the
    2 processes' larger points would have slowed the 1 worker's next one, a ratio made
    easier). An official's on-demand checkpoint (POST /v1/tlog/checkpoint, spec
    §transparency) does that work right after the load, inside the point's CPU window:
    every configuration pays its own follower's work, and no other's.
    """

    def run(*args: Any) -> WrkResult:
        result = load(*args)
        done = requests.post(
            f"{base}/v1/tlog/checkpoint",
            headers={"Authorization": "Bearer " + prep.official_token},
            timeout=120,
        )
        if done.status_code != 200:
            raise RuntimeError(f"the checkpoint after the load failed: HTTP {done.status_code}")
        return result

    return run


@dataclass(frozen=True)
class Swept:
    """One scaling configuration up for its sweep: its row (the point at 16 connections,
    which the sweep is added to as ``row["sweep"]``) and how to load and read it."""

    row: dict[str, Any]
    load: Callable[[int], WrkResult]  # connections -> wrk's result
    pgids: list[int]
    database_url: str = ""
    bases: tuple[str, ...] = ()  # the rwc servers whose chain head is read (bare: none)
    workers: int = 1  # per server: with_head scrapes each this many times


def sweep_point(config: Swept, connections: int) -> dict[str, Any]:
    """One point of a configuration's sweep: rate, latency, CPU parts, releases per batch."""
    parts: dict[str, float] = {}
    run = functools.partial(config.load, connections)
    measure = functools.partial(with_cpu, config.pgids, run, config.database_url, parts)
    (result, _, _), head = (
        with_head(list(config.bases), measure, config.workers)
        if config.bases
        else (measure(), None)
    )
    jobs = (head or {}).get("jobs_per_batch")
    return point(connections, result.rps, result.p50_ms, result.p99_ms, parts, jobs)


def sweep_in_step(configs: list[Swept]) -> None:
    """The configurations of one series at more connections, until each one's peak is
    behind it (issue 15), in step: at each count one after the other (scaling.sweeps).

    Each configuration's sweep starts after its row's own point at 16 connections and
    ends by scaling.next_connections; a configuration whose sweep ended drops out while
    the others go on.
    """
    points = sweeps(configs, 1, None, sweep_point, start=[row_points(c.row) for c in configs])
    for i, config in enumerate(configs):
        config.row["sweep"] = [
            {k: v for k, v in p.items() if k != "target"} for p in points if p["target"] == i
        ]


# ----------------------------------------------------------------------------- driver


def run(
    *,
    quick: bool,
    duration: Length,
    postgres: bool,
    bulk: int = 100_000,
    containers: int | None = None,
) -> dict[str, Any]:
    """Run the key-server benchmark, print the tables and return the figures."""
    # Budgets: every figure's releases come from these containers' 1000 each. Each scaling
    # configuration has its own database (scale18), whose releases are its row at 16
    # connections and its sweep (scaling.next_connections: typically to 256 with one
    # process, 512 with two: up to 8 points), and the 2-worker one's host-committer row
    # too: at ~1,300-2,600 releases/s in the quiet runs so far, up to ~4,000 on the
    # fastest VM yet, 10 s each, at most ~360,000 on one database, hence 500 x 1000 (700
    # when every row shared one database). A quick run's points are 3 s: 50.
    n_containers = containers or (50 if quick else 500)
    workers_list = (1,) if quick else (1, 2)

    results: dict[str, Any] = {
        "duration_s": None if isinstance(duration, Requests) else duration,
        "requests": duration.count if isinstance(duration, Requests) else None,
        "connections": 16,
        "rows": [],
    }
    print(
        f"\n== Key-server benchmark: wrk 2 threads, 16 connections, {describe(duration)} per "
        "figure, "
        f"loopback, load generator and server share {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} ==",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    suspends: list[list[str]] = []

    def add(
        name: str,
        measured: Measured,
        *,
        keepalive: bool,
        tang_paired: float | None = None,
        scale: tuple[str, int] = ("", 1),
        head: dict[str, float] | None = None,
        parts: dict[str, float] | None = None,
    ) -> None:
        r, cpu_ms, waits = measured
        rows.append(
            {
                "name": name,
                "keepalive": keepalive,
                "rps": r.rps,
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "errors": r.errors,
                "error_kinds": r.error_kinds,
                "requests": r.requests,
                "cpu_ms_per_release": cpu_ms,
                "pg_waits": None
                if waits is None
                else {
                    "shares": waits.shares(),
                    "commits": waits.commits,
                    "releases_per_commit": r.requests / waits.commits if waits.commits else None,
                },
                "tang_paired_rps": tang_paired,
                "chain_head": head,
                "cpu_parts": parts or None,
                # (series, processes): rows of one series are compared with its 1-process row
                "series": scale[0],
                "processes": scale[1],
            }
        )

    print("  Tang ...", flush=True)
    with running_tang() as tang:

        def tang_rate(keepalive: bool = True) -> Measured:
            return with_cpu(
                [tang.pgid],
                lambda: run_wrk(
                    tang.url,
                    method="POST",
                    body=tang.body,
                    headers=tang.headers,
                    duration=duration,
                    keepalive=keepalive,
                ),
            )

        def paired_tang() -> float | None:
            """Tang's rate right before a row (its ratio's reference), in full runs only:
            a --quick row is compared with the first Tang row (one wrk run less per row)."""
            return None if quick else tang_rate()[0].rps

        for keepalive in (True, False):
            add("Tang (tangd via socat)", tang_rate(keepalive), keepalive=keepalive)
        # The second reference: what one VOPRF behind bare FastAPI costs here.
        # Both up at once and swept in step, like the rwc series below.
        with contextlib.ExitStack() as bare_up:
            swept = []
            for workers in workers_list:
                print(f"  bare FastAPI + 1 VOPRF, {workers} worker(s) ...", flush=True)
                base, pgid = bare_up.enter_context(running_bare(free_port(), workers))
                paired = paired_tang()
                parts: dict[str, float] = {}
                add(
                    f"bare FastAPI + 1 VOPRF, {workers} worker(s)",
                    with_cpu([pgid], functools.partial(bare_load, base, duration), parts=parts),
                    keepalive=True,
                    tang_paired=paired,
                    scale=("bare", workers),
                    parts=parts,
                )
                load = functools.partial(
                    lambda conns, base: bare_load(base, duration, conns), base=base
                )
                swept.append(Swept(rows[-1], load, [pgid]))
            sweep_in_step(swept)
        backends: list[tuple[str, Any]] = [("SQLite", sqlite_database)]
        if postgres:
            why = postgres_available()
            if why is None:
                backends.append(("PostgreSQL", postgres_database))
            else:
                print(f"  PostgreSQL SKIPPED: {why}")

        def bulk_insert_said(db_name: str, prep: Prepared) -> float:
            print(f"  {db_name}: inserting {bulk:,} containers of one medium ...", flush=True)
            return bulk_insert(prep, "bench-bulk", bulk)

        def suspended(db_name: str, insert_s: float, sec: float, prep: Prepared) -> None:
            """Record one bulk suspend: ``sec`` seconds for ``bulk`` containers, and the
            plain UPDATE of the same rows right after it (plain_update)."""
            ok = sec < TARGET_SUSPEND_SECONDS if bulk >= TARGET_SUSPEND_COUNT else None
            plain = plain_update(prep, "bench-bulk", bulk)
            suspends.append(
                [
                    db_name,
                    f"{bulk:,}",
                    f"{insert_s:.1f}",
                    f"{sec:.2f}",
                    verdict(ok),
                    f"{plain:.2f}",
                    f"{sec / plain:.1f}x" if plain > 0 else "n/a",
                ]
            )
            results.setdefault("suspend", []).append(
                {
                    "db": db_name,
                    "containers": bulk,
                    "insert_s": insert_s,
                    "suspend_s": sec,
                    "plain_update_s": plain,
                    "goal_s": TARGET_SUSPEND_SECONDS,
                    "verdict": verdict(ok),  # n/a below the target's count (--quick)
                }
            )

        for db_name, make_db in backends:
            # The series' scaling configurations: (workers per server, servers). Two
            # instances (separate `keyserver serve`, one worker each) on one database:
            # the deployment the city scales out with.
            configs = [(workers, 1) for workers in workers_list]
            if db_name == "PostgreSQL" and not quick:
                configs.append((1, 2))
            with contextlib.ExitStack() as up:
                # Each configuration on its own fresh database, all up at once, and their
                # sweeps in step (bench/README.md, "Session 24"): a row measured last,
                # minutes after the one it is divided by, on the database the others had
                # filled, carried the VM's drift and the others' history.
                started = []
                for workers, servers in configs:
                    url = up.enter_context(make_db())
                    what = "2 instances" if servers > 1 else f"--workers {workers}"
                    print(
                        f"  {db_name} ({what}): preparing {n_containers} containers ...",
                        flush=True,
                    )
                    prep = prepare(url, n_containers)
                    ran = [
                        up.enter_context(running_keyserver(prep, workers)) for _ in range(servers)
                    ]
                    started.append(
                        (workers, servers, prep, [b for b, _ in ran], [g for _, g in ran])
                    )
                swept = []
                for workers, servers, prep, bases, pgids in started:
                    if servers > 1:
                        name = f"rwc {db_name}, 2 instances x 1 worker"
                        series = f"rwc {db_name} instances"
                        load = functools.partial(
                            lambda conns, prep, bases: load_test_instances(
                                prep, bases, duration, conns
                            ),
                            prep=prep,
                            bases=bases,
                        )
                    else:
                        name = f"rwc {db_name}, {workers} worker(s)"
                        series = f"rwc {db_name} workers"
                        load = functools.partial(
                            lambda conns, prep, base: load_test(
                                prep, base, duration, connections=conns
                            ),
                            prep=prep,
                            base=bases[0],
                        )
                    load = caught_up(prep, bases[0], load)
                    print(f"  {name} ...", flush=True)
                    # Tang again right before each keep-alive row: this VM's speed drifts
                    # by tens of percent within minutes, so the ratio is taken against
                    # the Tang figure measured next to it.
                    paired = paired_tang()
                    parts = {}
                    measured, head = with_head(
                        bases,
                        functools.partial(
                            with_cpu, pgids, functools.partial(load, 16), prep.database_url, parts
                        ),
                        workers,
                    )
                    add(
                        name,
                        measured,
                        keepalive=True,
                        tang_paired=paired,
                        scale=(series, workers * servers),
                        head=head,
                        parts=parts,
                    )
                    swept.append(
                        Swept(rows[-1], load, pgids, prep.database_url, tuple(bases), workers)
                    )
                print(f"  {db_name}: the scaling configurations' sweeps, in step ...", flush=True)
                sweep_in_step(swept)
                _, _, prep1, bases1, pgids1 = started[0]
                if quick:
                    # --quick: the bulk suspend on the 1-worker server, not on one started
                    # for it (a start-up less); the suspend is one statement either way,
                    # and the figure is noise at a quick run's sizes anyway.
                    insert_s = bulk_insert_said(db_name, prep1)
                    sec = time_suspend(prep1, bases1[0], "bench-bulk", bulk)
                    suspended(db_name, insert_s, sec, prep1)
                    continue
                add(
                    f"rwc {db_name}, 1 worker(s)",
                    with_cpu(
                        pgids1,
                        functools.partial(load_test, prep1, bases1[0], duration, keepalive=False),
                        prep1.database_url,
                    ),
                    keepalive=False,
                )
                # The same 2 workers with one host committer (keyserver/_release/
                # hostcommit.py; the host_committer setting, off by default until this
                # row shows it faster than the plain 2-worker row), on their database.
                print(f"  {db_name}: 2 workers + host committer ...", flush=True)
                prep2 = started[1][2]
                committer = {"KEYSERVER_HOST_COMMITTER": "true"}
                with running_keyserver(prep2, 2, env_extra=committer) as (base, pgid):
                    paired = paired_tang()
                    parts = {}
                    add(
                        f"rwc {db_name}, 2 workers + host committer",
                        with_cpu(
                            [pgid],
                            functools.partial(load_test, prep2, base, duration),
                            prep2.database_url,
                            parts,
                        ),
                        keepalive=True,
                        tang_paired=paired,
                        scale=(f"rwc {db_name} committer", 2),
                        parts=parts,
                    )
                insert_s = bulk_insert_said(db_name, prep1)
                with running_keyserver(prep1, 1) as (base, _pgid):
                    sec = time_suspend(prep1, base, "bench-bulk", bulk)
                # The server stopped: the reference UPDATE runs alone.
                suspended(db_name, insert_s, sec, prep1)
    results["rows"] = rows
    results["scaling"] = scaling(rows)
    _print(rows, results["scaling"], suspends)
    return results


def _print(
    rows: list[dict[str, Any]], scaled: list[dict[str, Any]], suspends: list[list[str]]
) -> None:
    tang_ka = next((r["rps"] for r in rows if r["name"].startswith("Tang") and r["keepalive"]), 0)
    out = []
    for r in rows:
        # Rows are compared with the Tang run measured right before them.
        reference = r.get("tang_paired_rps") or tang_ka
        ratio = r["rps"] / reference if reference else None
        out.append(
            [
                r["name"],
                "yes" if r["keepalive"] else "no",
                f"{r['rps']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                r["errors"],
                f"{r['cpu_ms_per_release']:.2f}",
                f"{r['tang_paired_rps']:,.0f}" if r.get("tang_paired_rps") else "",
                f"{ratio:.2f}x" if ratio else "n/a",
            ]
        )
    print("\n-- Key releases per second, and server CPU per release (all server processes)")
    print(
        table(
            [
                "server",
                "keep-alive",
                "req/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "CPU ms/release",
                "Tang k-a next to it",
                "vs Tang k-a",
            ],
            out,
        )
    )
    for r in rows:
        if r["errors"]:
            print(f"  errors of {r['name']} (keep-alive {r['keepalive']}): {r['error_kinds']}")
    waits = [r for r in rows if r.get("pg_waits")]
    if waits:
        kinds = ("cpu", "client", "lock", "wal", "io")
        print(
            "\n-- Where PostgreSQL backend time goes (pg_stat_activity samples while a "
            "transaction is open; cpu = executing, client = waiting for the key server "
            "between statements, lock = row/transaction locks, wal = WAL write/fsync)"
        )
        print(
            table(
                ["server", "keep-alive", "releases per commit", *kinds],
                [
                    [
                        r["name"],
                        "yes" if r["keepalive"] else "no",
                        f"{w['releases_per_commit']:.1f}" if w["releases_per_commit"] else "n/a",
                        *(f"{w['shares'].get(k, 0) * 100:.0f}%" for k in kinds),
                    ]
                    for r in waits
                    for w in [r["pg_waits"]]
                ],
            )
        )
    heads = [r for r in rows if r.get("chain_head")]
    if heads:
        print(
            "\n-- The chain head per release (the servers' rwc_release_lock_* metrics; "
            "wall ms except CPU = the committer thread's CPU while it holds the head; "
            "CPU wait = of the hold, the committer ready to run but waiting for a CPU; "
            "flush = waiting for durability after the head is released)"
        )
        print(
            table(
                [
                    "server",
                    "releases per batch",
                    "wait",
                    "held",
                    "CPU held",
                    "CPU wait",
                    "COMMIT",
                    "flush",
                ],
                [
                    [
                        r["name"],
                        f"{h['jobs_per_batch']:.1f}",
                        *(
                            f"{h.get(k, 0.0):.3f}"
                            for k in ("wait", "hold", "cpu", "runq", "commit", "flush")
                        ),
                    ]
                    for r in heads
                    for h in [r["chain_head"]]
                ],
            )
        )
    _print_ceiling(rows)
    print_scaling(scaled)
    print(
        "\n-- Suspend every container of one medium in ONE call (target < 2 s); beside it ONE"
        " plain SQL UPDATE of the same rows on the same database, right after (the database"
        " alone: no read, MAC, audit entry or HTTP): the ratio compares runs on different VMs"
    )
    print(
        table(
            [
                "database",
                "containers",
                "bulk insert s",
                "suspend call s",
                "target",
                "plain UPDATE s",
                "suspend / UPDATE",
            ],
            suspends,
        )
    )


def _print_ceiling(rows: list[dict[str, Any]]) -> None:
    """CPU per release of every process a release needs here, and the rate it allows.

    Issue 15: server, PostgreSQL and wrk share this machine's CPUs, so once they keep
    them all busy no second worker can add releases; what a release costs in all of
    them then bounds the rate: CPUs x 1000 / (CPU ms per release). Measured with wrk's
    own CPU (a child of this process) and the shared PostgreSQL processes (which also
    serve other databases: quiet machine only).
    """
    shown = [r for r in rows if r.get("cpu_parts")]
    if not shown:
        return
    cpus = os.cpu_count() or 1
    print(
        f"\n-- CPU ms per release of every process (server, its PostgreSQL backends, "
        f"PostgreSQL's shared WAL writer/checkpointer, wrk), CPUs they kept busy, and the "
        f"rate that CPU per release allows on {cpus} CPUs"
    )
    print(
        table(
            ["server", "server", "backends", "PG shared", "wrk", "all", "CPUs busy", "ceiling"],
            [
                [
                    r["name"],
                    *(f"{p[k]:.3f}" for k in ("server", "backends", "pg_shared", "wrk", "all")),
                    f"{p['busy']:.2f}",
                    f"{cpus * 1000 / p['all']:,.0f}" if p["all"] else "n/a",
                ]
                for r in shown
                for p in [r["cpu_parts"]]
            ],
        )
    )
