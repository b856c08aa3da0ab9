"""What `keyserver verify-report` says, in the official's language.

The success lines were English only and said "1 audit entries proven" (issue 9); they come
from the catalogue now (keyserver/locale), each count in its own plural form. So do the
failures, which were hard-coded English with the Japanese in the hint's place.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from keyserver._cli.verify_report import proven
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.note import SignerKey, VerifierKey
from keyserver._domain.transparency.report import VerifiedReport
from tests.support.keyserver_cli import Cli
from tests.support.processes import clean_env

# What each language says: the first line's start and end, then the two lines after it
# (with the checkpoint's size and the number of entries proven filled in).
SAID = {
    "en": (
        "OK: medium-report issued ",
        " +09:00",
        "the log (rwc-keyserver/audit) signed its first {size} entries; cosigned by: no witness",
        "{proved} audit entries proven to be in that log",
    ),
    "ja": (
        "検証成功: medium-report (発行 ",
        " +09:00)",
        "透明性ログ (rwc-keyserver/audit) が最初の {size} 件に署名しています。連署した証人: なし",
        "{proved} 件の監査記録がこのログにあることを証明しました",
    ),
}


def test_a_verified_report_is_said_in_english_and_japanese(
    cli: Cli, signed_report: tuple[str, str]
) -> None:
    log_key, signed = signed_report

    def verify(*flags: str, **env: str) -> Any:
        return cli(
            "verify-report", "-", "--log-key", log_key, *flags,
            stdin=io.StringIO(signed), env=clean_env(**env),
        )  # fmt: skip

    doc = verify("--json").json()
    size, proved = doc["checkpoint_size"], doc["entries_proven"]
    assert size > 1 and proved > 1  # the plural forms; the singular: the next test
    for language, (start, end, *lines) in SAID.items():
        run = verify(KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
        assert run.code == 0, run
        first, *rest = run.out.splitlines()
        assert first.startswith(start) and first.endswith(end), first  # the time, its offset
        assert rest == [line.format(size=size, proved=proved) for line in lines]
    # No English left in the Japanese lines but the report's kind and the log's name.
    ja = run.out.replace("medium-report", "").replace("rwc-keyserver/audit", "")
    assert not any(c.isascii() and c.isalpha() for c in ja), run.out


@pytest.mark.parametrize("language", ["en", "ja"])
def test_one_of_each_count_is_singular(language: str) -> None:
    report = VerifiedReport(
        kind="medium-report",
        issued_at="2026-12-06T05:00:00Z",
        statement={},
        checkpoint=Checkpoint("city.example/rwc", 1, bytes(32)),
        cosigned_by=("w.example",),
        entries=({"seq": 1},),
    )
    issued = "2026-12-06 14:00:00 +09:00"
    said = [m.text(language) for m in proven(report, "city.example/rwc", issued, 1)]
    expected = {
        "en": [
            "OK: medium-report issued 2026-12-06 14:00:00 +09:00",
            "the log (city.example/rwc) signed its first 1 entry; cosigned by: w.example",
            "1 audit entry proven to be in that log",
            "the log still extends it today (1 entry)",
        ],
        "ja": [
            "検証成功: medium-report (発行 2026-12-06 14:00:00 +09:00)",
            "透明性ログ (city.example/rwc) が最初の 1 件に署名しています。連署した証人: w.example",
            "1 件の監査記録がこのログにあることを証明しました",
            "現在のログもこの報告書と整合しています (1 件)",
        ],
    }
    assert said == expected[language]


# A report that fails, each way: the verdict, the check's detail and what to do, in the
# language of whoever runs the command (the Japanese came as the English error's "hint").
FAILED = {
    "tampered": {
        "en": (
            (
                "TAMPERED: this report does not match what the log signed: the report was "
                "altered after it was signed"
            ),
            "do not rely on this report; ask the city for the report as it issued it",
        ),
        "ja": (
            (
                "改ざん: この報告書は透明性ログが署名した内容と一致しません: "
                "報告書は署名された後に書き換えられています"
            ),
            "この報告書を根拠にしないでください。発行したとおりの報告書を市に求めてください",
        ),
    },
    "wrong key": {
        "en": (
            (
                "WRONG KEY: this report is not signed by the log key you gave: the report is "
                "signed by {log} ({log_id}), not by the log key {other} ({other_id})"
            ),
            "check --log-key against the key the city publishes (/.well-known/rwc-log-key)",
        ),
        "ja": (
            (
                "鍵の不一致: この報告書は指定された透明性ログの鍵で署名されていません: "
                "報告書の署名は {log} ({log_id}) によるもので、ログ鍵 {other} ({other_id}) に"
                "よるものではありません"
            ),
            "--log-key が市の公開している鍵 (/.well-known/rwc-log-key) と同じか確認してください",
        ),
    },
    "no witness": {
        "en": (
            (
                "NOT ENOUGH WITNESSES: too few independent witnesses confirmed this log state: "
                "the checkpoint has 0 valid witness cosignatures of the keys given, 1 required"
            ),
            (
                "check each --witness-key against the key its witness publishes; "
                "--min-cosignatures says how many must have cosigned"
            ),
        ),
        "ja": (
            (
                "証人不足: このログの状態を確認した独立した証人の連署が足りません: "
                "このチェックポイントにある、指定された鍵による有効な証人の連署は 0 件です "
                "(1 件必要です)"
            ),
            (
                "各 --witness-key がその証人の公開している鍵と同じか確認してください。"
                "連署が何件必要かは --min-cosignatures で指定します"
            ),
        ),
    },
    "not a report": {
        "en": (
            "NOT A REPORT: the file is not an rwc signed report: the file is not a JSON report",
            "give the signed report (JSON) as the key server issued it",
        ),
        "ja": (
            (
                "形式エラー: このファイルは rwc の署名付き報告書ではありません: "
                "このファイルは JSON の報告書ではありません"
            ),
            "鍵サーバーが発行したとおりの署名付き報告書 (JSON) を指定してください",
        ),
    },
}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_failed_report_is_said_in_the_readers_language(
    cli: Cli, signed_report: tuple[str, str], language: str
) -> None:
    log_key, signed = signed_report
    doc = json.loads(signed)
    doc["body"]["statement"]["medium"] = "USB-2"
    other = SignerKey.generate("other.example/rwc").verifier()
    ours = VerifierKey.parse(log_key)
    cases = {
        "tampered": (json.dumps(doc), log_key),
        "wrong key": (signed, other.encode()),
        "no witness": (signed, log_key, "--min-cosignatures", "1"),
        "not a report": ("SQLite format 3", log_key),
    }
    names = {
        "log": ours.name,
        "log_id": ours.key_id.hex(),
        "other": other.name,
        "other_id": other.key_id.hex(),
    }
    for case, (report, key, *flags) in cases.items():
        run = cli(
            "verify-report", "-", "--log-key", key, *flags,
            stdin=io.StringIO(report), env=clean_env(KEYSERVER_LANG=language),
        )  # fmt: skip
        assert run.code == 1, run
        error, hint = (text.format(**names) for text in FAILED[case][language])
        assert run.err.splitlines() == [f"keyserver: error: {error}", f"keyserver: hint: {hint}"]
        assert run.out == ""
        # --json: English whatever the language, for scripts.
        scripted = cli(
            "verify-report", "-", "--log-key", key, *flags, "--json",
            stdin=io.StringIO(report), env=clean_env(KEYSERVER_LANG=language),
        )  # fmt: skip
        said = json.loads(scripted.err)["error"]
        english = FAILED[case]["en"]
        assert (said["message"], said["hint"]) == tuple(t.format(**names) for t in english)
