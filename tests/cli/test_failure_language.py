"""A clerk's failures other than a key server's refusal, said in Japanese and English (issue 12).

A clerk with ``RWC_LANG=ja`` met English only for a wrong file, a damaged copy, an output
directory that is not empty, an entry not in the container, a CA bundle that cannot be
used, a plain-http URL. Each is run here for real (the live key server on loopback, real
files) in both languages: the exit code and the words (pycontainer/cli/failtexts.py);
English and ``--json`` as they always were. As processes (no terminal, a full disk,
signals): tests/cli/test_failure_language_process.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from pycontainer.cli.exits import ExitCode
from tests.support.clerk_runs import (
    ENTRY,
    LANGS,
    japanese_lead,
    rwc,
    seal,
)
from tests.support.live import LiveServer


@LANGS
def test_not_a_container(server: LiveServer, tmp_path: Path, lang: str) -> None:
    csv = tmp_path / "register.csv"
    csv.write_text("id,name\n")
    r = rwc(server, tmp_path, lang, "ls", str(csv))
    assert r.code == ExitCode.CORRUPT
    error, hint = r.lines()
    detail = "this file is not an rwc container (wrong magic bytes)"
    if lang == "ja":
        japanese_lead(error, "このファイルは rwc コンテナではありません", detail)
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
        japanese_lead(
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
def test_destination_not_empty(server: LiveServer, tmp_path: Path, lang: str) -> None:
    sealed = seal(server, tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    r = rwc(server, tmp_path, lang, "open", str(sealed), "-C", str(dest))
    assert r.code == ExitCode.EXISTS
    error, hint = r.lines()
    if lang == "ja":
        japanese_lead(error, "出力先にすでにファイルやフォルダーがあります", f"{dest} is not empty")
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
        japanese_lead(
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
        japanese_lead(
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
        japanese_lead(error, "鍵サーバーの URL として使えません", detail)
        assert hint.startswith("https:// で始まる鍵サーバーの URL を指定してください")
    else:
        assert error == detail


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
