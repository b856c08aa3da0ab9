"""What `keyserver verify-report` says when a report checks out, in the official's language.

The success lines were English only and said "1 audit entries proven" (issue 9); they come
from the catalogue now (keyserver/locale), each count in its own plural form.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from keyserver._cli.verify_report import proven
from keyserver._domain.transparency.checkpoint import Checkpoint
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
