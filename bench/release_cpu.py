"""Where a key release's time goes under the chain-head lock, in CPU time (issue 15).

Runs the release path in process (no HTTP, no wrk): ``concurrency`` asyncio tasks per
process call ``evaluate_bearer`` exactly as the HTTP endpoint does, in 1 or 2 processes
on one database, and prints per release: the process's CPU (all threads), the time the
chain head was held (wall), the committer thread's CPU while holding it, the commit's
share, the wait for the head, and the batch size. These come from the server's own
/metrics histograms (``rwc_release_lock_*``), so a deployment reports the same figures.

CPU time, not req/s: on a shared machine wall-clock rates say more about the neighbours
than about the code. The hold time is wall time, and so grows with load; read the CPU
under the lock beside it.

    .venv/bin/python bench/release_cpu.py --db postgres --processes 2 --releases 3000

``--committer``: the processes hand their releases to one host committer process
(keyserver/_release/hostcommit.py, as ``serve --workers N`` does); its CPU is counted
with theirs, and the batch figures are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keyserver_bench as kb

_HISTOGRAMS = ("wait", "hold", "cpu", "runq", "commit", "flush")


def _child(args: argparse.Namespace) -> None:
    from voprf import ristretto  # noqa: PLC0415

    from keyserver._domain.context import RequestContext  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    spec = json.loads(sys.stdin.readline())
    settings = kb._settings(spec["url"], spec["master"])
    service = KeyService(settings)
    if args.committer_path:
        from keyserver._release.hostcommit import CommitterClient  # noqa: PLC0415

        service.releases.use_committer(CommitterClient(args.committer_path, 60))
    _, blinded = ristretto.Client.blind(b"rwc bench reader input")
    body = blinded.serialize()
    header = "Bearer " + spec["token"]
    ids = spec["ids"]
    ctx = RequestContext(remote="127.0.0.1")
    outcomes: dict[str, int] = {}
    todo = args.releases

    async def worker(start: int) -> None:
        nonlocal todo
        i = start
        while todo > 0:
            todo -= 1
            i += 1
            try:
                await service.evaluate_bearer(header, ids[i % len(ids)], body, ctx=ctx)
                key = "ok"
            except Exception as exc:
                key = type(exc).__name__
            outcomes[key] = outcomes.get(key, 0) + 1

    async def main() -> None:
        await asyncio.gather(*(worker(n * 7) for n in range(args.concurrency)))

    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(main())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    figures = _figures(service, cpu, wall, outcomes)
    service.close()
    print(json.dumps(figures))


def _figures(service: Any, cpu: float, wall: float, outcomes: dict[str, int]) -> dict[str, Any]:
    metrics = service.ledger.metrics
    figures: dict[str, Any] = {"process_cpu": cpu, "wall": wall, "outcomes": outcomes}
    for name in _HISTOGRAMS:
        figures[name] = metrics.summary(
            f"rwc_release_{name}_seconds"
            if name in {"commit", "flush"}
            else f"rwc_release_lock_{name}_seconds"
        )
    figures["jobs"] = metrics.get("rwc_release_batch_jobs_total")
    return figures


def _committer_child() -> None:
    """The host committer: serves the children on the inherited socket until told to stop."""
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from keyserver._release.hostcommit import CommitterServer  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    spec = json.loads(sys.stdin.readline())
    service = KeyService(kb._settings(spec["url"], spec["master"]))
    listener = socket.socket(fileno=int(os.environ["RELEASE_CPU_LISTENER"]))
    server = CommitterServer(listener, service.releases.commit_for_workers)
    service.releases.set_gather(server.gather)
    cpu0 = time.process_time()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.readline()  # the parent's "stop", once every child is done
    print(json.dumps(_figures(service, time.process_time() - cpu0, 0.0, {})))


def _run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    prep = kb.prepare(url, args.containers)
    spec = json.dumps(
        {
            "url": url,
            "master": prep.master_key_b64,
            "token": prep.reader_token,
            "ids": prep.container_ids,
        }
    )
    argv = [
        sys.executable,
        __file__,
        "--child",
        "--releases",
        str(args.releases),
        "--concurrency",
        str(args.concurrency),
    ]
    committer = None
    if args.committer:
        from keyserver._release import hostsocket  # noqa: PLC0415

        sockdir = tempfile.mkdtemp(prefix="release-cpu-")
        path = str(Path(sockdir) / "release.sock")
        listener = hostsocket.listen(path)
        committer = subprocess.Popen(
            [sys.executable, __file__, "--committer-child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=(listener.fileno(),),
            env={**os.environ, "RELEASE_CPU_LISTENER": str(listener.fileno())},
        )
        assert committer.stdin is not None
        committer.stdin.write(spec + "\n")
        committer.stdin.flush()
        argv += ["--committer-path", path]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(args.processes)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(spec + "\n")
        p.stdin.close()
    results = []
    for p in procs:
        assert p.stdout is not None
        results.append(json.loads(p.stdout.read()))
        p.wait()
    if committer is None:
        return _summary(results)
    assert committer.stdin is not None and committer.stdout is not None
    committer.stdin.write("stop\n")
    committer.stdin.close()
    own = json.loads(committer.stdout.read())
    committer.wait()
    listener.close()
    shutil.rmtree(sockdir, ignore_errors=True)
    # The batch figures are the committer's; the CPU is everyone's.
    for r in results:
        for name in (*_HISTOGRAMS, "jobs"):
            r[name] = own[name] if r is results[0] else ([0, 0.0] if name != "jobs" else 0)
    results.append({**own, "outcomes": {}, "wall": 0.0})
    ok = sum(r["outcomes"].get("ok", 0) for r in results)
    batches = max(own["hold"][0], 1)
    print(
        json.dumps(
            {
                "committer_cpu_ms_per_release": round(1000 * own["process_cpu"] / max(ok, 1), 3),
                "committer_cpu_ms_per_batch": round(1000 * own["process_cpu"] / batches, 3),
                "committer_jobs_per_batch": round(own["jobs"] / batches, 2),
            }
        )
    )
    for name in (*_HISTOGRAMS, "jobs"):
        results[-1][name] = [0, 0.0] if name != "jobs" else 0
    return _summary(results)


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(r["outcomes"].get("ok", 0) for r in results)
    batches = sum(r["hold"][0] for r in results)
    jobs = sum(r["jobs"] for r in results)
    per = max(jobs, 1)
    out: dict[str, Any] = {
        "released": ok,
        "refused": {k: v for r in results for k, v in r["outcomes"].items() if k != "ok"},
        "jobs_per_batch": round(jobs / max(batches, 1), 2),
        "cpu_ms_per_release": round(1000 * sum(r["process_cpu"] for r in results) / max(ok, 1), 3),
        # Wall clock: read only beside other runs of the same minute (a shared machine).
        "releases_per_s": round(ok / max(*(r["wall"] for r in results), 1e-9)),
    }
    for name in _HISTOGRAMS:
        out[f"lock_{name}_ms_per_release"] = round(1000 * sum(r[name][1] for r in results) / per, 3)
    out["loadavg"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--releases", type=int, default=2000, help="per process")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks per process")
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument(
        "--committer", action="store_true", help="one host committer for all processes"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--committer-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--committer-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.committer_child:
        _committer_child()
        return
    if args.child:
        _child(args)
        return
    database = kb.sqlite_database if args.db == "sqlite" else kb.postgres_database
    with database() as url:
        head = {"db": args.db, "processes": args.processes, "committer": args.committer}
        print(json.dumps({**head, **_run(args, url)}))


if __name__ == "__main__":
    main()
