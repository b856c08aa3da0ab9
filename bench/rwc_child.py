"""One rwc seal or open, run in its own process so the parent can read its peak RSS.

Timing covers only the library call (``seal_paths`` / ``open_container`` + reading the
entry to /dev/null), not the interpreter start-up or imports. The key server is an
``InProcessKeyServer`` rebuilt from the same seed in every process: the key release is one
VOPRF evaluation per operation (~1 ms), not the bottleneck, so it is kept in-process.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import time
import typing
from pathlib import Path
from typing import Any

from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import InProcessKeyServer
from pycontainer.reader import open_container
from pycontainer.writer import seal_paths

PASSWORD = "correct horse battery staple"


def _argon2(text: str) -> Any:
    m, t, p = (int(x) for x in text.split(","))
    return Argon2Params(m=m, t=t, p=p)


def _server(seed_hex: str, cid_hex: str) -> tuple[Any, Any]:
    server = InProcessKeyServer()
    slot = server.register(seed=bytes.fromhex(seed_hex), container_id=bytes.fromhex(cid_hex))
    return server, slot


def _has_keyword(fn: Any, name: str) -> bool:
    """True if ``fn`` takes ``name=``: a parameter, or a key of its ``**kw: Unpack[TD]``."""
    params = inspect.signature(fn).parameters
    if name in params:
        return True
    hints = typing.get_type_hints(fn)
    for param in params.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            for td in typing.get_args(hints.get(param.name)):
                if name in getattr(td, "__required_keys__", ()) or name in getattr(
                    td, "__optional_keys__", ()
                ):
                    return True
    return False


def _with_workers(fn: Any, kwargs: dict[str, Any], workers: int | None) -> dict[str, Any]:
    """Pass workers= only when asked and only if the API has it (default path otherwise)."""
    if workers is not None:
        if not _has_keyword(fn, "workers"):
            raise SystemExit(f"{fn.__name__} has no 'workers' parameter")
        kwargs["workers"] = workers
    return kwargs


def seal(args: argparse.Namespace) -> dict[str, Any]:
    server, slot = _server(args.seed, args.cid)
    kwargs = _with_workers(
        seal_paths,
        {
            "slot": slot,
            "key_server": server,
            "password": PASSWORD,
            "argon2": _argon2(args.argon2),
            "force": True,
        },
        args.workers,
    )
    if args.chunk_log2 is not None:
        kwargs["chunk_log2"] = args.chunk_log2
    start = time.perf_counter()
    seal_paths([Path(args.input)], Path(args.output), **kwargs)
    return {"seconds": time.perf_counter() - start}


def open_(args: argparse.Namespace) -> dict[str, Any]:
    server, _ = _server(args.seed, args.cid)
    kwargs = _with_workers(
        open_container, {"key_server": server, "password": PASSWORD}, args.workers
    )
    start = time.perf_counter()
    with open_container(Path(args.input), **kwargs) as container:
        opened = time.perf_counter()
        if args.mode == "verify":
            # Decrypt and authenticate every chunk, keep nothing: like `age -d -o /dev/null`.
            container.verify()
        elif args.mode == "extract":
            container.extract(Path(args.output))
        else:
            # The streaming reader (seekable file object) copied to /dev/null.
            for entry in container.entries():
                if not entry.is_file:
                    continue
                with container.open_entry(entry.path) as src, Path(os.devnull).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    end = time.perf_counter()
    return {"seconds": end - start, "key_release_kdf_seconds": opened - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("op", choices=["seal", "open"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", default="")
    parser.add_argument("--seed", required=True)
    parser.add_argument("--cid", required=True)
    parser.add_argument("--chunk-log2", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--mode", choices=["verify", "extract", "read"], default="verify")
    parser.add_argument("--argon2", default="8192,1,1")
    args = parser.parse_args()
    result = seal(args) if args.op == "seal" else open_(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
