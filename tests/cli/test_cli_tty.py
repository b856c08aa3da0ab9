"""The password prompt on a real pseudo-terminal: asked twice, never echoed."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.rwc_args import seal_args

RWC = Path(sys.executable).parent / "rwc"
SECRET = "Zebra-Quartz-91"

pytestmark = pytest.mark.skipif(not RWC.exists(), reason="rwc is not installed in this venv")


def on_tty(
    argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """Run rwc with a pty as its controlling terminal; answer each prompt; return (rc, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(str(RWC), [str(RWC), *argv], env)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if pending and pending[0][0] in seen:
            seen_prompt, answer = pending.pop(0)
            seen = seen.replace(seen_prompt, b"<" + seen_prompt + b">", 1)
            os.write(fd, answer)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


def base_env(home: Path) -> dict[str, str]:
    """Only what rwc needs: no RWC_* setting of the test run reaches it."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def test_seal_prompts_twice_without_echo(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    out = tmp_path / "f.rwc"
    env = {**base_env(tmp_path), "RWC_TOKEN": server.tokens["writer"], "TERM": "dumb"}
    argv = seal_args(src, out, server.url)
    rc, seen = on_tty(
        argv,
        env,
        [
            (b"Password for", SECRET.encode() + b"\n"),
            (b"Repeat the password", SECRET.encode() + b"\n"),
        ],
    )
    assert rc == 0, seen
    assert SECRET.encode() not in seen  # the terminal did not echo it
    assert out.is_file()

    # The same password opens it (given through the environment this time).
    env_reader = {
        **env,
        "RWC_TOKEN": server.tokens["reader"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": SECRET,
    }
    rc, seen = on_tty(["cat", str(out), "f.txt"], env_reader, [])
    assert rc == 0 and b"hello" in seen


def test_seal_prompt_mismatch_is_usage_error(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    out = tmp_path / "f.rwc"
    env = {**base_env(tmp_path), "RWC_TOKEN": server.tokens["writer"]}
    argv = seal_args(src, out, server.url)
    rc, seen = on_tty(argv, env, [(b"Password for", b"one\n"), (b"Repeat the password", b"two\n")])
    assert rc == 2, seen
    assert b"passwords differ" in seen
    assert not out.exists()


EN = ({"LANG": "C.UTF-8"}, b"Password for", rb"only \d attempt\(s\) left", rb"\d attempt\(s\) left")
JA = (
    {"RWC_LANG": "ja", "LANG": "C.UTF-8"},
    "のパスワード".encode(),
    "あと \\d 回失敗すると".encode(),
    "回失敗すると、鍵サーバーがコンテナを停止します".encode(),
)


@pytest.mark.parametrize(("lang_env", "prompt", "warning", "left"), [EN, JA], ids=["en", "ja"])
def test_reader_prompt_and_warnings_in_the_readers_language(
    server: Any,
    tmp_path: Path,
    lang_env: dict[str, str],
    prompt: bytes,
    warning: bytes,
    left: bytes,
) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    out = tmp_path / "f.rwc"
    base = base_env(tmp_path)
    seal_env = {**base, "RWC_TOKEN": server.tokens["writer"], "RWC_PASSWORD": SECRET}
    sealed = on_tty([*seal_args(src, out, server.url), "--attempt-budget", "2"], seal_env, [])
    assert sealed[0] == 0, sealed
    env = {**base, "RWC_TOKEN": server.tokens["reader"], "TERM": "dumb", **lang_env}
    argv = ["open", str(out), "--server", server.url, "-C", str(tmp_path / "x")]
    rc, seen = on_tty(argv, env, [(prompt, b"not-the-password\n")])
    assert rc == 6, seen  # wrong password
    # Few attempts are left (budget 2): the reader is warned before typing, in their language.
    warned = re.search(warning, seen)
    assert warned is not None and warned.start() < seen.index(prompt), seen
    assert re.search(left, seen.split(b"<" + prompt + b">", 1)[1]), seen  # and in the hint
    if "RWC_LANG" in lang_env:
        assert b"attempt(s) left" not in seen and b"Password for" not in seen
