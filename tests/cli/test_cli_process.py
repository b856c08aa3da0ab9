"""The installed `rwc` command as a separate process (entry point, exit codes, streams)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.rwc_args import KDF, seal_args

RWC = Path(sys.executable).parent / "rwc"

pytestmark = pytest.mark.skipif(not RWC.exists(), reason="rwc is not installed in this venv")


def proc(
    server: Any, tmp_path: Path, *argv: str, who: str | None = "writer", stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "RWC_PASSWORD": "correct horse",
    }
    if who:
        env["RWC_TOKEN"] = server.tokens[who]
        env["RWC_SERVER"] = server.url  # RWC_TOKEN goes only to a named server
    return subprocess.run(
        [str(RWC), *argv], input=stdin, env=env, capture_output=True, timeout=120, check=False
    )


def test_installed_rwc_seal_cat_revoke(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    out = tmp_path / "export.rwc"
    s = proc(
        server,
        tmp_path,
        "--json",
        *seal_args(src, out, server.url, medium="USB-P"),
    )
    assert s.returncode == 0, s.stderr
    cid = json.loads(s.stdout)["container_id"]

    c = proc(server, tmp_path, "cat", str(out), "register.csv", who="reader")
    assert c.returncode == 0, c.stderr
    assert c.stdout == b"id,name\n1,Tanaka\n"
    assert c.stderr == b""  # not a terminal: no progress bar, no chatter

    server.official(
        f"/v1/containers/{cid}/destroy", {"reason": "lost", "public_reason": "stick lost"}
    )
    r = proc(server, tmp_path, "open", str(out), "-C", str(tmp_path / "x"), who="reader")
    assert r.returncode == 3
    err = r.stderr.decode()
    assert err.startswith("rwc: error: this container was revoked")
    assert "stick lost" in err and server.contact in err
    assert not (tmp_path / "x").exists()


def test_installed_rwc_open_expired_container(server: Any, tmp_path: Path) -> None:
    """An expired container: exit 9 from the installed command, nothing written.

    The server's clock is moved past ``not_after`` (its injectable clock), not waited for;
    this test moved here from tests/e2e, whose ``keyserver serve`` process keeps real time.
    """
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    out = tmp_path / "export.rwc"
    sealed = proc(
        server,
        tmp_path,
        "seal",
        str(src),
        "-o",
        str(out),
        "--server",
        server.url,
        "--medium",
        "USB-E",
        "--reader",
        "clerk@city.example",
        "--expires",
        "1h",
        *KDF,
    )
    assert sealed.returncode == 0, sealed.stderr
    server.clock.advance(hours=1, seconds=1)
    dest = tmp_path / "dest"
    r = proc(server, tmp_path, "open", str(out), "-C", str(dest), who="reader")
    assert r.returncode == 9, r.stderr
    assert r.stderr.startswith(b"rwc: error: ")
    assert b"expired" in r.stderr
    assert b"Traceback" not in r.stderr
    assert not dest.exists()


def test_installed_rwc_usage_and_unreachable(server: Any, tmp_path: Path, closed_port: int) -> None:
    u = proc(server, tmp_path, "seal")
    assert u.returncode == 2
    assert u.stderr.startswith(b"rwc: error: ")
    j = proc(server, tmp_path, "--json", "open")
    assert j.returncode == 2
    assert json.loads(j.stderr)["error"]["kind"] == "usage"

    src = tmp_path / "f.txt"
    src.write_text("x")
    n = proc(
        server,
        tmp_path,
        *seal_args(src, tmp_path / "f.rwc", f"http://127.0.0.1:{closed_port}", reader="r"),
    )
    assert n.returncode == 7
    assert b"Traceback" not in n.stderr
    assert not (tmp_path / "f.rwc").exists()
    v = proc(
        server,
        tmp_path,
        "--verbose",
        *seal_args(src, tmp_path / "f.rwc", f"http://127.0.0.1:{closed_port}", reader="r"),
    )
    assert v.returncode == 7
    assert b"Traceback" in v.stderr  # only with --verbose
    assert server.tokens["writer"].encode() not in v.stderr  # the token never appears


def test_installed_rwc_help(server: Any, tmp_path: Path) -> None:
    h = proc(server, tmp_path, "--help", who=None)
    assert h.returncode == 0
    assert b"exit codes:" in h.stdout and b"10  the output exists" in h.stdout


def test_cat_into_a_closed_pipe_ends_quietly(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    # More than the 1 MiB pipe buffer rwc cat asks for, so the reader's exit is noticed.
    src.write_bytes(os.urandom(4 << 20))
    out = tmp_path / "big.rwc"
    s = proc(
        server,
        tmp_path,
        *seal_args(src, out, server.url),
    )
    assert s.returncode == 0, s.stderr
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "RWC_TOKEN": server.tokens["reader"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": "correct horse",
    }
    cat = subprocess.Popen(
        [str(RWC), "cat", str(out), "big.bin"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cat.stdout is not None and cat.stderr is not None
    head = cat.stdout.read(10)
    cat.stdout.close()  # the consumer goes away, like `| head -c 10`
    err = cat.stderr.read()
    rc = cat.wait(60)
    assert head == src.read_bytes()[:10]
    assert rc == 0  # the consumer has what it wanted: quiet, status 0 (issue 9)
    assert b"Traceback" not in err and b"BrokenPipe" not in err
