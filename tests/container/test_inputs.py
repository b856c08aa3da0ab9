"""Sealing input refusal and atomic output: bad input gets a clear error and leaves
nothing behind."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pycontainer.errors import InputError, KeyServerUnavailableError, OutputExistsError
from pycontainer.keyrelease import Evaluation, SlotInfo
from pycontainer.reader import read_header

if TYPE_CHECKING:
    from tests.support.container import Kit

C = 1 << 12


def _assert_clean(kit: Kit, directory: Path, *expected: str) -> None:
    assert kit.leftovers(directory) == []
    for name in expected:
        assert not (directory / name).exists()


def test_symlink_refused(kit: Kit, tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to("real")
    with pytest.raises(InputError, match="link is a symbolic link") as info:
        kit.seal([tmp_path / "link"], tmp_path / "c.rwc")
    assert info.value.hint
    _assert_clean(kit, tmp_path, "c.rwc")


def test_symlink_inside_directory_refused(kit: Kit, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "ok").write_bytes(b"x")
    (d / "sneaky").symlink_to("/etc/passwd")
    calls = kit.ks.calls
    with pytest.raises(InputError, match="sneaky"):
        kit.seal([d], tmp_path / "c.rwc")
    assert kit.ks.calls == calls  # input checks happen before the key server is asked
    _assert_clean(kit, tmp_path, "c.rwc")


def test_fifo_refused(kit: Kit, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="FIFO"):
        kit.seal([tmp_path / "pipe"], tmp_path / "c.rwc")
    _assert_clean(kit, tmp_path, "c.rwc")


def test_device_refused(kit: Kit, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="/dev/null is a device"):
        kit.seal(["/dev/null"], tmp_path / "c.rwc")
    _assert_clean(kit, tmp_path, "c.rwc")


def test_socket_refused(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(InputError, match="socket"):
            kit.seal([path], tmp_path / "c.rwc")
    _assert_clean(kit, tmp_path, "c.rwc")


def test_missing_input(kit: Kit, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        kit.seal([tmp_path / "nope"], tmp_path / "c.rwc")
    with pytest.raises(InputError, match="nothing to seal"):
        kit.seal([], tmp_path / "c.rwc")


def test_two_inputs_with_the_same_name(kit: Kit, tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.txt").write_bytes(b"x")
    with pytest.raises(InputError, match=r"same\.txt"):
        kit.seal([tmp_path / "a" / "same.txt", tmp_path / "b" / "same.txt"], tmp_path / "c.rwc")


def test_unstorable_name(kit: Kit, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "back\\slash").write_bytes(b"x")
    with pytest.raises(InputError, match="backslash"):
        kit.seal([d], tmp_path / "c.rwc")
    os.remove(d / "back\\slash")
    (d / "Name").write_bytes(b"x")
    (d / "name").write_bytes(b"y")
    with pytest.raises(InputError, match="collides"):
        kit.seal([d], tmp_path / "c.rwc")


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_file_changing_size_while_sealing(kit: Kit, tmp_path: Path, change: str) -> None:
    f = tmp_path / "growing.log"
    f.write_bytes(os.urandom(8 * C))
    out = tmp_path / "c.rwc"

    def meddle(done: int, total: int) -> None:
        if done == C:  # after the first chunk was sealed
            if change == "grow":
                with f.open("ab") as fh:
                    fh.write(b"more")
            else:
                os.truncate(f, 2 * C)

    with pytest.raises(InputError, match="changed while it was being sealed"):
        kit.seal([f], out, progress=meddle, workers=1)
    _assert_clean(kit, tmp_path, "c.rwc")


def test_key_server_failure_leaves_nothing(kit: Kit, tmp_path: Path) -> None:
    class Down:
        def evaluate(self, slot: SlotInfo, blinded: bytes) -> Evaluation:
            raise KeyServerUnavailableError("the key server cannot be reached")

    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(KeyServerUnavailableError):
        kit.seal([f], tmp_path / "c.rwc", key_server=Down())
    _assert_clean(kit, tmp_path, "c.rwc")


def test_failure_mid_payload_removes_temp_file(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(os.urandom(6 * C))
    out = tmp_path / "c.rwc"

    def interrupt(done: int, total: int) -> None:
        assert kit.leftovers(tmp_path), "the temp file should exist while sealing"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kit.seal([f], out, progress=interrupt)
    _assert_clean(kit, tmp_path, "c.rwc")


def test_destination_is_a_directory_or_missing_parent(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="is a directory"):
        kit.seal([f], tmp_path, force=True)
    with pytest.raises(InputError, match="does not exist"):
        kit.seal([f], tmp_path / "no" / "c.rwc")


def test_existing_symlink_destination_not_followed_without_force(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    (tmp_path / "c.rwc").symlink_to(target)
    with pytest.raises(OutputExistsError):
        kit.seal([f], tmp_path / "c.rwc")
    kit.seal([f], tmp_path / "c.rwc", force=True)  # replaces the link, not its target
    assert target.read_bytes() == b"keep"
    assert not (tmp_path / "c.rwc").is_symlink()


def test_reader_refuses_fifo_and_directory_without_hanging(kit: Kit, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.rwc")
    with pytest.raises(InputError, match="not a regular file"):
        read_header(tmp_path / "pipe.rwc")
    with pytest.raises(InputError, match="not a regular file"):
        kit.open(tmp_path / "pipe.rwc")
    with pytest.raises(InputError):
        kit.open(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        kit.open(tmp_path / "missing.rwc")


def test_file_rewritten_in_place_while_sealing(kit: Kit, tmp_path: Path) -> None:
    f = tmp_path / "db.sqlite"
    f.write_bytes(os.urandom(8 * C))
    os.utime(f, ns=(0, 1_000_000_000))

    def rewrite(done: int, total: int) -> None:
        if done == C:
            with f.open("r+b") as fh:
                fh.write(b"X" * 10)  # same size, new content, new mtime

    with pytest.raises(InputError, match="changed while it was being sealed"):
        kit.seal([f], tmp_path / "c.rwc", progress=rewrite, workers=1)
    _assert_clean(kit, tmp_path, "c.rwc")
