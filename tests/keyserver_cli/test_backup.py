"""spec §backup: a restored backup never brings a destroyed key back.

Take a backup (while a server serves), destroy containers after it (one by id, a medium's
by a loss report), export the audit log, restore the OLD backup: the server refuses to
serve (``/readyz``, evaluations) until ``restore-backup --replay`` re-applied the export;
after that the destroyed containers are destroyed, the others serve, and the audit chain
verifies as one history. SQLite through the online backup API; PostgreSQL through
pg_dump/pg_restore.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyserver._domain.errors import DestroyedError, RestorePendingError
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store import published_head
from keyserver.testing import running_server
from tests.support import http_client
from tests.support.keyserver_cli import DataDir, container_status


def _token(cli: Any, where: list[str], name: str, role: str) -> str:
    result = cli("principal", "add", name, "--role", role, "--json", *where)
    assert result.code == 0, result
    return str(result.json()["token"])


def _scenario(cli: Any, h: ModuleType, settings: Settings, where: list[str], tmp: Path) -> None:
    writer, reader = _token(cli, where, "writer", "writer"), _token(cli, where, "reader", "reader")
    keep = h.make_container(settings, writer, medium="USB-KEEP")
    solo = h.make_container(settings, writer, medium="USB-SOLO")
    lost = [h.make_container(settings, writer, medium="USB-LOST") for _ in range(2)]
    h.reader_evaluates(settings, reader, keep)

    backup = tmp / "keyserver.backup"
    with running_server(settings):  # online: the server is up while the backup runs
        result = cli("backup", backup, *where)
    assert result.code == 0, result
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    # After the backup: destroys by id and by a loss report, and one more release.
    assert cli("destroy", solo, "--reason", "ended", "--yes", *where).code == 0
    result = cli(
        "report-loss", "--medium", "USB-LOST", "--now", "--reason", "lost", "--yes", *where
    )
    assert result.code == 0, result
    early = tmp / "audit-early.jsonl"
    assert cli("audit", "export", "-o", early, *where).code == 0
    h.reader_evaluates(settings, reader, keep)
    # The newest checkpoint the operators kept (a witness's copy), then the newest export.
    signed = cli("checkpoint", *where, "--json")
    assert signed.code == 0, signed
    checkpoint = tmp / "checkpoint.txt"
    checkpoint.write_text(signed.json()["checkpoint"])
    export = tmp / "audit.jsonl"
    assert cli("audit", "export", "-o", export, *where).code == 0

    # The old backup back in place: held, not serving.
    result = cli("restore-backup", backup, "--force", *where)
    assert result.code == 0, result
    assert container_status(settings, solo)["state"] == "active"  # the backup's seed is back...
    with pytest.raises(RestorePendingError):  # ...but nothing is released from it
        h.reader_evaluates(settings, reader, solo)
    with running_server(settings) as url:
        ready = http_client.get(url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["type"] == "urn:rwc:problem:restore-pending"
    result = cli("restore-backup", *where, "--json")
    assert result.code == 0 and result.json()["restore_pending"] is True

    # An export edited to hide the loss report does not verify: nothing is replayed.
    edited = tmp / "edited.jsonl"
    edited.write_text(export.read_text().replace('"reason":"lost"', '"reason":"lust"'))
    result = cli("restore-backup", "--replay", edited, *where)
    assert result.code == 6 and "does not verify under this master key" in result.err, result
    assert cli("restore-backup", *where, "--json").json()["restore_pending"] is True

    # An export older than the kept checkpoint misses something: refused as a whole.
    result = cli("restore-backup", "--replay", early, "--checkpoint", checkpoint, *where)
    assert result.code == 6 and "checkpoint shows" in result.err, result
    # The operator reads the same refusal in Japanese (the catalogue, KEYSERVER_LANG).
    ja = cli(
        "restore-backup", "--replay", early, "--checkpoint", checkpoint, *where,
        env=h.clean_env(KEYSERVER_LANG="ja"),
    )  # fmt: skip
    assert ja.code == 6 and "それ以降の変更が欠けています" in ja.err, ja
    assert "checkpoint shows" not in ja.err and "nothing was replayed" not in ja.err, ja
    assert container_status(settings, solo)["state"] == "active"

    # The replay: the destroys come back, the chain continues as it was.
    result = cli("restore-backup", "--replay", export, "--checkpoint", checkpoint, *where, "--json")
    assert result.code == 0, result
    summary = result.json()
    assert summary["destroyed"] == 3, summary
    for cid in (solo, *lost):
        assert container_status(settings, cid)["state"] == "destroyed", cid
    with pytest.raises(DestroyedError, match="destroyed"):
        h.reader_evaluates(settings, reader, solo)
    h.reader_evaluates(settings, reader, keep)
    assert container_status(settings, keep)["unconfirmed"] == 3  # the release after the backup too
    verify = cli("audit", "verify", "--json", *where)
    assert verify.code == 0 and verify.json()["ok"] is True, verify


def test_sqlite_restore_keeps_destroyed_containers_destroyed(
    cli: Any, h: ModuleType, data_dir: DataDir, tmp_path: Path
) -> None:
    _scenario(cli, h, data_dir.settings(), ["--data-dir", str(data_dir.path)], tmp_path)


@pytest.mark.postgres
def test_postgresql_restore_keeps_destroyed_containers_destroyed(
    cli: Any, h: ModuleType, pg_url: str, tmp_path: Path
) -> None:
    key, log_key = tmp_path / "secrets" / "master.key", tmp_path / "secrets" / "log.key"
    where = ["--database-url", pg_url, "--master-key-file", str(key)]
    where += ["--log-key-file", str(log_key)]
    assert cli("init", *where).code == 0
    assert cli("log-key", "--create", *where).code == 0
    settings = Settings.load(
        overrides={
            "database_url": pg_url,
            "master_key_file": key,
            "log_key_file": log_key,
            "sweep_interval": 0,
        },
        env={},
    )
    _scenario(cli, h, settings, where, tmp_path)


def test_a_database_copied_back_by_hand_does_not_serve(
    cli: Any, h: ModuleType, data_dir: DataDir, people: Any, tmp_path: Path
) -> None:
    """spec §backup: an older copy of the file put back (no restore marker) is refused.

    Before, it served: a container destroyed after the copy was taken had its seed back.
    The refusal comes from what the server published (its newest checkpoint, kept beside
    the log key), which the copy cannot take back.
    """
    where = ["--data-dir", str(data_dir.path)]
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer)
    db = data_dir.path / "keyserver.db"
    old = tmp_path / "keyserver.db.copy"
    old.write_bytes(db.read_bytes())  # the hand copy (the service is closed: no WAL)
    destroyed = cli("destroy", cid, "--yes", "--reason", "lost", *where)
    assert destroyed.code == 0, destroyed
    signed = cli("checkpoint", *where, "--json")
    assert signed.code == 0, signed
    published = data_dir.path / "log.key.published"
    assert published.stat().st_mode & 0o777 == 0o600
    assert published.read_text() == signed.json()["checkpoint"]

    # The current database serves (the start-up check passes)...
    service = KeyService(settings)
    try:
        assert service.transparency.published_gap() is None
    finally:
        service.close()
    # ...the older copy, put back by hand, does not.
    for side in ("keyserver.db-wal", "keyserver.db-shm"):
        (data_dir.path / side).unlink(missing_ok=True)
    db.write_bytes(old.read_bytes())
    assert container_status(settings, cid)["state"] == "active"  # the destroyed seed is back in it
    refused = cli("serve", *where, "--port", "0")
    assert refused.code == 3, refused
    assert "older than what this key server already published" in refused.err
    assert "keyserver restore-backup" in refused.err
    assert "Traceback" not in refused.err
    ja = cli("serve", *where, "--port", "0", env=h.clean_env(KEYSERVER_LANG="ja"))
    assert ja.code == 3 and "公開" in ja.err, ja
    # The app refuses as well (workers and embedders build it without `serve`).
    with pytest.raises(RuntimeError, match="did not start"), running_server(settings):
        pass


def test_the_published_checkpoint_is_written_by_the_one_atomic_publish(
    data_dir: DataDir, tmp_path: Path
) -> None:
    """Not through a name planted beside it (issue 9: the module's own publish opened
    ``.NAME.PID.tmp`` with O_TRUNC, following a link there), 0600, nothing left over."""
    published = data_dir.path / "log.key.published"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (data_dir.path / f".{published.name}.{os.getpid()}.tmp").symlink_to(victim)
    before = set(data_dir.path.iterdir())
    assert published_head.advance(published, 1, "a note\n", lambda _text: 0)
    assert published.read_text() == "a note\n" and not published.is_symlink()
    assert victim.read_text() == "keep"
    assert stat.S_IMODE(published.stat().st_mode) == 0o600
    lock = published.with_name(published.name + ".lock")  # the writers' flock, kept
    assert set(data_dir.path.iterdir()) - before <= {published, lock}  # no temporary file


def test_the_published_checkpoint_only_moves_forward_and_must_verify(
    cli: Any, data_dir: DataDir, tmp_path: Path
) -> None:
    """The record beside the log key: never replaced by a smaller tree; a forged one refuses."""
    where = ["--data-dir", str(data_dir.path)]
    first = cli("checkpoint", *where, "--json")
    assert first.code == 0, first
    published = data_dir.path / "log.key.published"
    kept = published.read_text()
    assert cli("principal", "add", "later", "--role", "reader", *where).code == 0
    second = cli("checkpoint", *where, "--json")
    assert second.code == 0, second
    newer = published.read_text()
    assert newer == second.json()["checkpoint"] != kept
    # An older note offered again (a second instance behind) does not replace it.
    service = KeyService(data_dir.settings())
    try:
        size_of = service.transparency._head  # a stored note's checkpoint
        older = size_of(kept).size
        assert older < size_of(newer).size
        assert not published_head.advance(published, older, kept, lambda t: size_of(t).size)
        assert published.read_text() == newer
    finally:
        service.close()
    # A note not signed by this log's key tells nothing: the server does not start.
    published.write_text(newer.replace("\n\n", "\nforged\n\n", 1))
    refused = cli("serve", *where, "--port", "0")
    assert refused.code == 3 and "does not verify under this server's log key" in refused.err
