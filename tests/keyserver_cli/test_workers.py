"""``keyserver serve --workers N`` as real processes on real sockets (keyserver/_cli/workers.py).

Which worker served a connection is read from /proc, with no help from the server: while
the client connections are held open, every established server-side socket on the port
(/proc/net/tcp{,6}) is mapped to the worker process holding it (/proc/<pid>/fd links).
"""

from __future__ import annotations

import base64
import errno
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from voprf import ristretto

from keyserver._cli import serve_handoff
from keyserver._cli.workers import ListenError, PortInUseError, _address, listen
from keyserver._store.writelock import LOCK_SUFFIX
from tests.support.keyserver_cli import TIMEOUT, run, start_serve
from tests.support.processes import stop
from tests.support.requirements import missing
from tests.support.tls import make_tls_files

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_REUSEPORT workers, read from /proc"
)

CONNECTIONS = 32


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _is_committer(pid: int) -> bool:
    with suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip() == "rwc-committer"
    return False


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker, which a
    spawning supervisor starts, nor the host's release committer)."""
    return [
        pid
        for pid in _children(supervisor)
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        and not _is_committer(pid)
    ]


def committer_pids(supervisor: int) -> list[int]:
    """The supervisor's release committer (keyserver/_release/hostcommit.py)."""
    return [pid for pid in _children(supervisor) if _is_committer(pid)]


def wait_for_workers(supervisor: int, count: int) -> list[int]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        pids = worker_pids(supervisor)
        if len(pids) == count:
            return pids
        time.sleep(0.05)
    pytest.fail(f"expected {count} workers of {supervisor}")


def established_inodes(port: int, state: str = "01") -> set[int]:
    """Socket inodes of the TCP sockets whose local port is ``port``, in ``state``
    (01: ESTABLISHED, 0A: LISTEN)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == state:
                    inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if match:
                inodes.add(int(match.group(1)))
    return inodes


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (an exited child reparented to init may linger unreaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def stopped(proc: Any) -> Iterator[None]:
    try:
        yield
    finally:
        stop(proc, timeout=TIMEOUT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_workers_serve_balance_and_stop_on_sigterm(
    h: ModuleType, data_dir: Any, people: Any, tmp_path: Path
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    log = tmp_path / "serve.log"
    # A duration flag reaches the workers through KEYSERVER_* in the one duration grammar.
    proc, url = start_serve(data_dir.path, log, "--workers", "2", "--challenge-ttl", "7m")
    with stopped(proc):
        workers = wait_for_workers(proc.pid, 2)
        assert committer_pids(proc.pid) == []  # host_committer is off by default
        # Forked from the supervisor, which imported the app for its start-up check: a
        # worker does not import it again (a spawned one runs `python -c "from
        # multiprocessing.spawn ..."` and cost a second of CPU more each).
        supervisor = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in workers] == [supervisor] * 2
        assert requests.get(url + "/readyz", timeout=5).status_code == 200
        _client, blinded = ristretto.Client.blind(b"rwc/v1 oprf input")
        evaluated = requests.post(
            f"{url}/v1/containers/{cid}/evaluate",
            json={"blinded_element": _b64(blinded.serialize())},
            headers={"Authorization": f"Bearer {people.reader}"},
            timeout=10,
        )
        assert evaluated.status_code == 200, evaluated.text
        assert {"evaluated_element", "proof"} <= set(evaluated.json())

        # Separate TCP connections, all held open: the supervisor hands them to the
        # workers in turn, so they split evenly (a hash of the addresses, SO_REUSEPORT,
        # gave 8/8 of 16 one time in five; one shared socket gives all to one worker).
        port = int(url.rsplit(":", 1)[1])
        # One listening socket, the supervisor's alone: a copy in a worker would keep the
        # port taking connections that nobody accepts once the supervisor is gone.
        listening = established_inodes(port, state="0A")
        assert len(listening) == 1
        assert listening <= socket_inodes(proc.pid)
        assert all(not listening & socket_inodes(pid) for pid in workers)
        conns = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)
        ]
        try:
            for conn in conns:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                assert response.status == 200
            server_side = established_inodes(port)
            owners = {pid: socket_inodes(pid) & server_side for pid in workers}
        finally:
            for conn in conns:
                conn.close()
        # (One more may still be open: the client's earlier requests.)
        counts = sorted(len(inodes) for inodes in owners.values())
        assert sum(counts) >= CONNECTIONS and counts[1] - counts[0] <= 1, counts

        everyone = [*_children(proc.pid)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert gone(everyone), everyone
    output = log.read_text()
    assert "Traceback" not in output and "error" not in output.lower(), output
    assert output.count("Finished server process") == 2, output


def _https_status(port: int, ca: Path) -> int:
    """GET /healthz over TLS on a connection of its own, the certificate checked."""
    context = ssl.create_default_context(cafile=os.fspath(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        head = tls.recv(64)
    return int(head.split()[1])


# Any warning fails it: an https request made without checking the certificate
# (InsecureRequestWarning) was one.
@pytest.mark.filterwarnings("error")
def test_workers_serve_tls_on_handed_connections(data_dir: Any, tmp_path: Path) -> None:
    """TLS is the worker's (uvicorn's), on connections the supervisor accepted: both
    workers answer, and a client that fails its handshake costs neither of them."""
    files = make_tls_files(tmp_path)
    log = tmp_path / "serve.log"
    proc, url = start_serve(
        data_dir.path,
        log,
        *("--workers", "2", "--tls-cert", os.fspath(files.server_cert)),
        *("--tls-key", os.fspath(files.server_key)),
        scheme="https",
        verify=os.fspath(files.ca_cert),
        name="localhost",  # the certificate's name (not the IP)
    )
    port = int(url.rsplit(":", 1)[1])
    with stopped(proc):
        workers = wait_for_workers(proc.pid, 2)
        for _ in range(2):  # no TLS at all, then an untrusted certificate: both refused
            with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
                plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert plain.recv(64) in {b"", b"\x15\x03\x01\x00\x02\x02"}
            with pytest.raises(ssl.SSLCertVerificationError):
                _https_status(port, files.other_ca_cert)
        # Four connections of their own, handed out in turn: both workers serve TLS.
        assert [_https_status(port, files.ca_cert) for _ in range(4)] == [200] * 4
        assert worker_pids(proc.pid) == workers
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    output = log.read_text()
    assert "Traceback" not in output, output


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use_is_refused(h: ModuleType, data_dir: Any, workers: str, lang: str) -> None:
    # spec §cli: a port already in use is refused, exit 1, with one message whatever the
    # number of workers (one worker was uvicorn's own log line and exit 3).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--data-dir", data_dir.path, "--host", "127.0.0.1", "--port", str(port)]
        result = run(*argv, "--workers", workers, KEYSERVER_LANG=lang)
    assert result.returncode == 1, result
    assert result.stdout == ""
    said = {
        "en": (
            f"keyserver: error: cannot listen on 127.0.0.1:{port}: Address already in use",
            (
                "keyserver: hint: another program (or keyserver) listens there: stop it or "
                "choose another --port"
            ),
        ),
        "ja": (
            f"keyserver: error: 127.0.0.1:{port} で待ち受けできません: Address already in use",
            (
                "keyserver: hint: そこでは別のプログラム(または keyserver)が待ち受けています。"
                "それを止めるか、別の --port を指定してください"
            ),
        ),
    }
    assert tuple(result.stderr.splitlines()) == said[lang], result.stderr


def test_worker_killed_stops_the_server_ipv6_port_0(
    h: ModuleType, data_dir: Any, tmp_path: Path
) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        missing("IPv6 loopback (::1)", "enable IPv6 on the loopback interface")
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *(os.fspath(h.KEYSERVER_BIN), "serve", "--data-dir", os.fspath(data_dir.path)),
                *("--host", "::1", "--port", "0", "--workers", "2"),
            ],
            env=h.clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    with stopped(proc):
        # Port 0: the supervisor picks one port and every worker listens on it.
        deadline = time.monotonic() + TIMEOUT
        announced = None
        while announced is None and time.monotonic() < deadline and proc.poll() is None:
            announced = re.search(
                r"keyserver: 2 workers on (http://\[::1\]:(\d+))\n", log.read_text()
            )
            time.sleep(0.05)
        assert announced is not None and announced[2] != "0", log.read_text()
        url = announced[1]
        while True:  # the workers listen a moment after the announcement
            try:
                assert requests.get(url + "/readyz", timeout=5).status_code == 200
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.05)
        victim, other = wait_for_workers(proc.pid, 2)
        os.kill(victim, signal.SIGKILL)
        assert proc.wait(timeout=TIMEOUT) == 1
        assert gone([other])
    output = log.read_text()
    assert "Traceback" not in output, output
    assert f"(pid {victim}) exited with code -9" in output
    assert "keyserver: error: a worker process died" in output


def test_addresses_resolve_as_uvicorn_binds_them() -> None:
    assert _address("localhost", 1)[0] == socket.AF_INET
    assert _address("127.0.0.1", 1) == (socket.AF_INET, ("127.0.0.1", 1))
    assert _address("::1", 1)[0] == socket.AF_INET6
    port, listening = listen("127.0.0.1", 0, 16)
    with listening, socket.socket() as plain:
        assert port == listening.getsockname()[1] != 0
        with pytest.raises(OSError) as refused:  # a server without SO_REUSEPORT
            plain.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
        # ...and another server that would share the port (SO_REUSEPORT): the supervisor's
        # socket does not have it, so nobody joins.
        with socket.socket() as joiner:
            joiner.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with pytest.raises(OSError) as refused:
                joiner.bind(("127.0.0.1", port))
            assert refused.value.errno == errno.EADDRINUSE
        with pytest.raises(PortInUseError, match=rf"127\.0\.0\.1:{port}: "):
            listen("127.0.0.1", port, 16)
    # A listener with SO_REUSEPORT (another server of the same user): refused too.
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(PortInUseError):
            listen("127.0.0.1", other.getsockname()[1], 16)
    with socket.socket(socket.AF_INET6) as v6:
        v6.bind(("::1", 0))
        v6.listen()
        taken = v6.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"cannot listen on \[::1\]:{taken}: "):
            listen("::1", taken, 16)
    with pytest.raises(ListenError):
        listen("no-such-host.invalid", 0, 16)


# A supervisor with a thread left behind: it must still serve (spawned workers), and say so.
LEFT_THREAD = textwrap.dedent(
    """
    import os, signal, sys, threading, time, urllib.request
    from keyserver._cli import workers

    release = threading.Event()
    threading.Thread(target=release.wait, name="left-behind", daemon=True).start()

    def ready(port):  # on_ready must return: the supervisor accepts after it
        threading.Thread(target=request, args=(port,)).start()

    def request(port):
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    print("served", r.status, r.read().decode(), flush=True)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    code = workers.serve_workers(
        "tests.support.tiny_asgi:app", "127.0.0.1", 0, 2, {"log_level": "warning"},
        on_ready=ready, on_spawn=lambda names: print("spawned:", ",".join(names), flush=True),
    )
    release.set()
    sys.exit(code)
    """
)


def test_a_thread_left_in_the_supervisor_is_said_and_workers_still_serve(
    tmp_path: Path,
) -> None:
    """Another thread alive at fork time: workers are spawned (safe, slower), and said.

    Forking beside a running thread could hang a worker on a lock that thread held;
    spawning is safe but costs each worker its imports again, which nobody noticed when
    a thread was left behind. test_workers_serve_balance_and_stop_on_sigterm shows the
    real `serve` still forks (its supervisor is single-threaded).
    """
    proc = subprocess.run(
        [sys.executable, "-c", LEFT_THREAD],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["spawned: left-behind", "served 200 ok"], proc


def test_failed_init_leaves_nothing(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the first write removes the writer-lock file with the database."""
    import keyserver._cli.host as cli_host  # noqa: PLC0415

    bootstrap = cli_host._bootstrap_admin

    def fail_after_writing(*args: Any) -> Any:
        bootstrap(*args)  # writes the admin principal: the lock file exists now
        assert (tmp_path / "d" / ("keyserver.db" + LOCK_SUFFIX)).exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_host, "_bootstrap_admin", fail_after_writing)
    result = cli("init", "--data-dir", tmp_path / "d")
    assert result.code == 130
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == []


def _received(end: socket.socket) -> list[socket.socket]:
    """The connections queued for a worker on its end of the channel."""
    end.setblocking(False)
    got: list[socket.socket] = []
    while True:
        try:
            _data, fds, _flags, _addr = socket.recv_fds(end, 16, 1)
        except BlockingIOError:
            return got
        got += [socket.socket(fileno=fd) for fd in fds]


def test_connections_are_handed_out_in_turn_and_past_a_gone_worker() -> None:
    """The supervisor's side alone, on real sockets: in turn; a worker whose end is gone
    is skipped; with no worker left the connection is closed, and nothing stops it."""
    port, listening = listen("127.0.0.1", 0, 16)
    pairs = serve_handoff.channels(2)
    dispatcher = serve_handoff.Dispatcher(listening, [ours for ours, _ in pairs])
    clients = []
    try:
        for _ in range(4):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            dispatcher.dispatch()
        first, second = (_received(theirs) for _ours, theirs in pairs)
        assert (len(first), len(second)) == (2, 2)
        # What the worker got is the client's connection: bytes cross it.
        clients[0].sendall(b"ping")
        assert first[0].recv(4) == b"ping"
        for conn in first + second:
            conn.close()

        pairs[0][1].close()  # the first worker is gone
        for _ in range(3):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            dispatcher.dispatch()
        assert len(_received(pairs[1][1])) == 3

        pairs[1][1].close()  # no worker left: the client is let go, not kept waiting
        clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        dispatcher.dispatch()
        assert clients[-1].recv(1) == b""
    finally:
        for sock in [*clients, listening, *(s for pair in pairs for s in pair)]:
            sock.close()


def test_most_workers_fit_the_committers_connection_cap() -> None:
    # Each worker may hold two committer connections while it reconnects (hostcommit.py).
    from keyserver._cli.host import MAX_WORKERS  # noqa: PLC0415
    from keyserver._release.hostcommit import MAX_CONNECTIONS  # noqa: PLC0415

    assert 2 * MAX_WORKERS <= MAX_CONNECTIONS
