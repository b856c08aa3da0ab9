"""The console overview's audit-chain check at scale: server CPU per page load (issue 12).

Before issue 12's change every ``GET /console/overview`` verified the whole chain, the work
``GET /console/audit/verify`` still does; now the overview verifies only the entries after
the remembered head, at most 200,000 per load. On a log of ``--entries`` entries (built
as bench/audit_verify.py builds it) a real ``keyserver serve`` answers, in this order:
the first overview (nothing remembered yet), the same page again, the page after 1,000
more entries, the full verification, and the overview after it. Each figure is the CPU
seconds (user + system, from /proc) of the server's process group plus, on PostgreSQL, of
the database backends serving it: figures the machine's load does not move, unlike wall
time.

Usage: ``.venv/bin/python bench/console_overview.py [--entries 200000] [--sqlite-only]``
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import keyserver_bench as ksb
import requests
from audit_verify import INCREMENT, _database, build_log
from procs import group_cpu_seconds, pids_cpu_seconds
from stats import table

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_STATUS = re.compile(r'<p class="(?:ok|alert)" role="(?:status|alert)">([^<]*)</p>')


def _signed_in(base: str, token: str) -> requests.Session:
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    form = browser.get(base + "/console/sign-in", timeout=60)
    found = _CSRF.search(form.text)
    if found is None:
        raise RuntimeError("no sign-in form")
    browser.post(
        base + "/console/sign-in",
        data={"csrf": found.group(1), "token": token, "next": "/console/overview"},
        timeout=60,
        allow_redirects=False,  # the overview is measured, not loaded by the sign-in
    )
    return browser


def _load(browser: requests.Session, base: str, path: str, pgid: int, url: str) -> list[Any]:
    """One page load: [path, server CPU s, the page's chain status line]."""

    def cpu() -> float:
        return group_cpu_seconds(pgid) + pids_cpu_seconds(ksb.postgres_backends(url))

    before = cpu()
    page = browser.get(base + path, timeout=3600)
    spent = cpu() - before
    if page.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {page.status_code}")
    status = _STATUS.findall(page.text)
    return [path, spent, status[-1] if status else ""]


def run_backend(backend: str, entries: int) -> list[list[Any]]:
    """The five loads on ``backend``: rows of [step, path, CPU s, status line]."""
    from keyserver._domain.lifecycle import ROLES, Actor  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415
    from keyserver._store import init_database  # noqa: PLC0415
    from keyserver.testing import new_master_key_b64  # noqa: PLC0415

    with _database(backend) as url:
        master = new_master_key_b64()
        settings = ksb._settings(url, master)
        init_database(settings)
        service = KeyService(settings)
        try:
            actor = Actor(name="bench", roles=ROLES, local=True)
            token = service.add_principal(actor, "tanaka", ["official"])["token"]
        finally:
            service.close()
        build_log(settings, entries)
        prep = ksb.Prepared(url, master, "", "", [])
        rows = []
        with ksb.running_keyserver(prep, 1, checkpoint_interval=None) as (base, pgid):
            browser = _signed_in(base, token)
            steps = [
                ("first overview", "/console/overview"),
                ("overview again", "/console/overview"),
                (f"overview, +{INCREMENT:,} entries", "/console/overview"),
                ("full verification (= every load before)", "/console/audit/verify"),
                ("overview after it", "/console/overview"),
            ]
            for step, path in steps:
                if step.startswith("overview, +"):
                    build_log(settings, INCREMENT)
                rows.append([backend, step, *_load(browser, base, path, pgid, url)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--sqlite-only", action="store_true")
    args = ap.parse_args()
    backends = ["sqlite"]
    if not args.sqlite_only and ksb.postgres_available() is None:
        backends.append("postgresql")
    rows = [row for b in backends for row in run_backend(b, args.entries)]
    print(f"\nconsole overview: {args.entries:,} entries; server CPU s per page load")
    print(
        table(
            ["backend", "step", "page", "CPU s", "the page says"],
            [[b, step, path, f"{cpu:.2f}", said] for b, step, path, cpu, said in rows],
        )
    )


if __name__ == "__main__":
    main()
