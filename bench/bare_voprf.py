"""The issue's reference ceiling: a bare FastAPI endpoint doing one VOPRF evaluation.

No token, no policy, no database, no audit: it parses the same JSON body as
``POST /v1/containers/{id}/evaluate``, evaluates the blinded element with one fixed key
(RFC 9497 ristretto255-SHA512, the same ``voprf`` package and key derivation the key
server uses) and answers element and proof. Served by ``uvicorn --workers N`` like any
FastAPI app, it is what one VOPRF costs behind Python HTTP on this machine, so the key
server's figures can be read against it (bench/README.md).

Run by bench/keyserver_bench.py as ``uvicorn bare_voprf:app --app-dir bench``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel
from voprf import ristretto

app = FastAPI()
_SEED = os.urandom(32)  # one key per process: only the cost of the evaluation matters
_INFO = b"rwc/v1 container key"


class _Body(BaseModel):
    blinded_element: str


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@app.post("/v1/containers/{container_id}/evaluate")
def evaluate(container_id: str, body: _Body) -> dict[str, str]:
    """One DeriveKeyPair + BlindEvaluate with its proof, nothing else."""
    del container_id  # the same key for every container: there is no database here
    blinded = ristretto.BlindedInput.deserialize(_unb64(body.blinded_element))
    out = bytes(ristretto.Evaluator.from_seed(_SEED, _INFO).evaluate(blinded).serialize())
    return {"evaluated_element": _b64(out[64:]), "proof": _b64(out[:64])}


@contextlib.contextmanager
def running_bare(port: int, workers: int) -> Iterator[tuple[str, int]]:
    """``uvicorn bare_voprf:app --workers N`` on loopback; yields (base URL, process group)."""
    # Imported here: this module is also the app uvicorn imports, which needs neither.
    from tang import stop, wait_for_port  # noqa: PLC0415

    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bare_voprf:app",
        "--app-dir",
        str(Path(__file__).resolve().parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_port(port, timeout=30)
        time.sleep(1.0 if workers > 1 else 0.2)  # let every worker start accepting
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop(proc)
