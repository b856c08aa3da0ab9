"""Run Tang (Debian ``tang``) standalone on loopback as the key-release reference.

tangd is an inetd-style program (stdin/stdout = the connection, normally started by the
systemd socket ``tangd.socket`` with ``Accept=yes``). Standalone we use ``socat
TCP-LISTEN,fork ... EXEC:tangd,nofork``: one tangd per connection with the socket itself as
its stdio, exactly like systemd's Accept=yes, plus TCP_NODELAY (without it Tang's split
header/body writes hit Nagle + delayed ACK and every request takes ~40 ms; systemd's
default ``NoDelay=false`` has that problem, so this is Tang at its best).
The request is a McCallum-Relyea recovery: POST /rec/<kid of the ECMR key> with a fresh
P-521 public point as a JWK, which is what ``clevis decrypt`` sends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from tools import require


@dataclass(frozen=True)
class TangTarget:
    """A running Tang and a valid recovery request for it."""

    url: str
    body: str
    headers: dict[str, str]
    pgid: int  # process group of socat and every tangd it forks (procs.group_cpu_seconds)


def free_port() -> int:
    """An ephemeral loopback port (tiny race with other programs; fine for a bench)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(66, "big")).rstrip(b"=").decode()


def recovery_jwk() -> str:
    """A client ephemeral P-521 point as JWK, the body of a Tang recovery request."""
    pub = ec.generate_private_key(ec.SECP521R1()).public_key().public_numbers()
    return json.dumps(
        {
            "alg": "ECMR",
            "crv": "P-521",
            "kty": "EC",
            "key_ops": ["deriveKey"],
            "x": _b64(pub.x),
            "y": _b64(pub.y),
        }
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we started in its own session (its process group = its pid)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def running_tang() -> Iterator[TangTarget]:
    """Generate Tang keys in a temp dir, serve them on loopback, yield the target."""
    tangd = require("tangd", "tang")
    keygen = require("tangd-keygen", "tang")
    socat = require("socat", "socat")
    require("jose", "jose")
    with tempfile.TemporaryDirectory(prefix="rwc-bench-tang-") as tmp:
        db = Path(tmp)
        subprocess.run([keygen, str(db)], check=True, capture_output=True)
        kid = next(f.stem for f in db.glob("*.jwk") if '"ECMR"' in f.read_text())
        port = free_port()
        proc = subprocess.Popen(
            [
                socat,
                f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=1024",
                f"EXEC:{tangd} {db},nofork",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            yield TangTarget(
                url=f"http://127.0.0.1:{port}/rec/{kid}",
                body=recovery_jwk(),
                headers={"Content-Type": "application/jwk+json"},
                pgid=proc.pid,
            )
        finally:
            stop(proc)
