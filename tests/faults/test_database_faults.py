"""A database in trouble gives a prompt 503 problem, applies nothing late, and recovers.

PostgreSQL through a small TCP proxy in the test that can stop forwarding (a frozen
network path: connections stay open, nothing arrives) or refuse connections; a session
holding the audit chain-head lock. SQLite on a small tmpfs that is filled up, and a file
locked by another writer. For each: requests are answered with a 503 problem (never a
hang, never a 500), ``/readyz`` says not ready, a suspension answered 503 is NOT applied
once the database is back, and the same server process serves again (no restart).

Timeouts are set to 2 s here (defaults: 5-15 s); the printed figures are the waits seen.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from voprf import ristretto as r

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store import init_database
from keyserver._store.engine import repair_side_files
from keyserver.testing import new_master_key_b64, running_server
from tests.support import e2e, http_client, postgres, processes
from tests.support.requirements import missing

UNAVAILABLE = "urn:rwc:problem:unavailable"
_DEADLINES = ("connect", "statement", "lock", "idle_in_transaction")
FAST: dict[str, Any] = {f"db_{d}_timeout": timedelta(seconds=2) for d in _DEADLINES}
FAST |= {"busy_timeout_ms": 2000, "sweep_interval": timedelta(0)}
# What Setup writes with: the defaults of the same deadlines (see Setup).
_DEFAULTS = Settings(database_url="sqlite://", master_key_b64="A" * 43)
SETUP = {k: getattr(_DEFAULTS, k) for k in FAST if k != "sweep_interval"}


class Proxy:
    """A TCP forwarder to PostgreSQL that can freeze (hold every byte) or refuse."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.frozen = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listen = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listen.getsockname()[1])
        self._start()

    def _start(self) -> None:
        threading.Thread(target=self._accept, args=(self._listen,), daemon=True).start()

    def _accept(self, listen: socket.socket) -> None:
        while True:
            try:
                client, _ = listen.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.frozen.is_set():  # hold the bytes: the path is frozen
                    time.sleep(0.01)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def refuse(self) -> None:
        """Close the listener and every connection: new connections are refused."""
        # shutdown() first: close() alone does not wake the thread blocked in accept().
        with contextlib.suppress(OSError):
            self._listen.shutdown(socket.SHUT_RDWR)
        self._listen.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def resume(self) -> None:
        """Listen again on the same port, forwarding."""
        self._listen = socket.create_server(("127.0.0.1", self.port))
        self._start()

    def close(self) -> None:
        self.frozen.clear()
        self.refuse()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _blinded() -> str:
    _, blinded = r.Client.blind(b"x")
    return _b64(blinded.serialize())


class Setup:
    """A running server with a writer-committed container and an official and a reader."""

    def __init__(self, settings: Settings, url: str) -> None:
        # Set up with the default deadlines (the server under test keeps FAST): under load 10
        # this transaction once idled past 2 s and PostgreSQL ended it (session 21's train).
        service = KeyService(dataclasses.replace(settings, **SETUP))
        try:
            actor = Actor(name="bootstrap", roles=ROLES, local=True)
            tokens = {
                n: service.add_principal(actor, n, [n], "City", [])["token"]
                for n in ("writer", "reader", "official")
            }
            w = service.authenticate(tokens["writer"])
            reg = service.register(w, label="c", medium="usb", readers=["reader"], reader_groups=[])
            self.cid = reg["container_id"]
            service.commit(w, self.cid, header_digest=b"\1" * 32, receipt_key=b"\2" * 32)
        finally:
            service.close()
        # Over the shared TLS context: a client of its own builds one (29 ms of CPU).
        self.http = {
            n: http_client.client(
                base_url=url, headers={"Authorization": f"Bearer {t}"}, timeout=120
            )
            for n, t in tokens.items()
        }

    def serve_at(self, url: str) -> None:
        """Send the requests to ``url`` from now on (another server process)."""
        for c in self.http.values():
            c.base_url = httpx.URL(url)

    def evaluate(self) -> httpx.Response:
        return self.http["reader"].post(
            f"/v1/containers/{self.cid}/evaluate", json={"blinded_element": _blinded()}
        )

    def suspend(self) -> httpx.Response:
        return self.http["official"].post(
            f"/v1/containers/{self.cid}/suspend", json={"reason": "fault test"}
        )

    def state(self) -> str:
        return str(self.http["official"].get(f"/v1/containers/{self.cid}").json()["state"])

    def ready(self) -> int:
        return self.http["reader"].get("/readyz").status_code

    def close(self) -> None:
        for c in self.http.values():
            c.close()


def _unavailable(resp: httpx.Response, what: str, started: float) -> None:
    took = time.monotonic() - started
    print(f"[faults] {what}: {resp.status_code} after {took:.1f} s")
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"] == UNAVAILABLE


def _recovers(s: Setup, what: str, timeout: float = 60) -> None:
    started = time.monotonic()
    while s.ready() != 200:
        assert time.monotonic() - started < timeout, f"not ready again after {what}"
        time.sleep(0.2)
    resp = s.evaluate()
    assert resp.status_code == 200, resp.text
    print(f"[faults] {what}: ready and releasing again {time.monotonic() - started:.1f} s later")


@pytest.fixture
def pg_name() -> Iterator[str]:
    """An empty database (the migrations' own test)."""
    with postgres.fresh_database("ks_faults") as name:
        yield name


@pytest.fixture
def pg_copy(pg_template: str | None) -> Iterator[str]:
    """A copy of the migrated template (tests/conftest.py): ``pg``'s tests are about serving."""
    with postgres.fresh_database("ks_faults", template=pg_template) as name:
        yield name


@pytest.fixture
def pg(pg_copy: str) -> Iterator[tuple[Setup, Proxy, str]]:
    pg_name = pg_copy
    direct = postgres.database_url(pg_name)
    init_database(Settings(database_url=direct, master_key_b64="A" * 43))
    target = make_url(direct)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    settings = Settings(
        database_url=target.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        ),
        master_key_b64=new_master_key_b64(),
        **FAST,
    )
    try:
        with running_server(settings) as url:
            s = Setup(settings, url)
            try:
                yield s, proxy, pg_name
            finally:
                s.close()
    finally:
        proxy.close()


@pytest.mark.slow
def test_postgres_frozen_path(pg: tuple[Setup, Proxy, str]) -> None:
    s, proxy, _ = pg
    assert s.evaluate().status_code == 200
    proxy.frozen.set()
    started = time.monotonic()
    _unavailable(s.evaluate(), "frozen PostgreSQL, evaluate", started)
    started = time.monotonic()
    _unavailable(s.suspend(), "frozen PostgreSQL, suspend", started)
    assert s.ready() == 503
    proxy.frozen.clear()  # the held bytes now flow: nothing may act on them
    _recovers(s, "frozen PostgreSQL")
    # The suspension was answered 503: it must not have been applied later.
    assert s.state() == "active"


def test_postgres_refused(pg: tuple[Setup, Proxy, str]) -> None:
    s, proxy, _ = pg
    proxy.refuse()
    started = time.monotonic()
    _unavailable(s.evaluate(), "refused PostgreSQL, evaluate", started)
    assert s.ready() == 503
    proxy.resume()
    _recovers(s, "refused PostgreSQL")


@pytest.mark.slow
def test_postgres_chain_head_held(pg: tuple[Setup, Proxy, str]) -> None:
    """Another session (another instance, stuck) holds the chain-head lock."""
    s, _proxy, name = pg
    holder = psycopg.connect(postgres.conninfo(name))
    try:
        holder.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        started = time.monotonic()
        _unavailable(s.evaluate(), "chain head held, evaluate", started)
        started = time.monotonic()
        _unavailable(s.suspend(), "chain head held, suspend", started)
        # Only now may the holder's session end: a timeout set before the two requests
        # (it was 8 s) raced their two 2 s lock waits on a loaded machine, and a lock let go
        # early turns the refused suspension into an applied one. PostgreSQL arms the
        # timeout each time the session goes idle, so this SET's value is the one in force.
        holder.execute("SET idle_in_transaction_session_timeout = '1s'")
        # The server ends the idle holder's session; the lock goes with it.
        _recovers(s, "chain head held")
        with pytest.raises(psycopg.Error):  # the server ended the holder's session
            holder.execute("SELECT 1")
    finally:
        holder.close()
    assert s.state() == "active"


@contextlib.contextmanager
def _sqlite_server(directory: Path) -> Iterator[tuple[Setup, Path]]:
    db = directory / "keyserver.db"
    settings = Settings(database_url=f"sqlite:///{db}", master_key_b64=new_master_key_b64(), **FAST)
    init_database(settings)
    with running_server(settings) as url:
        s = Setup(settings, url)
        try:
            yield s, db
        finally:
            s.close()


def test_sqlite_disk_full(tmpfs: Path) -> None:
    with _sqlite_server(tmpfs) as (s, _db):
        assert s.evaluate().status_code == 200
        filler = tmpfs / "filler"
        with filler.open("wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        assert s.ready() == 503
        answers = [s.evaluate() for _ in range(20)]
        codes = [a.status_code for a in answers]
        print(f"[faults] SQLite disk full: evaluate answers {sorted(set(codes))}")
        # A commit that still fit (WAL pages reused) may release; nothing else is allowed.
        assert set(codes) <= {200, 503}
        for a in answers:
            if a.status_code == 503:
                assert a.json()["type"] == UNAVAILABLE
        started = time.monotonic()
        _unavailable(s.suspend(), "SQLite disk full, suspend", started)
        filler.unlink()
        _recovers(s, "SQLite disk full")
        assert s.state() == "active"


@pytest.mark.slow
def test_sqlite_locked_by_another_writer(tmp_path: Path) -> None:
    import sqlite3  # noqa: PLC0415

    with _sqlite_server(tmp_path) as (s, db):
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another tool holding the write lock
            started = time.monotonic()
            _unavailable(s.evaluate(), "SQLite locked, evaluate", started)
            started = time.monotonic()
            _unavailable(s.suspend(), "SQLite locked, suspend", started)
            assert s.ready() == 503
            other.execute("ROLLBACK")
        finally:
            other.close()
        _recovers(s, "SQLite locked")
        assert s.state() == "active"


def test_sqlite_side_files_get_write_back(tmp_path: Path) -> None:
    """After a read-only period the -shm/-wal modes follow the database file again."""
    db = tmp_path / "keyserver.db"
    db.write_bytes(b"")
    db.chmod(0o640)
    for suffix in ("-wal", "-shm"):
        side = tmp_path / f"keyserver.db{suffix}"
        side.write_bytes(b"")
        side.chmod(0o444)
    assert sorted(repair_side_files(db)) == ["keyserver.db-shm", "keyserver.db-wal"]
    for suffix in ("-wal", "-shm"):
        assert (tmp_path / f"keyserver.db{suffix}").stat().st_mode & 0o777 == 0o640
    db.chmod(0o444)  # still read-only: nothing to repair yet
    (tmp_path / "keyserver.db-shm").chmod(0o444)
    assert repair_side_files(db) == []


def test_postgres_deadline_spares_migrations(pg_name: str) -> None:
    """A statement longer than db_statement_timeout is cut, except in a migration."""
    from sqlalchemy import exc, text  # noqa: PLC0415

    from keyserver._store.engine import NO_DEADLINE_OPTION, make_engine, migrate  # noqa: PLC0415

    settings = Settings(
        database_url=postgres.database_url(pg_name),
        master_key_b64=new_master_key_b64(),
        **{**FAST, "db_statement_timeout": timedelta(seconds=1)},
    )
    engine = make_engine(settings)
    try:
        # Twice the 1 s timeout: long enough to be cut, and to show it was not (2 s, not 3:
        # the statement that is not cut is a second of waiting the run needs no more of).
        with pytest.raises(exc.OperationalError), engine.begin() as conn:
            conn.execute(text("SELECT pg_sleep(2)"))
        with engine.execution_options(**{NO_DEADLINE_OPTION: True}).begin() as conn:
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            conn.execute(text("SELECT pg_sleep(2)"))
        migrate(settings, engine)  # the whole chain, under a 1 s statement timeout
    finally:
        engine.dispose()


@contextlib.contextmanager
def _serve(settings: Settings, port: int, log: Path) -> Iterator[None]:
    """``keyserver serve`` as a process that file modes apply to, on ``settings``' database.

    Root ignores a file's mode: as root the server runs without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH (setpriv), so a 0444 database is read-only to it as to a service
    user.
    """
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            missing("setpriv (util-linux)", "apt-get install -y util-linux")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSERVER_")}
    env.update(
        KEYSERVER_MASTER_KEY=settings.master_key_b64 or "",
        KEYSERVER_DB_CONNECT_TIMEOUT="2s",
        KEYSERVER_DB_STATEMENT_TIMEOUT="2s",
        KEYSERVER_BUSY_TIMEOUT_MS="2000",
        KEYSERVER_SWEEP_INTERVAL="0",
    )
    argv = [*prefix, os.fspath(e2e.KEYSERVER), "serve", "--database-url", settings.database_url]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            with contextlib.suppress(httpx.HTTPError):
                # http_client: httpx.get would build a TLS context (29 ms of CPU) per poll.
                healthz = http_client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if healthz.status_code == 200:
                    break
            assert time.monotonic() < deadline, "keyserver serve did not come up"
            time.sleep(0.1)
        yield
    finally:
        processes.stop(proc)


@pytest.mark.slow
def test_sqlite_read_only_file(tmp_path: Path) -> None:
    """The database file is read-only (0444) when the server starts, then writable again.

    Reads still answer; every write is refused with a 503 problem and ``/readyz`` says not
    ready; a suspension answered 503 is not applied. Once the file is writable again the
    same process serves again (SQLite's side files, created 0444 meanwhile, are repaired),
    and so does a restarted one.
    """
    db = tmp_path / "keyserver.db"
    settings = Settings(database_url=f"sqlite:///{db}", master_key_b64=new_master_key_b64(), **FAST)
    init_database(settings)
    port = e2e.free_port()
    s = Setup(settings, f"http://127.0.0.1:{port}")
    log = tmp_path / "serve.log"
    try:
        db.chmod(0o444)
        with _serve(settings, port, log):
            assert s.ready() == 503
            assert s.state() == "active"  # reads answer
            answers = [s.evaluate().status_code for _ in range(5)]
            print(f"\n[faults] SQLite file 0444: evaluate answers {answers}")
            assert set(answers) == {503}
            started = time.monotonic()
            _unavailable(s.suspend(), "SQLite file 0444, suspend", started)
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.glob("keyserver.db*")}
            print(f"[faults] while read-only: {modes}")
            db.chmod(0o644)
            _recovers(s, "SQLite file writable again")
            assert s.state() == "active"
        for side in tmp_path.glob("keyserver.db-*"):
            assert side.stat().st_mode & 0o200, side
        # A port of its own: the first one, free since the stop, may be another test's now.
        port = e2e.free_port()
        s.serve_at(f"http://127.0.0.1:{port}")
        with _serve(settings, port, log):
            assert s.evaluate().status_code == 200
    finally:
        s.close()


def _watchdogs() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "rwc-db-watchdog" and t.is_alive()}


def test_postgres_watchdog_stops_with_the_app(pg_copy: str) -> None:
    """The deadline watchdog's thread ends when the app (its service, its engine) shuts down.

    Before: one thread per engine ever made stayed alive until the process ended.
    """
    settings = Settings(
        database_url=postgres.database_url(pg_copy),
        master_key_b64=new_master_key_b64(),
        **FAST,
    )
    init_database(settings)
    before = _watchdogs()
    with running_server(settings) as url:
        # /readyz reads the database: a checkout arms a deadline, which starts the thread.
        assert http_client.get(f"{url}/readyz", timeout=10).status_code == 200
        started = _watchdogs() - before
        assert len(started) == 1
    [thread] = started
    assert not thread.is_alive()
    # A service closed by hand (the CLI's commands, serve's start-up check) stops it too.
    service = KeyService(settings)
    service.check_master_key()
    assert len(_watchdogs() - before) == 1
    service.close()
    assert _watchdogs() - before == set()
