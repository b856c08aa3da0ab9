"""The `keyserver` command speaks to officials in Japanese or English (issue 12).

Its texts come from the key server's one catalogue (keyserver/locale, shared with the
console; tests/console/test_catalogue.py checks that every id has its Japanese). Here: the
language switch, and the incident flow said in each language, with no English left in
the Japanese one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyserver._domain import i18n
from pycontainer.cli.texts import LOCALE_VARIABLES, language
from tests.support import keyserver_cli as h

REPO = Path(__file__).resolve().parents[2]


def _env(**values: str) -> dict[str, str]:
    """A clean environment without any locale variable, plus ``values``."""
    unset = ("KEYSERVER_LANG", *LOCALE_VARIABLES)
    env = {k: v for k, v in h.clean_env().items() if k not in unset}
    env.update(values)
    return env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"KEYSERVER_LANG": "ja"}, "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL overrides LANG
        ({"KEYSERVER_LANG": "en", "LC_ALL": "ja_JP.UTF-8"}, "en"),  # ours overrides the locale
        ({"KEYSERVER_LANG": "fr"}, "en"),
    ],
)
def test_language_choice(env: dict[str, str], expected: str) -> None:
    assert language(env, "KEYSERVER_LANG") == expected


def _affects(count: int, what: i18n.Message) -> i18n.Message:
    return i18n.ngettext(
        "This affects %(count)s container on %(what)s:",
        "This affects %(count)s containers on %(what)s:",
        count,
        count=count,
        what=what,
    )


def test_messages_nest_and_stay_english_as_strings() -> None:
    inner = i18n.N_("medium %(name)s", name="USB-1")
    outer = _affects(2, inner)
    assert outer.text("ja") == "媒体 USB-1 の 2 件のコンテナが対象です:"
    assert outer.text("en") == str(outer) == "This affects 2 containers on medium USB-1:"


def test_counts_of_containers_take_their_plural_form() -> None:
    """Not "1 container(s)": one form for one and another for more in English, the one
    Japanese form for every count (Plural-Forms in each catalogue)."""
    inner = i18n.N_("medium %(name)s", name="USB-1")
    assert str(_affects(1, inner)) == "This affects 1 container on medium USB-1:"
    assert str(_affects(0, inner)) == "This affects 0 containers on medium USB-1:"
    assert _affects(1, inner).text("ja") == "媒体 USB-1 の 1 件のコンテナが対象です:"
    # No text of the command or the service says "(s)" for a count any more.
    for path in (REPO / "keyserver").rglob("*.py"):
        assert "container(s)" not in path.read_text(encoding="utf-8"), path
    with pytest.raises(ValueError, match="no message catalogue"):
        i18n.translations("fr")


def test_typo_confirmation_and_report_in_both_languages(
    cli: Any, data_dir: Any, people: Any
) -> None:
    h.make_container(data_dir.settings(), people.writer, medium="USB-2022-06-AMA")
    dd = data_dir.path
    typo = ("report-loss", "--medium", "USB-2022-06-AMX", "--reason", "lost")
    short = ("report-loss", "--medium", "usb-2022-06-ama", "--waiting-period", "1h")
    report = ("report", "--medium", "USB-2022-06-AMA")
    said: dict[str, list[str]] = {}
    for lang, env in (("en", _env()), ("ja", _env(KEYSERVER_LANG="ja"))):
        miss = cli(*typo, "--data-dir", dd, env=env)
        assert miss.code == 5, miss
        asked = cli(*short, "--reason", "lost", "--data-dir", dd, env=env, stdin=h.TtyInput("n\n"))
        assert asked.code == 8, asked
        answer = cli(*report, "--data-dir", dd, env=env)
        assert answer.code == 0, answer
        said[lang] = [miss.err, asked.err, answer.out]

    miss, asked, answer = said["en"]
    assert miss.count("did you mean") == 1 and miss.count("Nothing was changed") == 1
    assert "keyserver: hint: did you mean USB-2022-06-AMA?\n" in miss
    assert "Nothing matched what you asked for." in miss and "(not-found)" in miss
    assert "This affects 1 container on medium USB-2022-06-AMA:" in asked
    assert "Type 'yes' to confirm: " in asked and "aborted; nothing was changed" in asked
    assert "Medium USB-2022-06-AMA: No loss has been reported for this medium." in answer

    miss, asked, answer = said["ja"]
    assert "keyserver: hint: もしかして USB-2022-06-AMA ですか?\n" in miss
    assert miss.count("何も変更されていません") == 1
    assert "指定されたものは見つかりませんでした。" in miss and "not-found" in miss
    assert "媒体 USB-2022-06-AMA の 1 件のコンテナが対象です:" in asked
    assert "確認のため yes と入力してください: " in asked
    assert "中止しました。何も変更されていません" in asked
    assert "媒体 USB-2022-06-AMA: この媒体の紛失は届け出られていません。" in answer
    for text in said["ja"]:
        for english in ("did you mean", "othing was changed", "This affects", "Type 'yes'"):
            assert english not in text, text


def test_json_errors_stay_english_for_scripts(cli: Any, data_dir: Any, people: Any) -> None:
    h.make_container(data_dir.settings(), people.writer, medium="USB-J")
    argv = ("media", "show", "USB-K", "--json", "--data-dir", data_dir.path)
    result = cli(*argv, env=_env(KEYSERVER_LANG="ja"))
    assert result.code == 5
    error = json.loads(result.err)["error"]
    assert error["kind"] == "not-found"
    assert error["hint"] == "did you mean USB-J?"
    assert error["message"].startswith("Nothing matched what you asked for.")


def test_second_loss_report_says_what_it_kept(cli: Any, data_dir: Any, people: Any) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-2")
    dd = data_dir.path
    first = ("report-loss", "--medium", "USB-2", "--reason", "lost", "--waiting-period", "72h")
    assert cli(*first, "--data-dir", dd, env=_env()).code == 0
    again = (*first[:-1], "100h")
    en = cli(*again, "--data-dir", dd, env=_env())
    assert en.code == 0, en
    assert "This medium was already reported lost at " in en.out
    assert "kept the earlier destroy deadline " in en.out
    assert "run it again with --replace-earlier" in en.out
    ja = cli(*again, "--data-dir", dd, env=_env(KEYSERVER_LANG="ja"))
    assert ja.code == 0, ja
    assert "この媒体は " in ja.out and "先の報告の破棄期限 " in ja.out
    assert "--replace-earlier を付けて" in ja.out
    deadline = json.loads(cli("status", cid, "--json", "--data-dir", dd).out)["destroy_after"]
    replaced = cli(*again, "--replace-earlier", "--json", "--data-dir", dd, env=_env())
    doc = replaced.json()
    assert doc["replaced_earlier"] is True and doc["earlier_report"]["destroy_after"] == deadline
    assert doc["destroy_after"] > deadline  # now the later deadline, as asked


def test_second_loss_report_says_the_times_told(cli: Any, data_dir: Any, people: Any) -> None:
    """Issue 12, console45: "kept the earlier time of loss 18:15:00 (this report said
    09:15:00)" for times told around 18:30 and 09:30, each counted from 15 minutes before:
    said as told, "around" them, as the console's banner says them."""
    h.make_container(data_dir.settings(), people.writer, medium="USB-T")
    dd = data_dir.path
    first = ("--lost-at", "2020-01-01T18:15+09:00", "--told-at", "2020-01-01T18:30+09:00")
    again = ("--lost-at", "2020-01-02T09:15+09:00", "--told-at", "2020-01-02T09:30+09:00")
    report = ("report-loss", "--medium", "USB-T", "--reason", "lost", "--waiting-period", "72h")
    assert cli(*report, *first, "--data-dir", dd, env=_env()).code == 0
    tokyo = {"KEYSERVER_DISPLAY_TIMEZONE": "Asia/Tokyo"}
    en = cli(*report, *again, "--data-dir", dd, env=_env(**tokyo))
    assert en.code == 0, en
    kept = "kept the earlier time of loss around %s (this report said around %s)"
    assert kept % ("2020-01-01 18:30 +09:00", "2020-01-02 09:30 +09:00") in en.out, en.out
    ja = cli(*report, *again, "--data-dir", dd, env=_env(KEYSERVER_LANG="ja", **tokyo))
    assert ja.code == 0, ja
    assert "2020-01-01 18:30 +09:00 頃" in ja.out and "2020-01-02 09:30 +09:00 頃" in ja.out
    for out in (en.out, ja.out):  # the periods' starts are in the record, not said as told
        (line,) = [t for t in out.splitlines() if "18:30" in t and "09:30" in t]
        assert "18:15" not in line and "09:15" not in line, line


def test_mistyped_container_and_token_ids_get_the_nearest(
    cli: Any, data_dir: Any, people: Any
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-ID")
    typo = cid[:10] + ("B" if cid[10] != "B" else "C") + cid[11:]
    dd = data_dir.path
    for argv in (("suspend", typo, "--reason", "x"), ("destroy", typo, "--reason", "x")):
        result = cli(*argv, "--data-dir", dd, env=_env())
        assert result.code == 5, result
        assert f"keyserver: hint: did you mean {cid}?\n" in result.err
    ja = cli("status", typo, "--data-dir", dd, env=_env(KEYSERVER_LANG="ja"))
    assert ja.code == 5 and f"もしかして {cid} ですか?" in ja.err
    assert json.loads(cli("status", cid, "--json", "--data-dir", dd).out)["state"] == "active"
    tokens = json.loads(cli("token", "list", "--json", "--data-dir", dd).out)
    token_id = next(t["token_id"] for t in tokens if t["name"] == "reader")
    miss = cli("token", "revoke", token_id[:-1], "--data-dir", dd, env=_env())
    assert miss.code == 5 and f"did you mean {token_id}?" in miss.err


def test_tables_name_their_fields_in_the_officials_language(
    cli: Any, data_dir: Any, people: Any
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-T")
    dd = data_dir.path
    en = cli("status", cid, "--data-dir", dd, env=_env())
    # In the console's words in both (issue 12, ops14: English said "destroy_after").
    assert "Keys will be destroyed after" in en.out and "destroy_after" not in en.out
    assert "鍵の破棄予定" not in en.out
    ja = cli("status", cid, "--data-dir", dd, env=_env(KEYSERVER_LANG="ja"))
    assert "鍵の破棄予定" in ja.out and "コンテナ" in ja.out and "destroy_after" not in ja.out
    media = cli("media", "list", "--data-dir", dd, env=_env(KEYSERVER_LANG="ja"))
    assert "紛失日時" in media.out and "lost_at" not in media.out
    # Scripts read the protocol's names, whatever the language.
    doc = json.loads(cli("status", cid, "--json", "--data-dir", dd, env=_env(LANG="ja_JP")).out)
    assert "destroy_after" in doc
    # States and causes in words too.
    cli("suspend", cid, "--reason", "check", "--data-dir", dd)
    ja = cli("status", cid, "--data-dir", dd, env=_env(KEYSERVER_LANG="ja"))
    assert "利用停止中" in ja.out and "担当者による停止" in ja.out and "suspended" not in ja.out
    en = cli("status", cid, "--data-dir", dd, env=_env())
    assert "Suspended" in en.out and "Suspended by an official" in en.out


@pytest.mark.parametrize(
    ("argv", "code", "japanese", "english"),
    [
        (
            ("serve", "--tls-cert", "cert.pem"),
            2,
            "--tls-cert と --tls-key は一緒に指定してください",
            "--tls-cert and --tls-key go together",
        ),
        (("witness", "run"), 2, "証人の状態ディレクトリ", "no witness state directory"),
        (
            ("restore-backup", "--replay", "no-such-export.jsonl"),
            2,
            "no-such-export.jsonl に監査ログの書き出しがありません",
            "no audit export at no-such-export.jsonl",
        ),
    ],
)
def test_operator_and_witness_refusals_in_both_languages(
    cli: Any, data_dir: Any, argv: tuple[str, ...], code: int, japanese: str, english: str
) -> None:
    """The host and witness commands refuse in the operator's language too (and keep
    English for `--json` and without a choice)."""
    where = () if argv[0] == "witness" else ("--data-dir", data_dir.path)
    en = cli(*argv, *where, env=_env())
    assert en.code == code and english in en.err, en
    ja = cli(*argv, *where, env=_env(KEYSERVER_LANG="ja"))
    assert ja.code == code and japanese in ja.err, ja
    assert english not in ja.err, ja


def test_notes_are_said_in_the_commands_language_and_as_json_lines(
    cli: Any, data_dir: Any, tmp_path: Any
) -> None:
    """A note (here: what ``audit export`` wrote) is in the command's language, and with
    ``--json`` one JSON line in English, as a warning is."""

    def export(dest: Any, *flags: str) -> Any:
        argv = ("audit", "export", *flags, "-o", dest, "--data-dir", data_dir.path)
        return cli(*argv, env=_env(KEYSERVER_LANG="ja"))

    ja = export(tmp_path / "ja.jsonl")
    assert ja.code == 0, ja
    count = len((tmp_path / "ja.jsonl").read_text().splitlines())
    assert ja.err == f"keyserver: {count} 件の監査記録を {tmp_path / 'ja.jsonl'} に書き出しました\n"
    js = export(tmp_path / "js.jsonl", "--json")
    assert js.code == 0, js
    noun = "entry" if count == 1 else "entries"
    assert [json.loads(line) for line in js.err.splitlines()] == [
        {"note": f"wrote {count} audit {noun} to {tmp_path / 'js.jsonl'}"}
    ]
