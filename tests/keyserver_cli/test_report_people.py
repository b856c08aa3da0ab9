"""``keyserver report`` says how many people's personal data the medium held, as the
console's report does (spec §report "How many people"; issue 12).

Per container its writer's declaration, for the medium "up to" their sum and how many
containers declared nothing (those said nothing of: never "0 people"), in English and
Japanese; the JSON carries the numbers.
"""

from __future__ import annotations

from typing import Any

from keyserver._domain.i18n import translate
from tests.support import keyserver_cli as h

SAID = {
    "en": (
        "Personal data: up to 472,517 people (declared) / 1 container declared no number",
        "460,517 people (declared by the writer)",
    ),
    "ja": (
        "個人データ: 最大 472,517 人分(作成者の申告) / 人数の申告がないコンテナが 1 個あります",
        "460,517 人分(作成者の申告)",
    ),
}


def test_report_says_the_declared_people(cli: Any, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    for label, n in (("register", 460_517), ("payments", 12_000), ("notes", None)):
        h.make_container(settings, people.writer, medium="USB-P", label=label, people=n)
    dd = data_dir.path
    assert cli("report-loss", "--medium", "USB-P", "--reason", "x", "--data-dir", dd).code == 0
    doc = cli("report", "--medium", "USB-P", "--json", "--data-dir", dd).json()
    assert (doc["people_up_to"], doc["people_undeclared"]) == (472_517, 1)
    assert {c["label"]: c["people"] for c in doc["containers"]} == {
        "register": 460_517,
        "payments": 12_000,
        "notes": None,
    }
    for language, (medium_line, per) in SAID.items():
        env = h.clean_env(KEYSERVER_LANG=language, COLUMNS="400")
        text = cli("report", "--medium", "USB-P", "--data-dir", dd, env=env)
        assert text.code == 0, text
        lines = [" ".join(line.split()) for line in text.out.splitlines()]
        # Under the answer and the time of loss, as on the console's report.
        assert lines[2] == medium_line, lines[:3]
        label = translate(language, "Personal data", {})  # the console's row name
        assert f"{label} {per}" in lines, lines
        # Each declared container once, the undeclared one not at all.
        assert sum(line.startswith(f"{label} ") for line in lines) == 2
