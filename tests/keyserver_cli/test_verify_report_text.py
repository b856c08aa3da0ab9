"""What `keyserver verify-report` says when a report checks out, in the official's language.

The success lines were English only and said "1 audit entries proven" (issue 9); they come
from the catalogue now (keyserver/locale), each count in its own plural form.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from keyserver.cli.verify_report import proven
from keyserver.domain.transparency.checkpoint import Checkpoint
from keyserver.domain.transparency.report import VerifiedReport
from tests.support.keyserver_cli import Cli, DataDir, People


def test_a_verified_report_is_said_in_english_and_japanese(
    cli: Cli,
    data_dir: DataDir,
    people: People,
    h: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    created = cli("log-key", "--create", "--data-dir", data_dir.path, "--json")
    assert created.code == 0, created
    log_key = json.loads(created.out)["log_key"]
    h.make_container(data_dir.settings(), people.writer, medium="USB-1")
    where = ("--data-dir", data_dir.path)
    signed = cli("report", "--medium", "USB-1", "--signed", "medium-report", "-o", "-", *where)
    assert signed.code == 0, signed

    def verify(*flags: str, **env: str) -> Any:
        return cli(
            "verify-report", "-", "--log-key", log_key, *flags,
            stdin=io.StringIO(signed.out), env=h.clean_env(**env),
        )  # fmt: skip

    doc = verify("--json").json()
    size, proved = doc["checkpoint_size"], doc["entries_proven"]
    assert size > 1 and proved > 1  # the plural forms; the singular: the next test
    en = verify(KEYSERVER_LANG="en", KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    assert en.code == 0, en
    lines = en.out.splitlines()
    assert lines[0].startswith("OK: medium-report issued ") and lines[0].endswith(" +09:00")
    assert lines[1:] == [
        f"the log (rwc-keyserver/audit) signed its first {size} entries; cosigned by: no witness",
        f"{proved} audit entries proven to be in that log",
    ]
    ja = verify(KEYSERVER_LANG="ja", KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    assert ja.code == 0, ja
    lines = ja.out.splitlines()
    assert lines[0].startswith("検証成功: medium-report (発行 ") and lines[0].endswith(" +09:00)")
    assert lines[1:] == [
        f"透明性ログ (rwc-keyserver/audit) が最初の {size} 件に署名しています。連署した証人: なし",
        f"{proved} 件の監査記録がこのログにあることを証明しました",
    ]
    # No English left in the Japanese lines but the report's kind and the log's name.
    rest = ja.out.replace("medium-report", "").replace("rwc-keyserver/audit", "")
    assert not any(c.isascii() and c.isalpha() for c in rest), ja.out


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
