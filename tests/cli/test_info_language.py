"""`rwc info`, `open`, `verify` and `ls -l` print for a clerk in their language (issue 12).

The header's field names and units were English whatever the language (``container id:``,
``bytes``), and so were open's and verify's result lines; `ls --long` showed times in UTC
without an offset. --json is unchanged. Real: a container sealed against the live key
server, `rwc` run in process as the clerk with RWC_LANG; the Japanese labels aligned by
their width on a terminal (two columns per Japanese character).
"""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.info import columns
from pycontainer.cli.main import run
from pycontainer.reader import read_header
from tests.support.clerk_runs import ENTRY, LANGS, clerk_env, english_words, rwc_process, seal
from tests.support.live import LiveServer

TOKYO = ("env", "TZ=Asia/Tokyo")  # the zone of the clerk's computer, for the process


def _out(server: LiveServer, tmp: Path, lang: str, *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), env=clerk_env(server, tmp, lang), stdout=out, stderr=err)
    assert code == ExitCode.OK, err.getvalue()
    assert err.getvalue() == "", err.getvalue()
    return out.getvalue()


@LANGS
def test_info_in_the_readers_language(server: LiveServer, tmp_path: Path, lang: str) -> None:
    container = seal(server, tmp_path)
    h = read_header(container)
    (slot,) = h.slots
    shown = _out(server, tmp_path, lang, "info", str(container)).splitlines()
    cid = json.loads(_out(server, tmp_path, lang, "--json", "info", str(container)))["slots"][0][
        "container_id"
    ]
    kdf = f"m={slot.argon2.m} KiB, t={slot.argon2.t}, p={slot.argon2.p}"
    if lang == "en":  # as it always was
        assert shown == [
            f"container:    {container}",
            f"version:      {h.version} (suite {h.suite})",
            f"chunk size:   {h.chunk_size} bytes",
            f"header:       {h.header_length} bytes; payload {h.payload_length} bytes",
            f"key server:   {slot.url}",
            f"container id: {cid}",
            f"argon2id:     {kdf}",
            "(the header is authenticated only when the container is opened)",
        ]
        return
    # The widest label, チャンクサイズ: (15 columns), then one space.
    assert shown == [
        f"コンテナ:       {container}",
        f"形式の版:       {h.version}(暗号スイート {h.suite})",
        f"チャンクサイズ: {h.chunk_size} バイト",
        f"ヘッダー:       {h.header_length} バイト、ペイロード {h.payload_length} バイト",
        f"鍵サーバー:     {slot.url}",
        f"コンテナ ID:    {cid}",
        f"Argon2id:       {kdf}",
        "(ヘッダーは、コンテナを開いたときに初めて認証されます)",
    ]
    # The values start in one column on a terminal.
    left = {columns(line) - columns(line.split(":", 1)[1].lstrip()) for line in shown[:-1]}
    assert left == {16}, left
    labels = " ".join(line.split(":", 1)[0] for line in shown)
    assert english_words(labels) <= {"ID", "Argon", "id"}, labels  # Argon2id: a name


@LANGS
def test_verify_in_the_readers_language(server: LiveServer, tmp_path: Path, lang: str) -> None:
    container = seal(server, tmp_path)
    shown = _out(server, tmp_path, lang, "verify", str(container))
    said = {
        "en": f"{container}: OK (1 entry authenticated)\n",
        "ja": f"{container}: OK(1 個のエントリをすべて認証しました)\n",
    }
    assert shown == said[lang]
    doc = json.loads(_out(server, tmp_path, lang, "--json", "verify", str(container)))
    assert (doc["valid"], doc["entries"]) == (True, 1)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_info_json_keeps_its_keys(server: LiveServer, tmp_path: Path, lang: str) -> None:
    container = seal(server, tmp_path)
    doc = json.loads(_out(server, tmp_path, lang, "--json", "info", str(container)))
    assert set(doc) == {
        "ok",
        "command",
        "version",
        "suite",
        "chunk_size",
        "header_length",
        "payload_length",
        "slots",
        "unknown_slots",
        "warnings",
    }


@LANGS
def test_open_says_what_it_extracted(server: LiveServer, tmp_path: Path, lang: str) -> None:
    container = seal(server, tmp_path)
    dest = tmp_path / "out"
    shown = _out(server, tmp_path, lang, "open", str(container), "-C", str(dest))
    said = {
        "en": f"extracted 1 entry into {dest}\n",
        "ja": f"1 個のエントリを {dest} に展開しました\n",
    }
    assert shown == said[lang]
    assert (dest / ENTRY).is_file()


def test_ls_long_shows_times_in_the_computers_zone_with_its_offset(
    server: LiveServer, tmp_path: Path
) -> None:
    """As a process in Asia/Tokyo: the entry's time with +09:00 (it was UTC, no offset)."""
    container = seal(server, tmp_path)
    mtime = (tmp_path / ENTRY).stat().st_mtime  # what the seal recorded (whole seconds)
    tokyo = datetime.fromtimestamp(int(mtime), UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    r = rwc_process(server, tmp_path, "ja", "ls", "--long", str(container), before=TOKYO)
    assert r.code == ExitCode.OK, r.err
    source = (tmp_path / ENTRY).stat()
    perms = stat.filemode(source.st_mode)
    assert r.out == f"{perms} {source.st_size:>12} {tokyo:%Y-%m-%d %H:%M} +09:00 {ENTRY}\n"
    doc = json.loads(
        rwc_process(server, tmp_path, "ja", "--json", "ls", str(container), before=TOKYO).out
    )
    assert doc["entries"][0]["mtime"] == datetime.fromtimestamp(int(mtime), UTC).isoformat()


class _Terminal(io.StringIO):
    """stderr as a terminal (rich draws its progress bar into it)."""

    def isatty(self) -> bool:
        return True


@LANGS
def test_the_progress_bar_is_labelled_in_the_readers_language(
    server: LiveServer, tmp_path: Path, lang: str
) -> None:
    container = seal(server, tmp_path)
    labels = {"en": ("verifying", "extracting"), "ja": ("検証中", "展開中")}[lang]
    for argv, label in zip(
        (["verify", str(container)], ["open", str(container), "-C", str(tmp_path / "o")]),
        labels,
        strict=True,
    ):
        err = _Terminal()
        code = run(argv, env=clerk_env(server, tmp_path, lang), stdout=io.StringIO(), stderr=err)
        assert code == ExitCode.OK, err.getvalue()
        assert label in err.getvalue(), err.getvalue()
