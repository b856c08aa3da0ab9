"""`rwc seal` and `rwc open` killed at several points leave no plaintext and no half container.

Real ``rwc`` processes against a real key server, killed at a chosen point: while the
first file is being written, later in the run, and while a piped seal waits for more input.
An open stops itself (SIGSTOP) at its point (see ``RWC``); the test sees it stopped, and
its plaintext on disk through its descriptors in /proc, then kills it. Promises checked:

- SIGKILL: nothing visible holds plaintext or a partial container (O_TMPFILE: the data has
  no name); at most an empty hidden staging directory, which the next run removes.
- SIGTERM and SIGHUP: the run cleans up like Ctrl-C (exit 128+N) and leaves nothing.
- Without O_TMPFILE (the portable fallback, forced here), SIGKILL leaves a locked hidden
  staging entry; the next run in that directory removes it, and never one a live run holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.faults.conftest import random_export

if not Path("/proc/self/fd").is_dir():  # pragma: no cover - Linux is where these run
    pytest.skip("needs /proc to watch the process", allow_module_level=True)

MIB = 1 << 20
PASSWORD = "correct horse battery staple"
# `rwc` as its console script runs it, in a real process, with two test settings: argv[1]
# "named" disables O_TMPFILE (the portable named fallback); argv[2] = N > 0 makes the
# process stop itself (SIGSTOP, every thread) right after the first chunk of the Nth file
# it extracts is written. Why a stop inside: a test that only watched /proc for the Nth
# file and then killed could miss its point on a loaded machine, rwc writing past it, or
# finishing, between two looks or before the kill. Stopped, rwc is held exactly there
# until the test kills or signals it; nothing else in the run changes.
RWC = """
import os, pathlib, signal, sys, threading
import pycontainer._engine.extract as x
import pycontainer._engine.staging as s
from pycontainer.cli.entry import main
how, point = sys.argv[1], int(sys.argv[2])
if how == "named":
    s._PROC_FD = pathlib.Path("/nonexistent")
create, consume, made, nth = x._FileWriter._create, x._FileWriter.consume, [], []
def _create(self, j):
    made.append(j)  # under the open-files lock, once a file
    if len(made) == point:
        nth.append(threading.get_ident())
    return create(self, j)
def _consume(self, index, view):
    done = consume(self, index, view)
    if nth == [threading.get_ident()]:  # this thread has just written file N's first chunk
        nth.clear()
        os.kill(os.getpid(), signal.SIGSTOP)
    return done
x._FileWriter._create, x._FileWriter.consume = _create, _consume
sys.exit(main(sys.argv[3:]))
"""


def _popen(
    story: Any, h: ModuleType, argv: list[str], *, token: str, fallback: bool, pause_at: int = 0
) -> Any:
    """Start rwc; with ``pause_at`` = N, it stops itself at file N (see ``RWC``)."""
    env = h.clean_env(
        HOME=os.fspath(story.work / "home"),
        RWC_TOKEN=token,
        RWC_SERVER=story.server.url,
        RWC_PASSWORD=PASSWORD,
    )
    how = "named" if fallback else "o_tmpfile"
    return subprocess.Popen(
        [sys.executable, "-c", RWC, how, str(pause_at), *argv],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _open_in(pid: int, directory: Path) -> list[tuple[str, int]]:
    """(target, size) of the process's descriptors on files under ``directory``."""
    found = []
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return []
    for n in names:
        try:
            target = os.readlink(fd_dir / n)
            if not target.startswith(os.fspath(directory) + "/"):
                continue
            st = os.stat(fd_dir / n)  # follows to the inode, named or not
        except OSError:
            continue
        if not os.path.isdir(target):
            found.append((target, st.st_size))
    return found


def _wait_for(proc: Any, what: str, predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"rwc ended (rc={proc.returncode}) before {what}: {err.decode()[-800:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def _stopped(pid: int) -> bool:
    """True once the process is stopped (state T in /proc/PID/stat, after its command name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "T"


def _visible_files(root: Path, keep: set[Path]) -> list[str]:
    """Regular files under ``root`` other than ``keep`` (what a crash could have left)."""
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            path = Path(dirpath) / f
            if path not in keep and not any(k in path.parents for k in keep):
                found.append(os.fspath(path.relative_to(root)))
    return sorted(found)


def _hidden(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.endswith((".rwc-tmp", ".rwc-new")))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 8 MiB files of random data."""
    return random_export(tmp_path_factory, 8, 8 * MIB)


@pytest.fixture(scope="module")
def container(
    shared_server: Any, people: Any, big: Path, h: ModuleType, tmp_path_factory: Any
) -> Path:
    """``big`` sealed once for the module: its tests only open it, each in its own directory.

    Every open is a release, and a killed one is never confirmed: the budget of 1000 (the
    maximum) keeps the module's killed opens from suspending the container (default 10).
    """
    work = tmp_path_factory.mktemp("sealed")
    (work / "home").mkdir()
    out: Path = work / "usb" / "big.rwc"
    out.parent.mkdir()
    proc = h.Rwc(work=work, server=shared_server.url).seal(
        shared_server,
        people.writer_token,
        [big],
        out,
        readers=[people.reader],
        extra=["--no-medium", "--attempt-budget", "1000"],
    )
    h.expect(proc, 0)
    return out


def _open_paused(
    story: Any, h: ModuleType, container: Path, dest: Path, *, point: int, fallback: bool
) -> Any:
    """Start `rwc open` into ``dest``; return it once it has stopped itself at file ``point``."""
    argv = ["open", os.fspath(container), "-C", os.fspath(dest)]
    token = story.people.reader_token
    proc = _popen(story, h, argv, token=token, fallback=fallback, pause_at=point)
    try:
        _wait_for(proc, f"rwc paused at file {point}", lambda: _stopped(proc.pid))
        writing = [target for target, size in _open_in(proc.pid, dest.parent) if size]
        assert writing, f"rwc paused at file {point} with no file being written"
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named"])
@pytest.mark.parametrize("point", [1, 5], ids=["first-file", "fifth-file"])
def test_open_killed_leaves_no_plaintext(
    story: Any, h: ModuleType, container: Path, point: int, fallback: bool
) -> None:
    work = story.work / "clerk"
    work.mkdir()
    dest = work / "out"
    proc = _open_paused(story, h, container, dest, point=point, fallback=fallback)
    proc.kill()
    _out, err = proc.communicate()
    # Killed, not ended on its own: what follows is what SIGKILL at this point leaves.
    assert proc.returncode == -signal.SIGKILL, (
        f"rwc ended with {proc.returncode}, not killed: {err.decode()[-800:]}"
    )
    print(f"\n[faults] open killed at file {point} ({'named' if fallback else 'O_TMPFILE'})")
    assert not dest.exists()
    left = _visible_files(work, set())
    if fallback:
        assert left, "the named fallback should have had plaintext in its locked staging dir"
    else:
        assert left == [], f"plaintext left visible after SIGKILL: {left}"
    # The next run in the same directory removes what the killed one left, then extracts.
    again = story.open_as_reader(container, dest)
    h.expect(again, 0)
    assert _hidden(work) == []
    assert sorted(p.name for p in (dest / "export").iterdir()) == [
        f"part-{i}.bin" for i in range(8)
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named"])
def test_open_terminated_cleans_up(
    story: Any, h: ModuleType, container: Path, sig: signal.Signals, fallback: bool
) -> None:
    work = story.work / "clerk"
    work.mkdir()
    dest = work / "out"
    proc = _open_paused(story, h, container, dest, point=1, fallback=fallback)
    try:
        proc.send_signal(sig)  # pending while stopped: handled once it runs again
        proc.send_signal(signal.SIGCONT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err.decode()
    assert f"stopped by {sig.name}" in err.decode()
    assert "Traceback" not in err.decode()
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named"])
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_seal_killed_leaves_nothing(story: Any, h: ModuleType, fallback: bool, how: str) -> None:
    """A piped seal is killed while it waits for more input, with 3 MiB staged."""
    usb = story.work / "usb"
    usb.mkdir()
    out = usb / "piped.rwc"
    argv = ["seal", "-", "-o", os.fspath(out), "--reader", story.people.reader, "--no-medium"]
    argv += ["--label", h.unique("label"), "--server", story.server.url, *h.argon2_flags(story.rwc)]
    proc = _popen(story, h, argv, token=story.people.writer_token, fallback=fallback)
    assert proc.stdin is not None
    try:
        proc.stdin.write(os.urandom(4 * MIB))
        proc.stdin.flush()
        _wait_for(
            proc,
            "3 MiB staged",
            lambda: any(size >= 3 * MIB for _, size in _open_in(proc.pid, usb)),
        )
        staged_named = _hidden(usb)
        proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    print(f"\n[faults] seal {how} with 3 MiB staged; named while writing: {staged_named}")
    assert not out.exists()
    if how == "SIGTERM":
        assert proc.returncode == 128 + signal.SIGTERM, err.decode()
        assert list(usb.iterdir()) == []
    elif not fallback:
        assert staged_named == [] and list(usb.iterdir()) == []
    else:
        assert _hidden(usb) == staged_named != []  # locked by a dead process: stale
    # The next seal into the same directory removes the stale entry and publishes.
    src = story.sample_tree()
    again = story.seal_as_writer([src], out, extra=["--no-medium"])
    h.expect(again, 0)
    assert sorted(p.name for p in usb.iterdir()) == ["piped.rwc"]


def test_stale_cleanup_never_takes_a_live_runs_entry(
    story: Any, h: ModuleType, container: Path
) -> None:
    """A run paused (SIGSTOP) mid-extraction keeps its staging entry while another runs."""
    work = story.work / "clerk"
    work.mkdir()
    first = _open_paused(story, h, container, work / "a", point=1, fallback=True)
    try:
        held = _hidden(work)
        assert len(held) == 1
        second = story.open_as_reader(container, work / "b")
        h.expect(second, 0)
        assert _hidden(work) == held  # the live run's staging directory is untouched
        first.send_signal(signal.SIGCONT)
        _out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()
    finally:
        first.kill()
    assert _hidden(work) == []
    assert sorted(p.name for p in work.iterdir()) == ["a", "b"]
