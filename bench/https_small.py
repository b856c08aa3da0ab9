"""Small ``rwc cat`` over https, as a city deployment runs it (issue 15).

The commands bench's small rows talk plain http to a loopback key server. A city's key
server is https, and there an ``rwc cat`` also loads a trust store into OpenSSL before its
first request: a city's own CA (``--ca-bundle``, one certificate), or by default certifi's
store (~120 CAs). Here ``keyserver serve --tls-cert`` on loopback, with a certificate from
a test CA (tests/support/tls.py), and a 3-byte CSV sealed against it; ``rwc cat`` runs

* with ``--ca-bundle`` naming the test CA (RWC_CA_BUNDLE): a city's own PKI;
* with a bundle of certifi's store plus the test CA: the default store's cost (the
  server's certificate is not in certifi's store, so the store is measured at its size).

For each: the process's median wall and CPU (fork to exit, like every other row), and,
from bench/rwc_stages.py runs of the same command, when the imports ended and how long
the first request waited for its TLS context (its build, or the join of the thread that
built it beside the imports: pycontainer/client/tls.py). And the TLS set-up alone: the
CPU of ``ssl.create_default_context`` with each bundle, in a process of its own.
"""

from __future__ import annotations

import json
import resource
import tempfile
from pathlib import Path
from typing import Any

from commands import READER, SMALL_CSV, _python, clean_env, running_server
from procs import run_measured
from stats import median

from tests.support.tls import make_tls_files

_STAGES = Path(__file__).with_name("rwc_stages.py")
_CONTEXT_CPU = (
    "import ssl, sys, time; t = time.process_time(); "
    "ssl.create_default_context(cafile=sys.argv[1]); print(time.process_time() - t)"
)


def _bundles(work: Path, ca: Path) -> dict[str, Path]:
    """The two trust stores: the city's CA alone, and certifi's store with it."""
    import certifi  # noqa: PLC0415 - the store rwc trusts by default

    big = work / "certifi-and-city-ca.pem"
    big.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.read_bytes())
    return {"--ca-bundle (city CA, 1 certificate)": ca, "certifi's store + city CA": big}


def _row(
    rwc: str,
    python: str,
    argv: list[str],
    env: dict[str, str],
    bundle: Path,
    runs: int,
    context_runs: int,
) -> dict[str, Any]:
    walls, cpus, rss, stages = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="rwc-bench-stages-") as tmp:
        out = Path(tmp) / "stages.json"
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = run_measured([rwc, *argv], env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.stdout.encode() != SMALL_CSV:
                raise RuntimeError("rwc cat over https printed something else than the bytes")
            walls.append(proc.seconds)
            rss.append(proc.max_rss_kib)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            staged = run_measured([python, "-P", str(_STAGES), str(out), *argv], env=env)
            if staged.stdout.encode() != SMALL_CSV:
                raise RuntimeError("rwc cat (stages) printed something else than the bytes")
            stages.append(json.loads(out.read_text()))
    context = [
        float(run_measured([python, "-c", _CONTEXT_CPU, str(bundle)], env=env).stdout)
        for _ in range(context_runs)
    ]
    return {
        "seconds": median(walls),
        "cpu_s": median(cpus),
        "seconds_each": walls,
        "peak_rss_mib": max(rss) / 1024,
        "imports_s": median([s["imports"] for s in stages]),
        "tls_wait_s": median([s["tls"] for s in stages]),
        "main_cpu_tls_ready_s": median([s["main_cpu_tls_ready"] for s in stages]),
        "in_process_s": median([s["total"] for s in stages]),
        "context_cpu_s": median(context),
    }


def run_rows(
    rwc: str, work: Path, password_file: Path, runs: int, startup_runs: int = 5
) -> dict[str, Any]:
    """Serve https on loopback, seal a small container, and time ``rwc cat`` per store.

    Args:
        rwc: The ``rwc`` command as the bench runs it (commands.installed_rwc).
        work: A new directory for the server's data, the certificates and the container.
        password_file: The container's password, in a file.
        runs: Runs per row.
        startup_runs: The TLS set-up alone takes ``runs`` runs, at least this many.
    """
    tls = make_tls_files(_mkdir(work / "tls"))
    python = _python(rwc)
    out: dict[str, Any] = {}
    with running_server(work, (tls.server_cert, tls.server_key, tls.ca_cert)) as served:
        base = {"HOME": str(_mkdir(work / "home")), "RWC_SERVER": served.url}
        src = work / "small.csv"
        src.write_bytes(SMALL_CSV)
        container = work / "small.rwc"
        seal = [rwc, "seal", "-q", str(src), "-o", str(container), "--force", "--label", "b"]
        seal += ["--medium", "BENCH-TLS", "--reader", READER]
        seal += ["--password-file", str(password_file)]
        writer = clean_env(**base, RWC_TOKEN=served.writer_token, RWC_CA_BUNDLE=str(tls.ca_cert))
        proc = run_measured(seal, env=writer)
        if not container.is_file():
            raise RuntimeError(f"rwc seal over https failed: {proc.stderr[-500:]}")
        argv = ["cat", str(container), src.name, "--password-file", str(password_file)]
        for name, bundle in _bundles(work, tls.ca_cert).items():
            env = clean_env(**base, RWC_TOKEN=served.reader_token, RWC_CA_BUNDLE=str(bundle))
            out[name] = _row(rwc, python, argv, env, bundle, runs, max(startup_runs, runs))
    return out


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
