"""Several `keyserver serve` instances on one PostgreSQL database (README: deployment).

Two instances share the database and the master key file. A container sealed through one
instance opens through the other; once an official's destroy has returned on the second
instance, the first one refuses too (spec/protocol.md §consistency).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    with postgres.fresh_database("ks_e2e") as name:
        yield postgres.database_url(name)


def test_two_instances_one_database(database_url: str, tmp_path: Path, h: ModuleType) -> None:
    key_file = tmp_path / "secrets" / "master.key"
    key_file.parent.mkdir(mode=0o700)
    location = ["--database-url", database_url, "--master-key-file", os.fspath(key_file)]
    proc = h.run([h.KEYSERVER, "init", *location], h.clean_env())
    h.expect(proc, 0)
    [admin] = h.TOKEN_RE.findall(proc.stdout.decode())
    assert key_file.stat().st_mode & 0o077 == 0

    instances = []
    try:
        for i in range(2):
            logs = tmp_path / f"logs{i}"
            logs.mkdir()
            server = h.KeyServer(
                data_dir=tmp_path, log_dir=logs, admin_token=admin, location=location
            )
            server.start()
            instances.append(server)
        first, second = instances
        work = tmp_path / "work"
        (work / "home").mkdir(parents=True)
        story: Any = h.Story(
            server=first,
            people=h.make_people_http(first),
            rwc=h.Rwc(work=work, server=first.url),
            work=work,
        )
        src, container, _ = story.seal_for_reader()
        expected = {f"{src.name}/{k}": v for k, v in h.tree(src).items()}
        cid = story.container_id(container)

        # The header names the first instance; the reader reaches the second one instead.
        dest = work / "via-second"
        proc = story.rwc(
            "open",
            container,
            "--server",
            second.url,
            "-C",
            dest,
            token=story.people.reader_token,
            password="correct horse battery staple",
        )
        h.expect(proc, h.EXIT_OK)
        assert h.tree(dest) == expected

        # Destroyed through the second instance: the first one refuses from then on.
        proc = second.ks(
            "destroy", "--reason", "lost", "--yes", "--", cid, token=story.people.official_token
        )
        h.expect(proc, 0)
        dest = work / "via-first"
        proc = story.open_as_reader(container, dest)
        h.expect(proc, h.EXIT_REVOKED)
        assert h.tree(dest) == {}

        # One audit chain for both instances, and it verifies.
        proc = first.ks("audit", "verify", "--json", token=story.people.auditor_token)
        h.expect(proc, 0)
        assert h.parse_json(proc)["ok"] is True
    finally:
        for server in instances:
            server.stop()
