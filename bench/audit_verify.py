"""Audit-log verification at scale: a log of a busy year (1,000,000 entries), verified three ways.

- **local**: ``keyserver audit verify`` on the database (the whole chain);
- **incremental**: ``keyserver audit verify --from-head`` after 1,000 more entries, from the
  head the local run ended at (what a nightly job with ``--state FILE`` does);
- **remote**: ``keyserver audit verify --server`` through a running ``keyserver serve``,
  in pages (keyserver/_cli/audit.py), with the client's and the server's peak RSS.

The log is built quickly by direct inserts of entries with a valid keyed chain (the same
formula as the server's, keyserver/_store/audit.py), not by a million HTTP requests. Each
verification runs as its own process, measured by GNU time (wall seconds, peak RSS).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyserver_bench as ksb
from procs import run_measured
from stats import table

INCREMENT = 1_000
_BATCH = 10_000


def _settings(database_url: str, master_key_b64: str) -> Any:
    return ksb._settings(database_url, master_key_b64)


def build_log(settings: Any, entries: int) -> float:
    """Append ``entries`` release entries after the current head, with a valid chain.

    Returns the seconds it took.
    """
    from sqlalchemy import insert, select, update  # noqa: PLC0415

    from keyserver._domain import keys  # noqa: PLC0415
    from keyserver._store.audit import HEAD_ID, Head, NewEntry, append_row  # noqa: PLC0415
    from keyserver._store.engine import make_engine  # noqa: PLC0415
    from keyserver._store.models import AuditEntry, AuditHead  # noqa: PLC0415

    started = time.perf_counter()
    key = keys.KeyRing.from_master(settings.load_master_key()).audit_key
    head_table = AuditHead.__table__
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            seq, digest = conn.execute(
                select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == HEAD_ID)
            ).one()
            # The release path's own append (the server's chain formula), a batch at a time.
            head = Head(int(seq), bytes(digest))
            at = datetime.now(UTC)
            new = NewEntry(
                actor="clerk-0042@city.example",
                action="evaluate",
                outcome="ok",
                container="AAAAAAAAAAAAAAAAAAAAAA",
                remote="192.0.2.7",
                details={"mode": "read", "unconfirmed": 1},
            )
            for _ in range(entries):
                at += timedelta(milliseconds=3)
                append_row(key, head, at, new)
                if len(head.pending) == _BATCH:
                    conn.execute(insert(AuditEntry.__table__), head.pending)
                    head.pending.clear()
            if head.pending:
                conn.execute(insert(AuditEntry.__table__), head.pending)
            conn.execute(
                update(head_table)
                .where(head_table.c.id == HEAD_ID)
                .values(seq=head.seq, hash=head.hash)
            )
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _env(database_url: str, master_key_b64: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSERVER_")}
    env.update(KEYSERVER_DATABASE_URL=database_url, KEYSERVER_MASTER_KEY=master_key_b64, **extra)
    return env


def _verify(argv: list[str], env: dict[str, str]) -> tuple[dict[str, Any], Any]:
    import json  # noqa: PLC0415

    proc = run_measured([*ksb._keyserver_command(), "audit", "verify", "--json", *argv], env=env)
    doc = json.loads(proc.stdout)
    if not doc.get("ok"):
        raise RuntimeError(f"verification failed: {doc.get('problem')}")
    return doc, proc


def _peak_rss_kib(pid: int) -> int:
    """VmHWM of a live process (its own peak RSS so far), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str]:
    with ksb.sqlite_database() if backend == "sqlite" else ksb.postgres_database() as url:
        yield url


def run_backend(backend: str, entries: int) -> dict[str, Any]:
    """Build a log of ``entries`` on ``backend`` and verify it locally, incrementally, remotely."""
    from keyserver._domain.lifecycle import ROLES, Actor  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415
    from keyserver._store import init_database  # noqa: PLC0415
    from keyserver.testing import new_master_key_b64  # noqa: PLC0415

    out: dict[str, Any] = {"backend": backend}
    with _database(backend) as url:
        master = new_master_key_b64()
        settings = _settings(url, master)
        init_database(settings)
        service = KeyService(settings)
        try:
            actor = Actor(name="bench", roles=ROLES, local=True)
            token = service.add_principal(actor, "auditor", ["auditor"], "City", [])["token"]
        finally:
            service.close()
        out["build_s"] = build_log(settings, entries)
        env = _env(url, master)

        doc, proc = _verify([], env)
        out["entries"] = doc["entries"]
        out["local_s"], out["local_rss_mib"] = proc.seconds, proc.max_rss_kib / 1024
        head = f"{doc['head_seq']}:{doc['head_hash']}"

        build_log(settings, INCREMENT)
        doc, proc = _verify(["--from-head", head], env)
        out["incremental_entries"] = doc["entries"]
        out["incremental_s"] = proc.seconds

        prep = ksb.Prepared(url, master, "", "", [])
        with ksb.running_keyserver(prep, 1, checkpoint_interval=None) as (base, pid):
            doc, proc = _verify(["--server", base], _env(url, master, KEYSERVER_TOKEN=token))
            out["remote_entries"] = doc["entries"]
            out["remote_s"], out["remote_client_rss_mib"] = proc.seconds, proc.max_rss_kib / 1024
            out["remote_server_rss_mib"] = _peak_rss_kib(pid) / 1024
    return out


def run(entries: int, *, postgres: bool = True) -> dict[str, Any]:
    """Every backend available; prints one table."""
    backends = ["sqlite"]
    if postgres:
        why = ksb.postgres_available()
        if why is None:
            backends.append("postgresql")
        else:
            print(f"audit verify bench: PostgreSQL figures skipped ({why})", file=sys.stderr)
    rows = [run_backend(b, entries) for b in backends]
    print(f"\naudit verify: {entries:,} entries (+{INCREMENT:,} for the incremental run)")
    print(
        table(
            [
                "backend",
                "build s",
                "local s",
                "local RSS MiB",
                "incremental s",
                "remote s",
                "client RSS MiB",
                "server RSS MiB",
            ],
            [
                [
                    r["backend"],
                    f"{r['build_s']:.1f}",
                    f"{r['local_s']:.1f}",
                    f"{r['local_rss_mib']:.0f}",
                    f"{r['incremental_s']:.2f}",
                    f"{r['remote_s']:.1f}",
                    f"{r['remote_client_rss_mib']:.0f}",
                    f"{r['remote_server_rss_mib']:.0f}",
                ]
                for r in rows
            ],
        )
    )
    return {"entries": entries, "increment": INCREMENT, "rows": rows}
