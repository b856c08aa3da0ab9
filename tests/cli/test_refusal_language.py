"""A key server's refusal said by `rwc` in the reader's language (issue 12, spec §problems).

A clerk with ``RWC_LANG=ja`` (or ``LANG=ja_JP.UTF-8``) got English refusals. `rwc` now asks
the key server for its details with ``Accept-Language`` and says its own sentence, the facts
and what to do next from pycontainer/cli/texts.py. Against a real key server on a loopback
socket (uvicorn): a suspended container, a destroyed one, exhausted attempts and a refused
label, in Japanese and English; ``--json`` keeps the library's English message.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from keyserver._store import init_database
from keyserver.testing import bootstrap_principal, running_server, sqlite_settings
from pycontainer.cli import texts
from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.keyserver import KeyServerClient, b64url_decode
from pycontainer.errors import KeyServerSuspendedError
from tests.support.rwc_args import KDF

CONTACT = "情報政策課 セキュリティ窓口 内線 1234"
READER = "clerk@city.example"
# Two unconfirmed attempts per reader within the window (spec §receipt), so the third is
# refused as attempts-exhausted; each test of it has a reader of its own.
PRINCIPAL_CAP = 2


@dataclass
class Server:
    url: str
    tokens: dict[str, str]

    def official(self, path: str, body: dict[str, Any]) -> None:
        r = requests.post(
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens['official']}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = sqlite_settings(
        tmp_path_factory.mktemp("ks"),
        contact=CONTACT,
        principal_attempt_cap=PRINCIPAL_CAP,
    )
    init_database(settings)
    tokens = {
        "writer": bootstrap_principal(settings, "contractor@vendor.example", ["writer"]),
        "reader": bootstrap_principal(settings, READER, ["reader"]),
        "clerk-en": bootstrap_principal(settings, "clerk-en@city.example", ["reader"]),
        "clerk-ja": bootstrap_principal(settings, "clerk-ja@city.example", ["reader"]),
        "lock-en": bootstrap_principal(settings, "lock-en@city.example", ["reader"]),
        "lock-ja": bootstrap_principal(settings, "lock-ja@city.example", ["reader"]),
        "cause": bootstrap_principal(settings, "cause@city.example", ["reader"]),
        "official": bootstrap_principal(settings, "security@city.example", ["official"]),
    }
    with running_server(settings) as url:
        yield Server(url, tokens)


@dataclass
class Result:
    code: int
    err: str


def rwc(server: Server, tmp: Path, *argv: str, who: str, lang: str, **env: str) -> Result:
    """``rwc ARGV`` in process, as ``who`` in ``lang`` (RWC_LANG)."""
    e = {
        "XDG_CONFIG_HOME": str(tmp / "cfg"),
        "RWC_TOKEN": server.tokens[who],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": "correct horse",
        "RWC_LANG": lang,
        **env,
    }
    err = io.StringIO()
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # `cat` writes bytes to its buffer
    code = run(list(argv), env=e, stdout=out, stderr=err)
    return Result(code, err.getvalue())


def seal(server: Server, tmp: Path, *extra: str, reader: str = READER) -> tuple[Path, str]:
    """A sealed container for ``reader``; its path and container id."""
    src = tmp / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    out = tmp / "export.rwc"
    argv = ["--json", "seal", str(src), "-o", str(out), "--medium", "USB-1", *KDF]
    r = io.StringIO()
    env = {
        "XDG_CONFIG_HOME": str(tmp / "cfg"),
        "RWC_TOKEN": server.tokens["writer"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": "correct horse",
    }
    code = run([*argv, "--reader", reader, *extra], env=env, stdout=r, stderr=io.StringIO())
    assert code == 0
    return out, json.loads(r.getvalue())["container_id"]


def lines(err: str) -> tuple[str, str]:
    """The error line and the hint line of a failed run (nothing else was printed)."""
    error, hint = err.splitlines()
    assert error.startswith("rwc: error: ") and hint.startswith("rwc: hint: "), err
    return error.removeprefix("rwc: error: "), hint.removeprefix("rwc: hint: ")


def english_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text))


# Left in Japanese output: the line labels, the program, the options and variables, the
# protocol names, the times' separators; nothing of an English sentence.
NOT_A_SENTENCE = {"rwc", "error", "hint", "label", "RWC", "TOKEN", "SERVER", "USB"}

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_suspended(server: Server, tmp_path: Path, lang: str) -> None:
    out, cid = seal(server, tmp_path)
    server.official(f"/v1/containers/{cid}/suspend", {"reason": "x", "public_reason": "USB紛失"})
    r = rwc(server, tmp_path, "cat", str(out), "register.csv", who="reader", lang=lang)
    assert r.code == ExitCode.SUSPENDED
    error, hint = lines(r.err)
    if lang == "ja":
        assert re.fullmatch(
            "このコンテナは鍵サーバーで停止されています。復旧されるまで鍵は発行されません"
            f"\\(理由: USB紛失、連絡先: {CONTACT}\\)",
            error,
        ), error
        assert hint == "市の情報セキュリティ担当者に復旧を依頼し、復旧されてから開き直してください"
        assert english_words(r.err) <= NOT_A_SENTENCE, r.err
    else:
        assert re.fullmatch(
            "this container is suspended on the key server: its key is not released until "
            f"it is restored \\(reason: USB紛失; contact: {CONTACT}\\)",
            error,
        ), error
        assert hint == (
            "ask the city's information security staff to restore it, then open it again"
        )


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_destroyed(server: Server, tmp_path: Path, lang: str) -> None:
    out, cid = seal(server, tmp_path)
    server.official(
        f"/v1/containers/{cid}/destroy", {"reason": "internal note", "public_reason": None}
    )
    r = rwc(server, tmp_path, "ls", str(out), who="reader", lang=lang)
    assert r.code == ExitCode.REVOKED
    error, hint = lines(r.err)
    if lang == "ja":
        assert re.fullmatch(
            "このコンテナは失効しています。鍵サーバーで鍵が破棄されました"
            f"\\(破棄日時 {TIME}、公開された理由はありません、連絡先: {CONTACT}\\)",
            error,
        ), error
        assert hint == (
            "このコンテナは二度と開けません。データが必要な場合は、"
            "送り主に新しいコンテナを依頼してください"
        )
        assert english_words(r.err) <= NOT_A_SENTENCE, r.err
    else:
        assert re.fullmatch(
            "this container was revoked: its key was destroyed on the key server "
            f"\\(destroyed on {TIME}; no public reason was given; contact: {CONTACT}\\)",
            error,
        ), error
        assert hint.startswith("it can never be opened again; ")
    assert "internal note" not in r.err


def test_times_are_in_the_readers_zone_and_json_stays_english(
    server: Server, tmp_path: Path
) -> None:
    """As a process in Asia/Tokyo: the time with +09:00; --json as it always was."""
    out, cid = seal(server, tmp_path)
    server.official(f"/v1/containers/{cid}/destroy", {"reason": "r", "public_reason": "紛失"})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "RWC_TOKEN": server.tokens["reader"],
        "RWC_SERVER": server.url,
        "RWC_PASSWORD": "correct horse",
        "LANG": "ja_JP.UTF-8",  # the locale alone chooses Japanese
        "TZ": "Asia/Tokyo",
    }

    def rwc_process(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pycontainer.cli.main", *argv],
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    as_json = rwc_process("--json", "ls", str(out))
    assert as_json.returncode == ExitCode.REVOKED
    doc = json.loads(as_json.stderr)
    error = doc["error"]
    # The shape and the English of --json are the library's, whatever the locale.
    assert set(error) == {"exit_code", "kind", "message", "hint", "contact", "revoked_at", "reason"}
    assert error["message"] == (
        f"this container was revoked: its key was destroyed on the key server on "
        f"{error['revoked_at']}; reason: 紛失; contact: {CONTACT}"
    )
    assert error["hint"] == f"it can never be opened again; contact {CONTACT}"
    tokyo = datetime.fromisoformat(error["revoked_at"]).astimezone(ZoneInfo("Asia/Tokyo"))

    text = rwc_process("ls", str(out))
    assert text.returncode == ExitCode.REVOKED
    assert f"(破棄日時 {tokyo:%Y-%m-%d %H:%M:%S} +09:00、理由: 紛失、" in text.stderr, text.stderr


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_attempts_exhausted(server: Server, tmp_path: Path, lang: str) -> None:
    who = f"clerk-{lang}"
    out, _ = seal(server, tmp_path, reader=f"{who}@city.example")
    for _ in range(PRINCIPAL_CAP):  # each wrong password is an unconfirmed attempt
        wrong = rwc(server, tmp_path, "ls", str(out), who=who, lang=lang, RWC_PASSWORD="no")
        assert wrong.code == ExitCode.WRONG_PASSWORD, wrong.err
    # The last wrong password, in the reader's language too. What ran out is the reader's
    # cap, not the container's budget (10): the container is not locked, and the hint
    # says so (spec §receipt `attempts_limit`; it said "locks the container" before).
    error, hint = lines(wrong.err)
    assert error == texts.say("wrong_password", lang)
    assert hint == texts.say("wrong_password_hint", lang) + texts.say(
        "hint_separator", lang
    ) + texts.say("attempts_none_principal", lang)
    if lang == "ja":
        assert error == (
            "パスワードが違います(鍵サーバーは正しく応答しましたが、"
            "コンテナの鍵を開けられませんでした)"
        )
        assert hint.endswith(
            "現在、あなたの試行回数は残っていません。鍵サーバーはしばらくの間、"
            "次の試行を受け付けません(コンテナは停止されていません)"
        )
    else:
        assert hint.endswith(
            "no attempts left for you for now: the key server refuses your next try for a "
            "while (the container is not locked)"
        )
    r = rwc(server, tmp_path, "ls", str(out), who=who, lang=lang)
    assert r.code == ExitCode.DENIED, r.err
    error, hint = lines(r.err)
    if lang == "ja":
        # The server's detail, asked for in Japanese, comes from its catalogue (issue 12).
        assert error == (
            "未確認の試行(あなたの試行、またはこの媒体への試行)が多すぎるため、"
            "鍵サーバーが鍵の発行を拒否しました(鍵サーバーの説明: あなたの未確認の試行が"
            f"多すぎます。時間をおくか、担当者に相談してください、連絡先: {CONTACT})"
        )
        assert hint == (
            "時間をおいてからやり直してください(制限は 1 日以内に解除されます)。"
            "急ぐ場合は市の情報セキュリティ担当者に相談してください"
        )
        assert english_words(r.err) <= NOT_A_SENTENCE, r.err
    else:
        assert error == (
            "the key server refused to release the key: too many unconfirmed attempts, by "
            "you or on this medium (the key server says: you have too many unconfirmed "
            f"attempts; wait, or ask an official; contact: {CONTACT})"
        )
        assert hint.startswith("wait and try again later (the limit lifts within a day)")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_last_attempt_of_the_budget_says_the_container_is_locked(
    server: Server, tmp_path: Path, lang: str
) -> None:
    """The budget (1) runs out before the reader's cap (2): the container is suspended."""
    who = f"lock-{lang}"
    out, _ = seal(server, tmp_path, "--attempt-budget", "1", reader=f"{who}@city.example")
    wrong = rwc(server, tmp_path, "ls", str(out), who=who, lang=lang, RWC_PASSWORD="no")
    assert wrong.code == ExitCode.WRONG_PASSWORD, wrong.err
    _, hint = lines(wrong.err)
    locked = texts.say("attempts_none_container", lang)
    assert hint.endswith(texts.say("hint_separator", lang) + locked), hint
    if lang == "ja":
        assert locked == (
            "試行回数が残っていません。鍵サーバーはコンテナを停止しました。"
            "担当者が復旧するまで開けません"
        )
    # It is locked: the right password is refused as suspended now. The server says why
    # in `cause` (spec §problems); the clerk reads what happened and whom to call in
    # their language, not the server's English reason ("attempt budget exhausted").
    again = rwc(server, tmp_path, "ls", str(out), who=who, lang=lang)
    assert again.code == ExitCode.SUSPENDED, again.err
    error, hint = lines(again.err)
    if lang == "ja":
        assert error == (
            "このコンテナは、開封の試行(誤ったパスワードなど)が確認されないまま続いたため、"
            "鍵サーバーによって停止されました。復旧されるまで鍵は発行されません"
            f"(連絡先: {CONTACT})"
        )
        assert hint == (
            "市の情報セキュリティ担当者に電話で連絡してください。誰の試行だったかを確認した"
            "うえで、コンテナを復旧します。それまでは開き直さないでください"
        )
        assert english_words(again.err) <= NOT_A_SENTENCE, again.err
    else:
        assert error == (
            "this container was locked by the key server: too many attempts to open it were "
            "never confirmed (wrong passwords, for example); its key is not released until "
            f"it is restored (contact: {CONTACT})"
        )
        assert hint == (
            "call the city's information security staff: they check whose attempts they "
            "were and restore the container; do not try again until then"
        )
    assert "budget" not in again.err, again.err


def _access_problem(server: Server, cid: str, who: str) -> dict[str, Any]:
    """The server's answer to a reader's access request (protocol §access), as sent."""
    r = requests.get(
        f"{server.url}/v1/containers/{cid}/access",
        headers={"Authorization": f"Bearer {server.tokens[who]}"},
        timeout=30,
    )
    assert r.status_code == 423, r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_only_the_budgets_suspension_says_its_cause(server: Server, tmp_path: Path) -> None:
    """spec §problems `cause`: "budget" for the budget's suspension, nothing for an official's.

    Security: a suspension by a loss report or an official is not disclosed to a reader
    (whoever holds a lost medium must not learn it was reported).
    """
    who = "cause"
    out, cid = seal(server, tmp_path, "--attempt-budget", "1", reader=f"{who}@city.example")
    wrong = rwc(server, tmp_path, "ls", str(out), who=who, lang="en", RWC_PASSWORD="no")
    assert wrong.code == ExitCode.WRONG_PASSWORD, wrong.err
    budget = _access_problem(server, cid, who)
    assert (budget["type"], budget["cause"]) == ("urn:rwc:problem:suspended", "budget"), budget
    (tmp_path / "other").mkdir()
    _, cid = seal(server, tmp_path / "other", reader=f"{who}@city.example")
    server.official(f"/v1/containers/{cid}/suspend", {"reason": "x", "public_reason": None})
    official = _access_problem(server, cid, who)
    assert official["type"] == "urn:rwc:problem:suspended" and "cause" not in official, official


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_bad_token_and_unknown_reader_are_said_in_the_readers_language(
    server: Server, tmp_path: Path, lang: str
) -> None:
    # An unknown token (well-formed): the server's detail from its catalogue.
    out, _ = seal(server, tmp_path)
    r = rwc(server, tmp_path, "ls", str(out), who="reader", lang=lang, RWC_TOKEN="rwc_" + "A" * 43)
    assert r.code == ExitCode.DENIED, r.err
    error, _ = lines(r.err)
    if lang == "ja":
        assert error == (
            "鍵サーバーがあなたのトークンを受け付けませんでした"
            "(鍵サーバーの説明: このトークンは鍵サーバーに登録されていません、"
            f"連絡先: {CONTACT})"
        )
        assert english_words(r.err) <= NOT_A_SENTENCE | {"login", "URL", "http"}, r.err
    else:
        assert error == (
            "the key server did not accept your token (the key server says: unknown bearer "
            f"token; contact: {CONTACT})"
        )
    # A reader's name with a typo: the detail names it, the hint asks once.
    src = tmp_path / "a.txt"
    src.write_text("a")
    argv = ["seal", str(src), "-o", str(tmp_path / "x.rwc"), "--medium", "USB-1", *KDF]
    r = rwc(server, tmp_path, *argv, "--reader", "clrek@city.example", who="writer", lang=lang)
    assert r.code == ExitCode.USAGE, r.err
    error, hint = lines(r.err)
    if lang == "ja":
        assert "(鍵サーバーの説明: 閲覧者が見つかりません: clrek@city.example" in error, error
        assert hint.startswith("もしかして clerk@city.example"), hint
        assert "[en]" not in r.err and "did you mean" not in r.err, r.err
    else:
        assert "(the key server says: unknown reader principals: clrek@city.example" in error
        assert hint.startswith("did you mean clerk@city.example"), hint
    assert r.err.count(texts.say("did_you_mean", lang, names="")[:6]) == 1, r.err
    assert not (tmp_path / "x.rwc").exists()


@pytest.mark.parametrize(
    ("lang", "said", "rule"),
    [
        ("en", "--label refused", "label must be 1..200 printable characters"),
        ("ja", "--label の値は使えません", "ラベルは 1〜200 文字の表示可能な文字にしてください"),
    ],
)
def test_refused_label_names_the_option_and_the_rule(
    server: Server, tmp_path: Path, lang: str, said: str, rule: str
) -> None:
    # spec §problems: `field` names the member; the rule comes back in the asked language.
    src = tmp_path / "a.txt"
    src.write_text("a")
    out = tmp_path / "x.rwc"
    argv = ["seal", str(src), "-o", str(out), "--medium", "USB-1", "--reader", READER, *KDF]
    r = rwc(server, tmp_path, *argv, "--label", "tab\there", who="writer", lang=lang)
    assert r.code == ExitCode.USAGE, r.err
    error, hint = lines(r.err)
    assert error.startswith(said) and rule in error, error
    assert hint == texts.say("value_rule", lang, flag="--label")
    if lang == "ja":
        assert english_words(r.err) <= NOT_A_SENTENCE, r.err
    assert not out.exists()


def test_the_library_asks_in_a_language_only_when_told(server: Server, tmp_path: Path) -> None:
    """KeyServerClient is language-neutral; ``language=`` is what the command sets."""
    _, cid = seal(server, tmp_path)
    server.official(f"/v1/containers/{cid}/suspend", {"reason": "x", "public_reason": None})
    container_id = b64url_decode(cid, 16, "container id")
    answers = {}
    for language in (None, "ja"):
        client = KeyServerClient(server.url, server.tokens["reader"], language=language)
        with client, pytest.raises(KeyServerSuspendedError) as info:
            client.access(container_id)
        answers[language] = info.value
    plain, japanese = answers[None], answers["ja"]
    assert plain.refusal is not None and japanese.refusal is not None
    assert (plain.refusal.detail, plain.refusal.detail_language) == (
        "the container is suspended",
        "en",
    )
    assert (japanese.refusal.detail, japanese.refusal.detail_language) == (
        "このコンテナは停止中です",
        "ja",
    )
    # The same refusal, the same facts: only the detail's language differs.
    assert plain.refusal.kind == japanese.refusal.kind == "suspended"
    assert plain.refusal.facts == japanese.refusal.facts
    # A value that is no language tag never reaches a request header.
    with pytest.raises(ValueError, match="not a language tag"):
        KeyServerClient(server.url, server.tokens["reader"], language="ja\r\nX-Evil: 1")
