"""The sample nginx configuration (deploy/nginx-rwc.conf) in front of two instances, one killed.

The sample is used as shipped, with only its addresses, ports and certificate paths
replaced (each replacement must apply exactly once, so a reshaped sample fails here
rather than being tested half). Two ``keyserver serve`` instances share one PostgreSQL
database; readers release keys through nginx over TLS while one instance is killed with
SIGKILL. Promises: every release nginx acknowledged is in the audit log, the surviving
instance keeps serving through nginx, no answer is a 500, and the chain verifies.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support import e2e, postgres
from tests.support.release_load import NO_CAPS, Load, committed_container
from tests.support.requirements import missing
from tests.support.tls import TlsFiles, make_tls_files

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-rwc.conf"


def _adapt(sample: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert sample.count(old) == 1, f"deploy/nginx-rwc.conf no longer has {old!r} once"
        sample = sample.replace(old, new)
    return sample


def _nginx_conf(work: Path, tls: TlsFiles, port: int, upstreams: tuple[int, int]) -> Path:
    sample = _adapt(
        SAMPLE.read_text(),
        {
            "server 127.0.0.1:8440 ": f"server 127.0.0.1:{upstreams[0]} ",
            "server 127.0.0.1:8441 ": f"server 127.0.0.1:{upstreams[1]} ",
            "listen 443 ssl": f"listen 127.0.0.1:{port} ssl",
            "/etc/rwc/tls/fullchain.pem": os.fspath(tls.server_cert),
            "/etc/rwc/tls/privkey.pem": os.fspath(tls.server_key),
        },
    )
    temp = work / "temp"
    temp.mkdir()
    # The sample is the content of nginx's http block; this is the rest of a main file.
    user = "user root;\n" if os.geteuid() == 0 else ""  # temp dirs are the test's own
    conf = work / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\n"
        f"error_log {work}/error.log warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n  access_log off;\n"
        + "".join(
            f"  {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + sample
        + "\n}\n"
    )
    return conf


@pytest.fixture
def nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        missing("nginx", "apt-get install -y nginx")
    return found


@pytest.fixture
def database_url() -> Iterator[tuple[str, str]]:
    with postgres.fresh_database("ks_nginx") as name:
        yield name, postgres.database_url(name)


def test_releases_through_nginx_while_an_instance_is_killed(
    nginx: str, database_url: tuple[str, str], tmp_path: Path
) -> None:
    name, url = database_url
    key = tmp_path / "master.key"
    location = ["--database-url", url, "--master-key-file", os.fspath(key)]
    proc = e2e.run([e2e.KEYSERVER, "init", *location], e2e.clean_env())
    e2e.expect(proc, 0)
    [admin] = e2e.TOKEN_RE.findall(proc.stdout.decode())
    instances = []
    for i in range(2):
        logs = tmp_path / f"logs{i}"
        logs.mkdir()
        server = e2e.KeyServer(
            data_dir=tmp_path,
            log_dir=logs,
            admin_token=admin,
            location=location,
            # Behind nginx: the client address is the right-most X-Forwarded-For entry.
            env_extra={**NO_CAPS, "KEYSERVER_TRUST_PROXY": "true"},
        )
        server.start()
        instances.append(server)
    work = tmp_path / "nginx"
    work.mkdir()
    (tmp_path / "tls").mkdir()
    tls = make_tls_files(tmp_path / "tls")
    port = e2e.free_port()
    conf = _nginx_conf(work, tls, port, (instances[0].port, instances[1].port))
    check = subprocess.run([nginx, "-t", "-c", conf], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    front = subprocess.Popen(
        [nginx, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"https://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/v1/whoami", verify=os.fspath(tls.ca_cert), timeout=2)
                break
            except requests.RequestException:
                assert front.poll() is None, (work / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.1)
        first = instances[0]
        writer = e2e.add_principal_http(first, "writer-nx", "writer")
        reader = e2e.add_principal_http(first, "reader-nx", "reader")
        cid = committed_container(first, writer, "reader-nx")
        load = Load(base, reader, cid, verify=os.fspath(tls.ca_cert))
        load.until(100)
        victim = instances[1]
        assert victim.proc is not None
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        victim.proc = None
        before_kill = load.acked()
        load.until(before_kill + 100)
        load.stop()
        codes = load.codes
        acked_after_kill = codes[200] - before_kill
        with psycopg.connect(postgres.conninfo(name)) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT remote) FROM audit_log WHERE action = 'evaluate'"
                " AND outcome = 'ok' AND actor = 'reader-nx'"
            ).fetchone()
        assert row is not None
        recorded, remotes = int(row[0]), int(row[1])
        print(
            f"\n[faults] nginx, 2 instances on PostgreSQL, one killed: answers {dict(codes)},"
            f" {codes[200]} releases acknowledged ({acked_after_kill} after the kill),"
            f" {recorded} recorded; no answer: {dict(load.failures)}"
        )
        assert acked_after_kill > 0  # the other instance kept serving through nginx
        assert recorded >= codes[200]
        assert set(codes) <= {0, 200, 502}  # 502: a request the killed instance had taken
        assert remotes == 1  # 127.0.0.1 from X-Forwarded-For, overwritten by nginx
        verify = e2e.run([e2e.KEYSERVER, "audit", "verify", *location], e2e.clean_env())
        e2e.expect(verify, 0)
    finally:
        front.terminate()
        front.wait(timeout=30)
        for server in instances:
            server.stop()
