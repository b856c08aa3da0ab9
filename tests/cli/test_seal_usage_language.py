"""A writer's usage errors in `rwc seal` read well in Japanese, and English is unchanged (issue 12).

Each was said as "コマンドの指定に誤りがあります(詳細 [en]: ...)" with "`rwc --help` で使い方を
確認してください": a Japanese lead that said nothing, the English detail that said it all.
Now each has its own sentence and next step (pycontainer/cli/sealtexts.py). Real: `rwc seal`
in process with real files and folders in the test's directory; every refusal comes before
the key server is asked (nothing listens on the URL given).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from tests.support.rwc_args import KDF

SERVER = "https://localhost:1"  # never reached: every case is refused before
# Left in Japanese output: labels, program, options, variables, values given.
NOT_A_SENTENCE = {"rwc", "error", "hint", "seal", "expires", "attempt", "budget", "no", "reader"}
NOT_A_SENTENCE |= {"password", "file", "medium", "kdf", "memory", "time", "parallelism", "ID"}
NOT_A_SENTENCE |= {"group", "NAME", "GROUP", "server", "URL", "RWC", "SERVER", "Argon", "label"}
NOT_A_SENTENCE |= {"csv", "in", "out", "pw", "txt", "abc", "missing", "nowhere", "USB", "help"}
NOT_A_SENTENCE |= {"people"}

# name -> (argv after `seal`, Japanese error, Japanese hint); in tmp_path, which holds
# in.csv, the folder in/ and pw.txt.
BASE = ["in.csv", "-o", "out.rwc", "--server", SERVER, "--medium", "M", "--reader", "r", *KDF]
CASES: dict[str, tuple[list[str], str, str]] = {
    "no input": (
        ["missing.csv", *BASE[1:]],
        "封入するファイルまたはフォルダー missing.csv が見つかりません",
        "名前と場所を確認してください",
    ),
    "stdin mixed": (
        ["-", *BASE],
        "'-'(標準入力)は、ほかのファイルやフォルダーと一緒には指定できません",
        "標準入力から封入する場合は - だけを指定してください",
    ),
    "inside input": (
        ["in", "-o", "in/out.rwc", *BASE[3:]],
        "in/out.rwc は、封入するフォルダー in の中に書き込まれることになります",
        "コンテナは、封入するフォルダーの外に書き出してください",
    ),
    "no output folder": (
        [*BASE[:2], "nowhere/out.rwc", *BASE[3:]],
        "出力先のフォルダー nowhere がありません",
        "-o には、すでにあるフォルダーの中のファイル名を指定してください",
    ),
    "to stdout": (
        [*BASE[:2], "-", *BASE[3:]],
        "rwc seal はコンテナを標準出力(-o -)に書き出せません",
        (
            "-o に出力ファイルの名前を指定してください。コンテナは完成して初めて現れるので、"
            "書きかけのコンテナが残ることはありません"
        ),
    ),
    "no server": (
        [*BASE[:3], *BASE[5:]],
        "封入には鍵サーバーが必要です",
        "--server URL を付けるか、RWC_SERVER を設定してください",
    ),
    "no medium": (
        [*BASE[:5], *BASE[7:]],
        "コンテナを保存する媒体を --medium ID で指定してください",
        (
            "USB メモリやディスクに印字されたシリアル番号か資産番号を使ってください"
            "(紛失の届出の対象にできます)。取り外せる媒体に保存しない場合に限り、"
            "--no-medium を付けてください"
        ),
    ),
    "no readers": (
        BASE[:7] + KDF,
        "このままでは、誰もこのコンテナを開けません",
        "--reader NAME か --reader-group GROUP(両方でも可)で閲覧者を指定してください",
    ),
    "label too long": (
        [*BASE, "--label", "x" * 300],
        "--label は 1 文字以上 200 文字以下にしてください",
        "",
    ),
    "attempt budget": (
        [*BASE, "--attempt-budget", "0"],
        "--attempt-budget には 1 以上の数を指定してください",
        "",
    ),
    "people": (
        [*BASE, "--people", "100000001"],
        "--people には 1 から 100,000,000 までの整数を指定してください",
        (
            "コンテナに含まれる個人データの人数を指定してください。"
            "分からない場合は --people を付けないでください"
        ),
    ),
    "expires past": (
        [*BASE, "--expires", "2020-01-01"],
        "--expires '2020-01-01' は未来の日時ではありません",
        "30d・12h・90m のような期間か、2027-03-31 のような日付を指定してください",
    ),
    "expires unreadable": (
        [*BASE, "--expires", "3x"],
        "--expires '3x' を期間としても日付としても読めません",
        "30d・12h・90m のような期間か、2027-03-31 のような日付を指定してください",
    ),
    "expires no unit": (
        [*BASE, "--expires", "30"],
        "--expires '30' には単位がなく、意味が定まりません",
        "30d・12h・90m のような期間か、2027-03-31 のような日付を指定してください",
    ),
    "argon2": (
        [*BASE[:-6], "--kdf-memory", "8", "--kdf-time", "1", "--kdf-parallelism", "1"],
        "Argon2 のパラメーターが範囲外です",
        (
            "--kdf-memory は 8192..1048576(並列数の 8 倍以上)、--kdf-time は 1..10、"
            "--kdf-parallelism は 1..16 の範囲で指定してください"
        ),
    ),
    "password sources": (
        [*BASE, "--no-password", "--password-file", "pw.txt"],
        "--no-password と --password-file は同時に指定できません",
        "どちらか一方だけを指定してください",
    ),
    "not a number": (
        [*BASE, "--attempt-budget", "abc"],
        "引数 --attempt-budget: 'abc' は整数ではありません(半角の数字で指定してください)",
        "`rwc seal --help` を参照してください",
    ),
}


def _seal(tmp_path: Path, argv: list[str], lang: str, *, as_json: bool = False) -> tuple[int, str]:
    """``rwc seal ARGV`` in ``tmp_path`` (the working directory: relative names, as typed)."""
    (tmp_path / "in.csv").write_text("id,name\n")
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "pw.txt").write_text("secret\n")
    env = {
        "RWC_LANG": lang,
        "RWC_TOKEN": "rwc_" + "A" * 43,
        "RWC_PASSWORD": "x",
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
    }
    err = io.StringIO()
    pre = ["--json"] if as_json else []
    code = run([*pre, "seal", *argv], env=env, stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_writers_usage_error_reads_well_in_japanese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    argv, error, hint = CASES[case]
    code, err = _seal(tmp_path, argv, "ja")
    assert code == ExitCode.USAGE, err
    lines = err.splitlines()
    assert lines[0] == "rwc: error: " + error, err
    assert lines[1:] == ([f"rwc: hint: {hint}"] if hint else []), err
    assert "詳細 [en]" not in err and "コマンドの指定に誤りがあります" not in err
    words = set(re.findall(r"[A-Za-z]{2,}", err)) - NOT_A_SENTENCE
    assert not words, words
    assert not (tmp_path / "out.rwc").exists()


# The English as rwc said it before (the error's message, --json), for some of the cases.
ENGLISH = {
    "no input": "missing.csv: no such file or directory",
    "to stdout": "rwc seal cannot write a container to stdout (-o -)",
    "expires past": "--expires '2020-01-01' is not in the future",
    "argon2": "Argon2 parameters out of bounds",
    "label too long": "--label must be 1 to 200 characters",
    "people": "--people must be a whole number from 1 to 100,000,000",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_english_and_json_are_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    argv, _, _ = CASES[case]
    code, err = _seal(tmp_path, argv, "en")
    assert code == ExitCode.USAGE and err.startswith("rwc: error: "), err
    assert not re.search("[\u3040-\u30ff\u4e00-\u9fff]", err), err  # no Japanese
    if case in ENGLISH:
        assert err.splitlines()[0] == "rwc: error: " + ENGLISH[case], err
    code, err = _seal(tmp_path, argv, "ja", as_json=True)
    doc = json.loads(err.strip().splitlines()[-1])["error"]
    assert code == ExitCode.USAGE and doc["kind"] == "usage", doc
    assert not re.search("[\u3040-\u30ff\u4e00-\u9fff]", doc["message"]), doc
