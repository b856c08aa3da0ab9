"""Setting up a key server as the README says: init once, refuse unsafe or repeated set-up."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType


def test_init_twice_and_unsafe_master_key(tmp_path: Path, h: ModuleType) -> None:
    server = h.init_server_fresh(tmp_path)  # the test of init: its own run
    key = server.data_dir / "master.key"
    before = key.read_bytes()

    # A second init must not replace the master key (that would orphan every container).
    proc = h.run([h.KEYSERVER, "init", "--data-dir", server.data_dir], h.clean_env())
    h.expect(proc, 3)
    h.no_traceback(proc)
    assert key.read_bytes() == before

    # A master key readable by others is refused before the server starts.
    key.chmod(0o644)
    proc = h.run(
        [
            h.KEYSERVER,
            "serve",
            "--data-dir",
            os.fspath(server.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(h.free_port()),
        ],
        h.clean_env(),
        timeout=60,
    )
    h.expect(proc, 3)
    h.no_traceback(proc)
    assert b"master key" in proc.stderr
