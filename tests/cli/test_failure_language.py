"""A clerk's failures other than a key server's refusal, said in Japanese and English (issue 12).

A clerk with ``RWC_LANG=ja`` met English only for a wrong file, a damaged copy, an output
directory that is not empty, a full disk, a CA bundle that cannot be used, a login without
a terminal, Ctrl-C. Each is run here for real (the live key server on loopback, real files,
/dev/full, a file-size limit, signals to a real process) in both languages: the exit code
and the words (pycontainer/cli/failtexts.py); English and ``--json`` as they always were.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from tests.support.live import LiveServer
from tests.support.rwc_args import seal_args

RWC = Path(sys.executable).parent / "rwc"  # the installed command, as a clerk runs it
PASSWORD = "correct horse"
ENTRY = "register.csv"
# Left in Japanese output besides the library's detail: the line labels, the program, the
# options and variables, file names.
NOT_A_SENTENCE = {"rwc", "error", "hint", "ls", "ca", "bundle", "CA", "RWC", "BUNDLE", "PEM"}
NOT_A_SENTENCE |= {"force", "token", "stdin", "password", "file", "FILE", "PASSWORD", "no"}
NOT_A_SENTENCE |= {"verbose", "https", "http", "localhost", "URL", "SERVER", "TOKEN", "csv"}
NOT_A_SENTENCE |= {"register", "missing", "pem", "out", "full", "dev", "txt", "en"}


@dataclass
class Result:
    code: int
    err: str
    out: str = ""

    def lines(self) -> tuple[str, str]:
        """The error and the hint of a failed run (nothing else was printed)."""
        error, hint = self.err.splitlines()
        assert error.startswith("rwc: error: ") and hint.startswith("rwc: hint: "), self.err
        return error.removeprefix("rwc: error: "), hint.removeprefix("rwc: hint: ")


def _env(server: LiveServer, tmp: Path, lang: str) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp / "cfg"),
        "RWC_TOKEN": server.tokens["reader"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": PASSWORD,
        "RWC_LANG": lang,
        "PATH": os.environ.get("PATH", ""),
    }


def rwc(
    server: LiveServer, tmp: Path, lang: str, *argv: str, stdout: io.TextIOBase | None = None
) -> Result:
    """``rwc ARGV`` in process, as the clerk, in ``lang``."""
    err = io.StringIO()
    out = stdout or io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    code = run(list(argv), env=_env(server, tmp, lang), stdout=out, stderr=err)  # type: ignore[arg-type]
    return Result(code, err.getvalue())


def rwc_process(
    server: LiveServer, tmp: Path, lang: str, *argv: str, stdin: str = "", password: bool = True
) -> Result:
    """``rwc ARGV`` as a process without a terminal (a session of its own), in ``lang``."""
    env = _env(server, tmp, lang)
    if not password:
        del env["RWC_PASSWORD"]
    done = subprocess.run(
        [str(RWC), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stderr, done.stdout)


def seal(server: LiveServer, tmp: Path, size: int = 0) -> Path:
    src = tmp / ENTRY
    src.write_bytes(b"id,name\n1,Tanaka\n" + os.urandom(size))
    out = tmp / "export.rwc"
    env = {**_env(server, tmp, "en"), "RWC_TOKEN": server.tokens["writer"]}
    code = run(seal_args(src, out, server.url), env=env, stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    return out


def english_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text))


def _japanese_lead(error: str, lead: str, detail: str) -> None:
    """A Japanese lead, then the library's English as the marked detail; nothing else English."""
    assert error == f"{lead}(詳細 [en]: {detail})", error
    assert english_words(error.removesuffix(f"(詳細 [en]: {detail})")) <= NOT_A_SENTENCE, error


LANGS = pytest.mark.parametrize("lang", ["en", "ja"])


@LANGS
def test_not_a_container(server: LiveServer, tmp_path: Path, lang: str) -> None:
    csv = tmp_path / "register.csv"
    csv.write_text("id,name\n")
    r = rwc(server, tmp_path, lang, "ls", str(csv))
    assert r.code == ExitCode.CORRUPT
    error, hint = r.lines()
    detail = "this file is not an rwc container (wrong magic bytes)"
    if lang == "ja":
        _japanese_lead(error, "このファイルは rwc コンテナではありません", detail)
        assert hint == (
            "開くファイルを間違えていないか確認してください"
            "(rwc コンテナの名前は普通 .rwc で終わります)"
        )
    else:
        assert (error, hint) == (detail, "check that you picked the right file")


@LANGS
def test_truncated_copy(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    cut = tmp_path / "cut.rwc"
    cut.write_bytes(sealed.read_bytes()[:-10])
    r = rwc(server, tmp_path, lang, "cat", str(cut), ENTRY)
    assert r.code == ExitCode.CORRUPT
    error, hint = r.lines()
    detail = "payload chunk authentication failed: the container is corrupt or was tampered with"
    if lang == "ja":
        _japanese_lead(
            error,
            "コンテナの内容の検証に失敗しました。壊れているか改変されています。何も展開していません",
            detail,
        )
        assert hint == "このファイルは使わず、送り主から新しいコピーを受け取ってください"
    else:
        assert (error, hint) == (
            detail,
            "get a fresh copy of the container from its sender; nothing was extracted",
        )


@LANGS
def test_no_such_container_file(server: LiveServer, tmp_path: Path, lang: str) -> None:
    missing = tmp_path / "missing.rwc"
    r = rwc(server, tmp_path, lang, "ls", str(missing))
    assert r.code == ExitCode.USAGE
    if lang == "ja":
        assert r.lines() == (
            f"コンテナのファイル {missing} が見つかりません",
            "ファイルの名前と場所を確認してください",
        )
    else:
        assert r.err == f"rwc: error: {missing}: no such container file\n"  # no hint, as before


@LANGS
def test_a_folder_named_as_the_container(server: LiveServer, tmp_path: Path, lang: str) -> None:
    r = rwc(server, tmp_path, lang, "ls", str(tmp_path))
    assert r.code == ExitCode.USAGE
    if lang == "ja":
        assert r.lines() == (
            f"{tmp_path} はフォルダーです。コンテナのファイルではありません",
            "コンテナのファイルそのもの(名前は普通 .rwc で終わります)を指定してください",
        )
    else:  # it said "no such container file", though the folder exists
        assert r.lines() == (
            f"{tmp_path} is a folder, not a container file",
            "give the container file itself (its name usually ends in .rwc)",
        )


@LANGS
def test_login_and_logout_say_what_they_did(server: LiveServer, tmp_path: Path, lang: str) -> None:
    token = server.tokens["reader"]
    r = rwc_process(server, tmp_path, lang, "login", server.url, "--token-stdin", stdin=token)
    assert r.code == ExitCode.OK, r
    store = tmp_path / "cfg" / "rwc" / "tokens.json"
    done = subprocess.run(
        [str(RWC), "logout", server.url],
        capture_output=True,
        text=True,
        env=_env(server, tmp_path, lang),
        timeout=60,
        check=True,
    )
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
    assert (r.out.strip(), done.stdout.strip()) == said[lang]


@LANGS
def test_destination_not_empty(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    r = rwc(server, tmp_path, lang, "open", str(sealed), "-C", str(dest))
    assert r.code == ExitCode.EXISTS
    error, hint = r.lines()
    if lang == "ja":
        _japanese_lead(
            error, "出力先にすでにファイルやフォルダーがあります", f"{dest} is not empty"
        )
        assert hint == (
            "新しいフォルダーか空のフォルダーを指定してください。"
            "上書きしてよい場合だけ --force を付けてやり直せます"
        )
    else:
        assert error == f"{dest} is not empty"
        assert hint == "choose a new or empty directory, or pass --force to extract into it"
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


@LANGS
def test_entry_not_in_the_container(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    r = rwc(server, tmp_path, lang, "cat", str(sealed), "typo.csv")
    assert r.code == ExitCode.ERROR
    error, hint = r.lines()
    if lang == "ja":
        _japanese_lead(
            error,
            "指定した名前のファイルはこのコンテナに入っていません",
            "'typo.csv' is not in this container",
        )
        assert hint == "`rwc ls コンテナ` で中身を一覧し、名前を確かめてください"
    else:
        assert (error, hint) == (
            "'typo.csv' is not in this container",
            "list the entries to see its content",
        )


@LANGS
def test_disk_full_on_output(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    with open("/dev/full", "wb") as full:  # Linux's device on which every write is ENOSPC
        done = subprocess.run(
            [str(RWC), "cat", str(sealed), ENTRY],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(server, tmp_path, lang),
            timeout=60,
            check=False,
        )
    r = Result(done.returncode, done.stderr)
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
    done = subprocess.run(
        [str(RWC), "open", str(sealed), "-C", str(dest)],
        capture_output=True,
        text=True,
        env=_env(server, tmp_path, lang),
        preexec_fn=_small_files,  # only setrlimit, before exec
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.ERROR
    r = Result(done.returncode, done.stderr)
    error, hint = r.lines()
    detail = f"extracting into {dest} failed: File too large"
    if lang == "ja":
        _japanese_lead(error, "展開先に書き込めませんでした。何も展開していません", detail)
        assert hint == "ディスクの空き容量と、展開先への書き込みの権限を確認してください"
    else:
        assert (error, hint) == (detail, "check free space and permissions; nothing was extracted")
    assert not dest.exists()  # all or nothing


@LANGS
def test_ca_bundle_missing(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    missing = tmp_path / "city-ca.pem"
    r = rwc(
        server,
        tmp_path,
        lang,
        "ls",
        str(sealed),
        "--server",
        "https://localhost:1",
        "--ca-bundle",
        str(missing),
    )
    assert r.code == ExitCode.ERROR
    error, hint = r.lines()
    if lang == "ja":
        _japanese_lead(
            error,
            "--ca-bundle(または RWC_CA_BUNDLE)で指定した CA 証明書のファイルを使えません",
            f"CA bundle not found: {missing}",
        )
        assert hint.startswith("鍵サーバーの証明書を発行した認証局の証明書(PEM 形式)を指定")
    else:
        assert (error, hint) == (
            f"CA bundle not found: {missing}",
            "--ca-bundle (or RWC_CA_BUNDLE) must name a PEM file of CA certificates",
        )


@LANGS
def test_plain_http_to_another_host(server: LiveServer, tmp_path: Path, lang: str) -> None:
    r = rwc(server, tmp_path, lang, "login", "http://keys.city.example", "--token-stdin")
    assert r.code == ExitCode.USAGE
    error, hint = r.lines()
    detail = (
        "refusing plain http:// to 'http://keys.city.example': the key server must use https://"
    )
    if lang == "ja":
        _japanese_lead(error, "鍵サーバーの URL として使えません", detail)
        assert hint.startswith("https:// で始まる鍵サーバーの URL を指定してください")
    else:
        assert error == detail


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
        _japanese_lead(
            error, "トークン、またはトークンの保存場所に問題があります", "that is not a valid token"
        )
        assert hint == (
            "トークンは rwc_ で始まる 47 文字です。受け取ったトークンをそのまま貼り付けてください"
        )
    else:
        assert error == "that is not a valid token"
    assert "my password" not in r.err


@LANGS
def test_password_file_missing(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    missing = tmp_path / "pw.txt"
    r = rwc(server, tmp_path, lang, "cat", str(sealed), ENTRY, "--password-file", str(missing))
    assert r.code == ExitCode.ERROR
    if lang == "ja":
        assert r.lines() == (
            f"パスワードファイル {missing} を読めません(No such file or directory)",
            "ファイルの名前と場所、読み取りの権限を確認してください",
        )
    else:
        assert r.err == (
            f"rwc: error: cannot read the password file {missing}: No such file or directory\n"
        )


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
    env = {**_env(server, tmp_path, lang), "RWC_SERVER": f"http://127.0.0.1:{port}"}
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


def test_json_stays_english(server: LiveServer, tmp_path: Path) -> None:
    csv = tmp_path / "register.csv"
    csv.write_text("id,name\n")
    r = rwc(server, tmp_path, "ja", "--json", "ls", str(csv))
    assert r.code == ExitCode.CORRUPT
    assert json.loads(r.err)["error"] == {
        "exit_code": 8,
        "kind": "corrupt",
        "message": "this file is not an rwc container (wrong magic bytes)",
        "hint": "check that you picked the right file",
    }
