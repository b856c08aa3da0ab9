"""`rwc seal` and `rwc open` killed at several points leave no plaintext and no half container.

Real ``rwc`` processes against a real key server. The test watches the process from outside
(its descriptors in /proc) and kills it at a chosen point: while the first file is being
written, later in the run, and while a piped seal waits for more input. Promises checked:

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

if not Path("/proc/self/fd").is_dir():  # pragma: no cover - Linux is where these run
    pytest.skip("needs /proc to watch the process", allow_module_level=True)

MIB = 1 << 20
PASSWORD = "correct horse battery staple"
# Runs rwc with O_TMPFILE disabled: the portable named fallback, in a real process.
FALLBACK = (
    "import sys, pathlib; import pycontainer._engine.staging as s; "
    "s._PROC_FD = pathlib.Path('/nonexistent'); "
    "from pycontainer.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def _popen(story: Any, h: ModuleType, argv: list[str], *, token: str, fallback: bool) -> Any:
    env = h.clean_env(
        HOME=os.fspath(story.work / "home"),
        RWC_TOKEN=token,
        RWC_SERVER=story.server.url,
        RWC_PASSWORD=PASSWORD,
    )
    cmd = [sys.executable, "-c", FALLBACK] if fallback else [os.fspath(h.RWC)]
    # rwc runs at the lowest priority (`nice` execs it: same pid) so that on a loaded machine
    # the test's 1 ms /proc polling still sees each file while it is written; at normal
    # priority a busy CI machine let rwc write all eight files between two polls ("rwc ended
    # (rc=0) before file 5 being written"). The kill, the signals and the assertions are
    # unchanged; on an idle machine nothing changes.
    return subprocess.Popen(
        ["nice", "-n", "19", *cmd, *argv],
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
    """Eight 8 MiB files of random data (random: nothing compresses or deduplicates)."""
    root = tmp_path_factory.mktemp("big") / "export"
    root.mkdir()
    for i in range(8):
        (root / f"part-{i}.bin").write_bytes(os.urandom(8 * MIB))
    return root


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


def _open_argv(container: Path, dest: Path) -> list[str]:
    return ["open", os.fspath(container), "-C", os.fspath(dest)]


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named"])
@pytest.mark.parametrize("point", [1, 5], ids=["first-file", "fifth-file"])
def test_open_killed_leaves_no_plaintext(
    story: Any, h: ModuleType, container: Path, point: int, fallback: bool
) -> None:
    work = story.work / "clerk"
    work.mkdir()
    dest = work / "out"
    proc = _popen(
        story, h, _open_argv(container, dest), token=story.people.reader_token, fallback=fallback
    )
    seen: set[str] = set()

    def reached() -> bool:
        seen.update(t for t, size in _open_in(proc.pid, work) if size)
        return len(seen) >= point

    try:
        _wait_for(proc, f"file {point} being written", reached)
    finally:
        proc.kill()
        proc.communicate()
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
    proc = _popen(
        story, h, _open_argv(container, dest), token=story.people.reader_token, fallback=fallback
    )
    try:
        _wait_for(proc, "a file being written", lambda: any(s for _, s in _open_in(proc.pid, work)))
        proc.send_signal(sig)
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
    first = _popen(
        story, h, _open_argv(container, work / "a"), token=story.people.reader_token, fallback=True
    )
    try:
        _wait_for(first, "a file being written", lambda: bool(_open_in(first.pid, work)))
        first.send_signal(signal.SIGSTOP)
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
