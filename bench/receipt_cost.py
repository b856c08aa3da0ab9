"""What a receipt costs the key server beside the key release it confirms (issue 15).

One key server in this process (uvicorn on loopback, SQLite on disk at the shipped
``sqlite_synchronous=FULL``), one container with an unlimited budget; ``--rounds`` times
an evaluate then its receipt, over HTTP as a reader sends them. Prints per request kind:
the process's CPU seconds (client + server; the client's share is the same small httpx
request for both kinds) and, under ``strace -f -e trace=fdatasync,fsync,access``, how
many syncs each kind made (the script marks each request with an ``access`` of a path
that does not exist, so the syncs between two marks belong to the request between them).

    PYTHONPATH=. strace -f -qq -e trace=fdatasync,fsync,access -o /tmp/rc.strace \\
        .venv/bin/python bench/receipt_cost.py --rounds 200
    .venv/bin/python bench/receipt_cost.py --count /tmp/rc.strace

``--profile FILE``: then ``--rounds`` more receipts through ``KeyService.receipt`` in this
thread (what the route calls, without HTTP), their CPU and a cProfile of them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from keyserver import Settings, init_database
from keyserver._service import KeyService
from keyserver.testing import running_server
from pycontainer.format.keyschedule import receipt_mac
from tests.support.world import World, activate, confirm, make_world, oprf, unb64

_MARK = "/nonexistent-rwc-bench-mark-"


def _mark(kind: str) -> None:
    os.access(_MARK + kind, os.F_OK)  # seen by strace, costs nothing else


def _profile_service(
    settings: Settings, w: World, cid: str, pk: str, key: bytes, rounds: int, out: Path
) -> None:
    """cProfile of the service's receipt alone (what the route calls), in this thread."""
    service = KeyService(settings)
    actor = service.authenticate(w.tokens["reader"])
    prof = cProfile.Profile()
    for profiled in (False, True):
        spent = 0.0
        for _ in range(rounds):
            challenge = unb64(oprf(w, "reader", cid, pk)["challenge"])
            mac = receipt_mac(key, unb64(cid), challenge)
            t = time.process_time()
            if profiled:
                prof.enable()
            service.receipt(actor, cid, challenge=challenge, mac=mac)
            if profiled:
                prof.disable()
            spent += time.process_time() - t
        said = " (cProfile on)" if profiled else ""
        print(f"KeyService.receipt alone: {1000 * spent / rounds:.2f} ms CPU{said}")
    prof.dump_stats(out)
    service.close()


def run(rounds: int, profile: Path | None) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'keyserver.db'}", master_key_b64="A" * 43
        )
        init_database(settings)
        with running_server(settings) as url:
            w = make_world(settings, url)
            reg, key = activate(w, attempt_budget=None)
            cid, pk = reg["container_id"], reg["public_key"]
            cpu = {"evaluate": 0.0, "receipt": 0.0}
            for _ in range(rounds):
                _mark("evaluate")
                t = time.process_time()
                released = oprf(w, "reader", cid, pk)
                cpu["evaluate"] += time.process_time() - t
                _mark("receipt")
                t = time.process_time()
                confirm(w, "reader", cid, key, released)
                cpu["receipt"] += time.process_time() - t
            _mark("end")
            if profile is not None:
                _profile_service(settings, w, cid, pk, key, rounds, profile)
            w.close()
    print(os.getloadavg(), "load average (1, 5, 15 min)")  # the load the figures met
    for kind, s in cpu.items():
        print(f"{kind}: {1000 * s / rounds:.2f} ms CPU per request (process, {rounds} rounds)")


def count(path: Path) -> None:
    syncs: Counter[str] = Counter()
    marks: Counter[str] = Counter()
    kind = "setup"
    for line in path.read_text().splitlines():
        if (m := re.search(re.escape(_MARK) + r"(\w+)", line)) is not None:
            kind = m.group(1)
            marks[kind] += 1
        elif re.search(r"\b(fdatasync|fsync)\(", line):
            syncs[kind] += 1
    for k in ("evaluate", "receipt"):
        print(f"{k}: {syncs[k] / max(marks[k], 1):.2f} syncs per request ({marks[k]} requests)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--count", type=Path)
    p.add_argument("--profile", type=Path)
    args = p.parse_args()
    if args.count:
        count(args.count)
    else:
        run(args.rounds, args.profile)


if __name__ == "__main__":
    main()
