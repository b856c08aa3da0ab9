"""A medium reported again, and one restored: their times of loss said as told (issue 12,
console45).

A time marked approximate is reported from 15 minutes before it (spec §loss told_at), the
time told kept. A second report's banner said "kept the earlier time of loss 18:15:00
(this report said 09:45:00)" for times told "around 18:30" and "around 09:30", and the
restored medium's history "An earlier loss (lost at 18:15:00 …)": the starts of the
periods covered, read as the times of loss. Both now say the time told, "around" it, as
the report's facts do; the loss report's answer carries each report's ``told_at``.
``keyserver report-loss`` says the same
(tests/keyserver_cli/test_languages.py). Over a real socket (SQLite), in both languages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._domain.validation import fmt_time
from tests.support.console import signed_in_session
from tests.support.loss_form import MEDIUM
from tests.support.loss_review import text_of
from tests.support.openings import OPENINGS, opened
from tests.support.world import World

# Told "around 18:30" on 3 Dec and "around 09:30" on 4 Dec (Tokyo), each reported from
# 15 minutes before; the clock at 4 Dec 10:00.
FIRST = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
AGAIN = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
MARGIN = timedelta(minutes=15)
SAID = {
    "ja": ("2026/12/03 18:30 (UTC+09:00)", "2026/12/04 09:30 (UTC+09:00)"),
    "en": ("3 Dec 2026, 18:30 (UTC+09:00)", "4 Dec 2026, 09:30 (UTC+09:00)"),
}
COUNTED = ("18:15", "09:15")


def _report(world: World, told: datetime) -> dict[str, Any]:
    body = {
        "reason": "lost on the train",
        "lost_at": (told - MARGIN).isoformat(),
        "told_at": told.isoformat(),
    }
    resp = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _around(language: str, at: str) -> str:
    return translate(language, "around %(at)s", {"at": at})


def _section(page: str, element_id: str) -> str:
    found = re.search(rf'<(section|div) [^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found is not None, page[:2000]
    return text_of(found.group(2))


def test_a_second_report_and_the_history_say_the_times_told(
    settings: Settings, console_url: str
) -> None:
    with opened(settings, console_url, {"late": OPENINGS["late"]}) as world:
        _report(world, FIRST)
        again = _report(world, AGAIN)
        # The answer says each report's time told beside its lost_at (spec §loss).
        assert again["kept_earlier"] == ["lost_at"]
        assert again["earlier_report"]["told_at"] == fmt_time(FIRST)
        assert again["requested"]["told_at"] == fmt_time(AGAIN)
        entries = world.call("auditor", "GET", "/v1/audit", params={"action": "suspend"})
        seq = entries.json()["entries"][-1]["seq"]
        token = world.tokens["official"]
        banners = {}
        for language in ("ja", "en"):
            browser = signed_in_session(console_url, token, language)
            page = browser.get(
                f"{console_url}/console/medium/report",
                params={"name": MEDIUM, "reported": str(seq)},
                timeout=30,
            )
            assert page.status_code == 200, page.text[:500]
            banners[language] = _section(page.text, "earlier-report")
        resp = world.call(
            "official", "POST", f"/v1/media/{MEDIUM}/restore", json={"reason": "found"}
        )
        assert resp.status_code == 200, resp.text
        histories = {}
        for language in ("ja", "en"):
            browser = signed_in_session(console_url, token, language)
            page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
            assert page.status_code == 200, page.text[:500]
            histories[language] = _section(page.text, "earlier-loss")
    for language in ("ja", "en"):
        first, second = SAID[language]
        kept = translate(
            language,
            "kept the earlier time of loss %(kept)s (this report said %(asked)s)",
            {"kept": _around(language, first), "asked": _around(language, second)},
        )
        assert kept in banners[language], banners[language]
        assert _around(language, first) in histories[language], histories[language]
        for counted in COUNTED:  # the periods' starts are no time of loss
            assert counted not in banners[language] + histories[language]
