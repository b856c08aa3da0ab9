"""What `rwc seal` says to the writer, in Japanese and English, and the expiry it set.

Against the live key server on a loopback socket: the warning that names were stored in
composed form (NFC), the --verbose notes, the result with the expiry in the writer's zone
and its offset (a bare date is the end of that day there, pycontainer/cli/expires.py), and
the --expires help.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pycontainer.cli import texts
from tests.support.clock import local_zone
from tests.support.live import LiveServer
from tests.support.rwc_args import seal_args
from tests.support.rwc_run import Result, run_rwc

# "が" written as "か" + the combining voiced mark: how macOS hands out such names (NFD).
DECOMPOSED = "\u304b\u3099"


def _seal(
    server: LiveServer, home: Path, tmp_path: Path, source: Path, *extra: str, lang: str
) -> Result:
    out = tmp_path / "export.rwc"
    env = {
        "RWC_TOKEN": server.tokens["writer"],
        "RWC_PASSWORD": "correct horse",
        "RWC_LANG": lang,
    }
    return run_rwc(home, *seal_args(source, out, server.url, medium="USB-SEAL"), *extra, env=env)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_renamed_names_and_notes_in_the_writers_language(
    server: LiveServer, home: Path, tmp_path: Path, lang: str
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        (src / f"{DECOMPOSED}{i}.txt").write_text("x")
    r = _seal(server, home, tmp_path, src, "--verbose", lang=lang)
    assert r.code == 0, r.err
    shown = ", ".join(f"{DECOMPOSED}{i}.txt" for i in range(3))  # as the writer named them
    warning = texts.say(
        "seal_nfc_renamed",
        lang,
        count=5,
        names=shown,
        more=texts.say("seal_nfc_more", lang, count=2),
    )
    notes = [
        texts.say("note_registering", lang, server=server.url),
        texts.say("note_activating", lang),
    ]
    # The warning before anything is registered, then the notes (--verbose), all in `lang`.
    assert r.err.splitlines() == [f"rwc: warning: {warning}"] + [f"rwc: {n}" for n in notes]
    if lang == "ja":
        assert warning == (
            "5 個の名前を、閲覧者の環境が想定する合成済みの Unicode 形式(NFC)で保存しました: "
            f"{shown} ほか 2 個"
        )
    else:
        assert warning == (
            f"5 names stored in composed Unicode form (NFC), as every reader expects: {shown} "
            "and 2 more"
        )


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_bare_date_ends_with_the_writers_day(
    server: LiveServer, home: Path, tmp_path: Path, lang: str
) -> None:
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    day = date.today() + timedelta(days=40)
    with local_zone("Asia/Tokyo"):
        r = _seal(server, home, tmp_path, src, "--expires", day.isoformat(), lang=lang)
    assert r.code == 0, r.err
    end = f"{day + timedelta(days=1)} 00:00:00 +09:00"
    first, expiry = r.text.splitlines()
    assert first.startswith("sealed 1 entry into " if lang == "en" else "1 個のエントリを")
    assert expiry == texts.say("seal_expires", lang, when=end)
    # What the key server keeps: the end of that day in Tokyo, 15:00 UTC the day before.
    cid = run_rwc(home, "--json", "info", str(tmp_path / "export.rwc"), env={}).json()
    status = server.official_get(f"/v1/containers/{cid['slots'][0]['container_id']}")
    kept = datetime.fromisoformat(status["not_after"])
    assert kept == datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "declared: “register.csv” holds personal data of 460,517 people"),
        ("ja", "申告: 「register.csv」には 460,517 人分の個人データが含まれます"),
    ],
)
def test_declared_people_said_and_registered(
    server: LiveServer, home: Path, tmp_path: Path, lang: str, said: str
) -> None:
    """spec §containers ``people``: what the officials' loss report will print, said now."""
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    extra = ("--label", "register.csv", "--people", "460517")
    r = _seal(server, home, tmp_path, src, *extra, lang=lang)
    assert r.code == 0, r.err
    assert r.text.splitlines()[1] == said
    cid = run_rwc(home, "--json", "info", str(tmp_path / "export.rwc"), env={}).json()
    status = server.official_get(f"/v1/containers/{cid['slots'][0]['container_id']}")
    assert status["people"] == 460_517


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "in your local time unless it has an offset; a date means the end of that day"),
        ("ja", "オフセットのない日時はこのコンピューターの現地時刻で、日付だけならその日の終わり"),
    ],
)
def test_expires_help_says_the_rule(home: Path, lang: str, words: str) -> None:
    r = run_rwc(home, "seal", "--help", env={"RWC_LANG": lang, "COLUMNS": "1000"})
    assert r.code == 0
    assert words in " ".join(r.text.split()), r.text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "officials' loss reports print it as declared by you"),
        ("ja", "紛失の報告書に、作成者の申告として印刷されます"),
    ],
)
def test_people_help(home: Path, lang: str, words: str) -> None:
    r = run_rwc(home, "seal", "--help", env={"RWC_LANG": lang, "COLUMNS": "1000"})
    assert r.code == 0
    assert words in " ".join(r.text.split()), r.text
