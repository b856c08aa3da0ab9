"""A clerk's failures met as a process, said in Japanese and English (issue 12).

``rwc`` run as the installed command: without a terminal (login, password), with stdout on
/dev/full, with a file-size limit during extraction, and stopped by Ctrl-C or SIGTERM
while it waits for a server that does not answer; in both languages, the exit code and
the words (pycontainer/cli/failtexts.py). In process: tests/cli/test_failure_language.py.
"""

from __future__ import annotations

import resource
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontainer.cli.exits import ExitCode
from tests.support import requirements
from tests.support.clerk_runs import (
    ENTRY,
    LANGS,
    RWC,
    clerk_env,
    japanese_lead,
    rwc_process,
    seal,
)
from tests.support.live import LiveServer


@LANGS
def test_login_and_logout_say_what_they_did(server: LiveServer, tmp_path: Path, lang: str) -> None:
    token = server.tokens["reader"]
    r = rwc_process(server, tmp_path, lang, "login", server.url, "--token-stdin", stdin=token)
    assert r.code == ExitCode.OK, r
    store = tmp_path / "cfg" / "rwc" / "tokens.json"
    done = rwc_process(server, tmp_path, lang, "logout", server.url)
    said = {
        "ja": (
            (
                f"{server.url} に clerk@city.example としてログインしました(役割: reader)。"
                f"トークンの保存先: {store}"
            ),
            f"{server.url} のトークンを削除しました",
        ),
        "en": (
            f"logged in to {server.url} as clerk@city.example (reader); token stored in {store}",
            f"forgot the token for {server.url}",
        ),
    }
    assert (r.out.strip(), done.out.strip()) == said[lang]


@LANGS
def test_disk_full_on_output(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    with open("/dev/full", "wb") as full:  # Linux's device on which every write is ENOSPC
        r = rwc_process(server, tmp_path, lang, "cat", str(sealed), ENTRY, stdout=full)
    assert r.code == ExitCode.ERROR
    if lang == "ja":
        assert r.lines() == (
            "ディスクの空き容量が足りません(No space left on device)",
            "空き容量を確保するか、別の場所を指定してやり直してください",
        )
    else:
        assert r.err == "rwc: error: No space left on device\n"


def _small_files() -> None:
    # In the child: files it writes may not grow beyond 4 KiB (EFBIG; Python ignores the
    # SIGXFSZ that would otherwise kill it), like a disk that fills up during extraction.
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@LANGS
def test_extraction_cannot_write(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path, size=64 * 1024)
    dest = tmp_path / "out"
    r = rwc_process(
        server, tmp_path, lang, "open", str(sealed), "-C", str(dest), preexec_fn=_small_files
    )
    assert r.code == ExitCode.ERROR
    error, hint = r.lines()
    detail = f"extracting into {dest} failed: File too large"
    if lang == "ja":
        japanese_lead(error, "展開先に書き込めませんでした。何も展開していません", detail)
        assert hint == "ディスクの空き容量と、展開先への書き込みの権限を確認してください"
    else:
        assert (error, hint) == (detail, "check free space and permissions; nothing was extracted")
    assert not dest.exists()  # all or nothing


@LANGS
def test_extraction_into_a_folder_without_write_permission(
    server: LiveServer, tmp_path: Path, lang: str
) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        requirements.missing("setpriv (util-linux)", "apt-get install util-linux")
    sealed = seal(server, tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    # Root writes anywhere through these two capabilities: rwc runs without them.
    unprivileged = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    dest = str(locked / "out")
    r = rwc_process(server, tmp_path, lang, "open", str(sealed), "-C", dest, before=unprivileged)
    assert r.code == ExitCode.ERROR
    error, hint = r.lines()
    detail = f"extracting into {locked / 'out'} failed: Permission denied"
    if lang == "ja":
        japanese_lead(error, "展開先に書き込めませんでした。何も展開していません", detail)
        assert hint == "ディスクの空き容量と、展開先への書き込みの権限を確認してください"
    else:
        assert (error, hint) == (detail, "check free space and permissions; nothing was extracted")
    assert list(locked.iterdir()) == []


@LANGS
def test_login_without_a_terminal(server: LiveServer, tmp_path: Path, lang: str) -> None:
    r = rwc_process(server, tmp_path, lang, "login", server.url)
    assert r.code == ExitCode.USAGE
    if lang == "ja":
        assert r.lines() == (
            "トークンを尋ねる端末がありません",
            "--token-stdin を付けて、トークンを標準入力から渡してください",
        )
    else:
        assert r.lines() == ("no terminal to ask for the token", "pass it with --token-stdin")


@LANGS
def test_login_with_something_that_is_no_token(
    server: LiveServer, tmp_path: Path, lang: str
) -> None:
    r = rwc_process(
        server, tmp_path, lang, "login", server.url, "--token-stdin", stdin="my password\n"
    )
    assert r.code == ExitCode.ERROR
    error, hint = r.lines()
    if lang == "ja":
        japanese_lead(
            error, "トークン、またはトークンの保存場所に問題があります", "that is not a valid token"
        )
        assert hint == (
            "トークンは rwc_ で始まる 47 文字です。受け取ったトークンをそのまま貼り付けてください"
        )
    else:
        assert error == "that is not a valid token"
    assert "my password" not in r.err


@LANGS
def test_no_password_and_no_terminal(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    r = rwc_process(server, tmp_path, lang, "--quiet", "cat", str(sealed), ENTRY, password=False)
    assert r.code == ExitCode.USAGE
    if lang == "ja":
        assert r.lines() == (
            "パスワードが指定されておらず、尋ねる端末もありません",
            (
                "--password-file FILE を付けるか、RWC_PASSWORD を設定するか、"
                "--no-password を付けてください"
            ),
        )
    else:
        assert r.lines() == (
            "no password given and no terminal to ask for one",
            "use --password-file FILE, set RWC_PASSWORD, or pass --no-password",
        )


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A key server that accepts a connection and never answers (a hung server)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def _as_at_a_terminal() -> None:
    # In the child, before exec: Ctrl-C as a clerk's terminal delivers it. A pytest-xdist
    # worker ignores SIGINT, the child inherited that, and Python then installs no
    # KeyboardInterrupt for it: the signal was lost and the test waited out its timeout.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("lang", "sig", "said"),
    [
        ("en", signal.SIGINT, "interrupted"),
        ("ja", signal.SIGINT, "中断しました"),
        ("en", signal.SIGTERM, "stopped by SIGTERM"),
        ("ja", signal.SIGTERM, "SIGTERM により停止しました"),
    ],
    ids=["en-SIGINT", "ja-SIGINT", "en-SIGTERM", "ja-SIGTERM"],
)
def test_interrupted_while_waiting_for_the_server(
    server: LiveServer,
    tmp_path: Path,
    silent_server: socket.socket,
    lang: str,
    sig: signal.Signals,
    said: str,
) -> None:
    sealed = seal(server, tmp_path)
    port = silent_server.getsockname()[1]
    env = {**clerk_env(server, tmp_path, lang), "RWC_SERVER": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [str(RWC), "cat", str(sealed), ENTRY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_as_at_a_terminal,  # noqa: PLW1509 (a sigaction before exec, no lock taken)
    )
    try:
        conn, _ = silent_server.accept()
        with conn:
            assert conn.recv(65536)  # the request was sent: rwc now waits for the answer
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig
    assert err == f"\nrwc: error: {said}\n"
