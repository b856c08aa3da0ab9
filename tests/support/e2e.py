"""End-to-end helpers: the installed ``keyserver`` and ``rwc`` commands as real processes.

One session-scoped key server (``keyserver init`` + ``keyserver serve`` on a free loopback
port, SQLite in a temporary directory) is shared by the tests; every test works on its own
containers and media, so tests do not see each other's state. Tests that stop the server use
``private_story``: a server of their module's own, restarted when a test stopped it.

Nothing here imports the code under test: everything goes through the commands' command
lines, exit codes, stdout and stderr, exactly as a person or a script would use them.

Length: the one place that starts real ``keyserver``/``rwc`` processes for the end-to-end tests;
every helper here is used by several test files.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.processes import clean_env, free_port
from tests.support.processes import stop as stop_process

# Re-exported (tests reach them through this module); defined once in processes.py.
__all__ = ["clean_env", "free_port"]

REPO = Path(__file__).resolve().parents[2]
# The installed entry points of the venv that runs the tests (make test: .venv/bin/python).
BIN = Path(sys.executable).parent
RWC = BIN / "rwc"
KEYSERVER = BIN / "keyserver"

TOKEN_RE = re.compile(r"\brwc_[A-Za-z0-9_-]{43}\b")
# Small Argon2 parameters for speed (spec allows m >= 8192 KiB, t >= 1, p >= 1).
SMALL_ARGON2 = ("8192", "1", "1")
COMMAND_TIMEOUT = 120
# How long `serve` may take to answer /healthz. Start-up costs about 2 s of CPU (one or two
# workers: keyserver/_cli/workers.py forks them from the loaded supervisor); a loaded CI
# machine stretches that many times (a 2-worker server that spawned its workers took 39 s at
# load 15 on 2 cores). The bound is generous because it costs nothing when start-up works:
# the wait ends at the first 200, and at once when the process exits (a failed start).
HEALTH_TIMEOUT = 120.0

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_REVOKED = 3
EXIT_SUSPENDED = 4
EXIT_NOT_ALLOWED = 5
EXIT_WRONG_PASSWORD = 6
EXIT_UNREACHABLE = 7
EXIT_CORRUPT = 8
EXIT_EXPIRED = 9
EXIT_OUTPUT_EXISTS = 10
# `keyserver` exit codes (keyserver/_cli/errors.py; docs list them).
KS_EXIT_USAGE = 2
KS_EXIT_DENIED = 4
KS_EXIT_NOT_FOUND = 5
KS_EXIT_REFUSED = 6

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """Return a name unique within this test session (media, labels, principals)."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def run(
    argv: Sequence[str | os.PathLike[str]],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion, capturing stdout and stderr as bytes."""
    return subprocess.run(
        [os.fspath(a) for a in argv],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def describe(proc: subprocess.CompletedProcess[bytes]) -> str:
    """A failure message showing what a command did."""
    return (
        f"$ {' '.join(map(str, proc.args))}\nexit {proc.returncode}\n"
        f"--- stdout\n{proc.stdout.decode(errors='replace')[-3000:]}\n"
        f"--- stderr\n{proc.stderr.decode(errors='replace')[-3000:]}"
    )


def expect(proc: subprocess.CompletedProcess[bytes], code: int) -> None:
    """Assert the exit code, showing the command's output when it differs."""
    assert proc.returncode == code, describe(proc)


def parse_json(proc: subprocess.CompletedProcess[bytes]) -> object:
    """Decode a ``--json`` command's stdout, showing the command's output when it is not JSON."""
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"not JSON on stdout:\n{describe(proc)}")


def no_traceback(proc: subprocess.CompletedProcess[bytes]) -> None:
    """A refusal is a message for a person, never a Python traceback."""
    assert b"Traceback (most recent call last)" not in proc.stderr, describe(proc)


def tree(root: Path) -> dict[str, bytes]:
    """All regular files under root, as {relative posix path: content}."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@dataclass
class KeyServer:
    """A live ``keyserver serve`` process and the data directory it serves."""

    data_dir: Path
    log_dir: Path
    admin_token: str
    env_extra: dict[str, str] = field(default_factory=dict)
    # Where the state lives, as `serve` options (default: the SQLite data directory).
    location: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server (plain http is allowed to loopback only)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start ``keyserver serve`` on a free port and wait until /healthz answers."""
        for _attempt in range(3):  # another process may grab the port between probe and bind
            self.port = free_port()
            log = (self.log_dir / f"serve-{self.port}.log").open("wb")
            self.proc = subprocess.Popen(
                [
                    os.fspath(KEYSERVER),
                    "serve",
                    *(self.location or ["--data-dir", os.fspath(self.data_dir)]),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=clean_env(**self.env_extra),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_healthy():
                return
            self.stop()
        pytest.fail(f"keyserver serve did not come up; log:\n{self.log_text()}")

    def _wait_healthy(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it does not exit)."""
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def log_text(self, tail: int | None = 4000) -> str:
        """The server's combined output so far (the last ``tail`` characters of each log)."""
        texts = [p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log"))]
        return "\n".join(t if tail is None else t[-tail:] for t in texts)

    def ks(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``keyserver ARGS --server URL`` (remote mode) with KEYSERVER_TOKEN=token."""
        env = clean_env(KEYSERVER_TOKEN=token or self.admin_token)
        # Options before "--": container ids are base64url and may start with "-".
        argv = list(args)
        at = argv.index("--") if "--" in argv else len(argv)
        argv[at:at] = ["--server", self.url]
        return run([KEYSERVER, *argv], env)

    def ks_local(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """Run ``keyserver ARGS --data-dir DIR`` (local mode, e.g. ``sweep``)."""
        return run(
            [KEYSERVER, *args, "--data-dir", os.fspath(self.data_dir)],
            clean_env(**self.env_extra),
        )

    def add_principal(self, name: str, role: str, *groups: str) -> str:
        """Create a principal through the running server and return its token."""
        argv = ["principal", "add", name, "--role", role]
        for group in groups:
            argv += ["--group", group]
        proc = self.ks(*argv)
        expect(proc, 0)
        found = TOKEN_RE.findall(proc.stdout.decode())
        assert len(found) == 1, describe(proc)
        return str(found[0])


def init_server(base: Path, **env_extra: str) -> KeyServer:
    """A data directory as ``keyserver init`` makes it (``base/data``), and its stopped server.

    The first call in a process runs ``keyserver init`` and keeps a copy of what it made;
    later calls copy that (a ``keyserver init`` costs ~1.5 CPU-s: the process's start-up,
    the migrations, the keys); :func:`init_server_fresh` always runs it. copytree keeps
    the modes (master.key 0600, the directory 0700); each copy is a server of its own, with
    the same master key and admin token as the others. ``env_extra`` is the server's
    environment (``serve``, local commands): init runs without it, as what init makes does
    not depend on it (a setting from the environment is not kept: keyserver/_cli/host.py).
    """
    return _init_server(base, env_extra, fresh=False)


def init_server_fresh(base: Path, **env_extra: str) -> KeyServer:
    """:func:`init_server` with a ``keyserver init`` of its own (a test of init itself)."""
    return _init_server(base, env_extra, fresh=True)


def init_postgres_server(
    base: Path, database: str, *serve: str, **env_extra: str
) -> tuple[KeyServer, list[str]]:
    """``keyserver init`` on the PostgreSQL ``database`` (its master key in ``base``), and
    its stopped server started with the ``serve`` options (``--workers 2``).

    Returns the server and its location options (``--database-url``, ``--master-key-file``)
    for the local commands a test runs beside it. The database is the caller's
    (``postgres.fresh_database``), dropped when the caller is done.
    """
    from tests.support import postgres  # noqa: PLC0415 - only the PostgreSQL tests need it

    key = base / "master.key"
    location = ["--database-url", postgres.database_url(database), "--master-key-file", f"{key}"]
    proc = run([KEYSERVER, "init", *location], clean_env())
    expect(proc, 0)
    [admin] = TOKEN_RE.findall(proc.stdout.decode())
    logs = base / "logs"
    logs.mkdir()
    server = KeyServer(
        data_dir=base,
        log_dir=logs,
        admin_token=admin,
        location=[*location, *serve],
        env_extra=env_extra,
    )
    return server, location


def _init_server(base: Path, env_extra: dict[str, str], *, fresh: bool) -> KeyServer:
    data_dir = base / "data"
    log_dir = base / "logs"
    log_dir.mkdir(parents=True)
    if _first_init and not fresh:
        kept, token = _first_init[0]
        shutil.copytree(kept, data_dir)
    else:
        proc = run([KEYSERVER, "init", "--data-dir", data_dir], clean_env())
        expect(proc, 0)
        found = TOKEN_RE.findall(proc.stdout.decode())
        assert len(found) == 1, describe(proc)
        token = found[0]
        if not _first_init:
            keep = tempfile.TemporaryDirectory(prefix="rwc-e2e-init-")
            shutil.copytree(data_dir, Path(keep.name) / "data")
            _first_init.append((Path(keep.name) / "data", token))
            _kept_dirs.append(keep)  # removed when the process ends
    # spec §keys-at-rest: the master key file is created 0600.
    assert (data_dir / "master.key").stat().st_mode & 0o077 == 0
    return KeyServer(data_dir=data_dir, log_dir=log_dir, admin_token=token, env_extra=env_extra)


# This process's first `keyserver init` (a copy of its data directory, its admin token).
_first_init: list[tuple[Path, str]] = []
_kept_dirs: list[tempfile.TemporaryDirectory[str]] = []


@dataclass
class People:
    """The principals of the story and their tokens."""

    writer: str
    writer_token: str
    reader: str
    reader_token: str
    outsider: str  # a reader that is on no container's policy
    outsider_token: str
    official: str
    official_token: str
    auditor: str
    auditor_token: str


def add_principal_http(server: KeyServer, name: str, role: str) -> str:
    """Create a principal over HTTP and return its token (fast set-up, no process start)."""
    resp = requests.post(
        f"{server.url}/v1/principals",
        json={"name": name, "roles": [role], "organisation": None, "groups": []},
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


def make_people_http(server: KeyServer) -> People:
    """The story's principals, created over HTTP (for servers other than the shared one).

    ``make_people`` exercises ``keyserver principal add`` once per session; other servers
    only need the principals to exist, and each process start costs about a second.
    """
    names = {role: unique(role) + "@city.example" for role in ("w", "r", "o", "off", "aud")}
    roles = {"w": "writer", "r": "reader", "o": "reader", "off": "official", "aud": "auditor"}
    tokens = {key: add_principal_http(server, name, roles[key]) for key, name in names.items()}
    return People(
        writer=names["w"],
        writer_token=tokens["w"],
        reader=names["r"],
        reader_token=tokens["r"],
        outsider=names["o"],
        outsider_token=tokens["o"],
        official=names["off"],
        official_token=tokens["off"],
        auditor=names["aud"],
        auditor_token=tokens["aud"],
    )


def make_people(server: KeyServer) -> People:
    """Create a writer, two readers (one never on a policy), an official and an auditor.

    The writer with ``keyserver principal add`` (its token read from the command's output as
    a person would), the others over HTTP: one process start (~0.35 CPU-s) tests the command
    as well as five did.
    """
    names = {role: unique(role) + "@city.example" for role in ("w", "r", "o", "off", "aud")}
    return People(
        writer=names["w"],
        writer_token=server.add_principal(names["w"], "writer"),
        reader=names["r"],
        reader_token=add_principal_http(server, names["r"], "reader"),
        outsider=names["o"],
        outsider_token=add_principal_http(server, names["o"], "reader"),
        official=names["off"],
        official_token=add_principal_http(server, names["off"], "official"),
        auditor=names["aud"],
        auditor_token=add_principal_http(server, names["aud"], "auditor"),
    )


@dataclass
class Rwc:
    """Runs the installed ``rwc`` as a given principal.

    ``server`` is exported as RWC_SERVER whenever a token is given: rwc sends RWC_TOKEN only
    to a key server the user named (pycontainer/client/tokens.py, "Token scope").
    """

    work: Path
    server: str | None = None

    def __call__(
        self,
        *args: str | os.PathLike[str],
        token: str | None,
        password: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``rwc ARGS`` with RWC_TOKEN and (optionally) RWC_PASSWORD set."""
        extra = {"HOME": os.fspath(self.work / "home")}
        if token is not None:
            extra["RWC_TOKEN"] = token
            if self.server is not None:
                extra["RWC_SERVER"] = self.server
        if password is not None:
            extra["RWC_PASSWORD"] = password
        return run([RWC, *args], clean_env(**extra), timeout=timeout, stdin=stdin)

    def seal(
        self,
        server: KeyServer,
        token: str,
        inputs: Sequence[Path],
        out: Path,
        *,
        password: str | None = "correct horse battery staple",
        medium: str | None = None,
        readers: Sequence[str] = (),
        extra: Sequence[str] = (),
        url: str | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """``rwc seal`` with a password file (0600) and small Argon2 parameters if offered."""
        argv: list[str | os.PathLike[str]] = ["seal", "--json", *inputs, "-o", out]
        argv += ["--server", url or server.url, "--label", unique("label")]
        if medium is not None:
            argv += ["--medium", medium]
        for reader in readers:
            argv += ["--reader", reader]
        if password is None:
            argv.append("--no-password")
        else:
            pw_file = self.work / unique("password")
            fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(password + "\n")
            argv += ["--password-file", pw_file]
        argv += argon2_flags(self)
        argv += list(extra)
        return self(*argv, token=token)


def argon2_flags(rwc: Rwc) -> list[str]:
    """Seal flags for the small test Argon2 parameters (``rwc seal --kdf-*``)."""
    m, t, p = SMALL_ARGON2
    return ["--kdf-memory", m, "--kdf-time", t, "--kdf-parallelism", p]


@dataclass
class Story:
    """What a test needs: a live server, its people, and a runner for rwc."""

    server: KeyServer
    people: People
    rwc: Rwc
    work: Path
    ids: dict[Path, str] = field(default_factory=dict)

    def sample_tree(self, name: str = "export") -> Path:
        """A small directory to seal: a CSV with Japanese text, a nested file, a binary file."""
        root = self.work / unique(name)
        (root / "notes").mkdir(parents=True)
        (root / "register.csv").write_text(
            "resident_code,name_kanji,name_kana\n282020000001,田中　花子,タナカ　ハナコ\n",
            encoding="utf-8",
        )
        (root / "notes" / "readme.txt").write_text("handle with care\n", encoding="utf-8")
        (root / "blob.bin").write_bytes(bytes(range(256)) * 300)
        return root

    def seal_as_writer(
        self, inputs: Sequence[Path], out: Path, **options: Any
    ) -> subprocess.CompletedProcess[bytes]:
        """:meth:`Rwc.seal` as the story's writer, for its reader (``options``: the rest)."""
        return self.rwc.seal(
            self.server,
            self.people.writer_token,
            inputs,
            out,
            readers=[self.people.reader],
            **options,
        )

    def seal_for_reader(
        self, medium: str | None = None, extra: Sequence[str] = ()
    ) -> tuple[Path, Path, str]:
        """Seal a sample tree for the story's reader; return (source dir, container, medium)."""
        medium = medium or unique("USB")
        src = self.sample_tree()
        out = self.work / f"{unique('c')}.rwc"
        proc = self.seal_as_writer([src], out, medium=medium, extra=extra)
        expect(proc, 0)
        assert out.is_file()
        result = parse_json(proc)
        assert isinstance(result, dict), describe(proc)
        self.ids[out] = str(result["container_id"])
        return src, out, medium

    def open_as_reader(
        self, container: Path, dest: Path, *paths: str, password: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """``rwc open CONTAINER -C DEST [PATH...]`` as the story's reader."""
        return self.rwc(
            "open",
            container,
            *paths,
            "-C",
            dest,
            token=self.people.reader_token,
            password="correct horse battery staple" if password is None else password,
        )

    def container_id(self, container: Path) -> str:
        """The container id (base64url): from ``rwc seal --json``, else ``rwc info --json``."""
        if container in self.ids:
            return self.ids[container]
        proc = self.rwc("info", container, "--json", token=None)
        expect(proc, 0)
        doc = parse_json(proc)
        assert isinstance(doc, dict), describe(proc)
        found = _find_container_id(doc)
        assert found is not None, describe(proc)
        return found

    def status(self, container_id: str) -> dict[str, Any]:
        """The container's status as the official sees it (HTTP GET; fast, for checks)."""
        resp = requests.get(
            f"{self.server.url}/v1/containers/{container_id}",
            headers={"Authorization": f"Bearer {self.people.official_token}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert isinstance(doc, dict)
        return doc

    def status_cli(self, container_id: str) -> dict[str, object]:
        """``keyserver status --json -- ID`` as the official."""
        proc = self.server.ks(
            "status", "--json", "--", container_id, token=self.people.official_token
        )
        expect(proc, 0)
        doc = parse_json(proc)
        assert isinstance(doc, dict), describe(proc)
        return doc


def _find_container_id(doc: dict[str, object]) -> str | None:
    """The container id in ``rwc info --json``: top level or in the first slot."""
    value = doc.get("container_id")
    if isinstance(value, str):
        return value
    slots = doc.get("slots")
    if isinstance(slots, list):
        for slot in slots:
            if isinstance(slot, dict) and isinstance(slot.get("container_id"), str):
                return str(slot["container_id"])
    return None


def leftovers(parent: Path, keep: set[str]) -> list[str]:
    """Names in parent other than keep (temporary files or directories an open left behind)."""
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


def rmtree(path: Path) -> None:
    """Remove a directory tree if it exists."""
    shutil.rmtree(path, ignore_errors=True)
