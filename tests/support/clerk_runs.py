"""Runs of ``rwc`` as a clerk, in one language, for the tests of failures said to people.

Shared by tests/cli/test_failure_language.py (in process) and
tests/cli/test_failure_language_process.py (as processes: no terminal, signals, limits).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

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


def clerk_env(server: LiveServer, tmp: Path, lang: str) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp / "cfg"),
        "RWC_TOKEN": server.tokens["reader"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": PASSWORD,
        "RWC_LANG": lang,
        "PATH": os.environ.get("PATH", ""),
    }


def rwc(server: LiveServer, tmp: Path, lang: str, *argv: str) -> Result:
    """``rwc ARGV`` in process, as the clerk, in ``lang``."""
    err = io.StringIO()
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # `cat` writes bytes to its buffer
    code = run(list(argv), env=clerk_env(server, tmp, lang), stdout=out, stderr=err)
    return Result(code, err.getvalue())


def rwc_process(
    server: LiveServer,
    tmp: Path,
    lang: str,
    *argv: str,
    stdin: str = "",
    password: bool = True,
    before: Sequence[str] = (),
    stdout: BinaryIO | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> Result:
    """``rwc ARGV`` as a process without a terminal (a session of its own), in ``lang``.

    ``before``: a command that runs rwc (setpriv, say); ``stdout``: where its output goes
    (else captured); ``preexec_fn``: a limit set in the child before exec.
    """
    env = clerk_env(server, tmp, lang)
    if not password:
        del env["RWC_PASSWORD"]
    done = subprocess.run(
        [*before, str(RWC), *argv],
        input=stdin.encode(),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
        preexec_fn=preexec_fn,
        timeout=60,
        check=False,
    )
    out = done.stdout.decode() if stdout is None else ""
    return Result(done.returncode, done.stderr.decode(), out)


def seal(server: LiveServer, tmp: Path, size: int = 0) -> Path:
    src = tmp / ENTRY
    src.write_bytes(b"id,name\n1,Tanaka\n" + os.urandom(size))
    out = tmp / "export.rwc"
    env = {**clerk_env(server, tmp, "en"), "RWC_TOKEN": server.tokens["writer"]}
    code = run(seal_args(src, out, server.url), env=env, stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    return out


def english_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text))


def japanese_lead(error: str, lead: str, detail: str) -> None:
    """A Japanese lead, then the library's English as the marked detail; nothing else English."""
    assert error == f"{lead}(詳細 [en]: {detail})", error
    assert english_words(error.removesuffix(f"(詳細 [en]: {detail})")) <= NOT_A_SENTENCE, error


LANGS = pytest.mark.parametrize("lang", ["en", "ja"])
