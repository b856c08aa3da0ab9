"""The password prompt on a real pseudo-terminal: asked twice, never echoed, not asked in vain."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keyserver._store import init_database
from keyserver.testing import bootstrap_principal, running_server, sqlite_settings
from pycontainer.cli import texts
from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.reader import read_header
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


# Budget 2: two attempts left before the wrong password, one after it (each in its form).
EN = ({"LANG": "C.UTF-8"}, b"Password for", rb"only 2 attempts left", rb"; 1 attempt left")
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
        assert b"attempt" not in seen and b"Password for" not in seen


# One server per allowance that runs out (spec/protocol.md §receipt): two unconfirmed
# attempts per reader, or per medium, within the window; the other allowances stay large.
CAPS = {"principal": "principal_attempt_cap", "medium": "medium_attempt_cap"}
CAP = 2


@pytest.fixture(scope="module", params=sorted(CAPS))
def capped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(the allowance, the server's URL, its tokens) for a server with that allowance at 2."""
    limit = request.param
    settings = sqlite_settings(tmp_path_factory.mktemp("ks"), **{CAPS[limit]: CAP})
    init_database(settings)
    tokens = {"writer": bootstrap_principal(settings, "contractor@vendor.example", ["writer"])}
    for lang in ("en", "ja"):
        tokens[lang] = bootstrap_principal(settings, f"clerk-{lang}@city.example", ["reader"])
    with running_server(settings) as url:
        yield limit, url, tokens


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_no_prompt_when_no_attempts_are_left(capped: Any, tmp_path: Path, lang: str) -> None:
    """Access says 0 attempts left: rwc stops before its prompt, in the reader's language.

    spec/protocol.md §access: a typed password would go to an evaluation that is refused
    (attempts-exhausted), so asking for it only wastes the reader's effort.
    """
    limit, url, tokens = capped
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    out = tmp_path / "f.rwc"
    reader = f"clerk-{lang}@city.example"
    sealed = run(
        seal_args(src, out, url, medium=f"M-{lang}", reader=reader),
        env={"RWC_TOKEN": tokens["writer"], "RWC_PASSWORD": SECRET},
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert sealed == 0
    wrong = {"RWC_TOKEN": tokens[lang], "RWC_SERVER": url, "RWC_PASSWORD": "not-it"}
    for _ in range(CAP):  # each wrong password is an unconfirmed attempt
        code = run(["ls", str(out)], env=wrong, stdout=io.StringIO(), stderr=io.StringIO())
        assert code == ExitCode.WRONG_PASSWORD
    container_id = read_header(out).slots[0].container_id
    with KeyServerClient(url, tokens[lang]) as client:
        before = client.access(container_id)
    assert (before.attempts_remaining, before.attempts_limit) == (0, limit)

    env = {**base_env(tmp_path), "RWC_TOKEN": tokens[lang], "RWC_LANG": lang, "TERM": "dumb"}
    dest = tmp_path / "x"
    argv = ["open", str(out), "--server", url, "-C", str(dest)]
    prompt = texts.say("password_prompt", lang, what=out.name).encode()
    rc, seen = on_tty(argv, env, [(prompt, SECRET.encode() + b"\n")])
    assert rc == ExitCode.DENIED, seen
    assert prompt not in seen, seen  # never asked
    reason = texts.say(f"attempts_none_{limit}", lang)
    said = texts.say("attempts_none_not_asked", lang, reason=reason)
    assert f"rwc: error: {said}".encode() in seen, seen.decode(errors="replace")
    hint = texts.say("refusal_attempts_exhausted_hint", lang)
    assert f"rwc: hint: {hint}".encode() in seen, seen.decode(errors="replace")
    assert not dest.exists()
    with KeyServerClient(url, tokens[lang]) as client:  # and nothing more was counted
        assert client.access(container_id) == before
