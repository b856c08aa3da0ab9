"""The console says how many people's personal data a medium held (issue 12).

spec §report "How many people": each container's count as its writer declared it, and for
the medium "up to" their sum (the same person may be in several containers), with the
containers that declared nothing counted apart and said nothing of (never "0 people"): on
the medium page, the container page, the medium report (screen; the paper is the same
page, test_report_print_many.py) and its JSON. Over a real socket (SQLite).
"""

from __future__ import annotations

import html
import re

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.people import said
from keyserver._domain.settings import Settings
from tests.support.console import signed_in_session
from tests.support.world import activate, make_world

MEDIUM = "USB-PEOPLE-1"
DECLARED = {"住民基本台帳": 460_517, "給付金の口座": 12_000, "作業メモ": None}
# The medium's bound, in each language's words (spec §report).
UP_TO = {
    "en": "up to 472,517 people (declared)",
    "ja": "最大 472,517 人分(作成者の申告)",
}
UNDECLARED = {
    "en": "1 container declared no number",
    "ja": "人数の申告がないコンテナが 1 個あります",
}
PER = {"en": "460,517 people (declared by the writer)", "ja": "460,517 人分(作成者の申告)"}


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _facts(page: str) -> list[tuple[str, str]]:
    return [
        (_plain(dt), _plain(dd))
        for dt, dd in re.findall(r"<dt[^>]*>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    ]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_pages_say_the_declared_people(settings: Settings, console_url: str, language: str) -> None:
    world = make_world(settings, console_url)
    try:
        ids = {
            label: activate(world, medium=MEDIUM, label=label, people=n)[0]["container_id"]
            for label, n in DECLARED.items()
        }
        browser = signed_in_session(console_url, world.tokens["official"], language)
        fact = translate(language, "Personal data", {})
        # Before a loss report: each declared container's row, and the medium's bound.
        page = _plain(browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}).text)
        assert PER[language] in page and said(12_000).text(language) in page
        assert f"{translate(language, 'Personal data:', {})} {UP_TO[language]}" in page
        assert UNDECLARED[language] in page
        assert " 0 " not in page.replace(MEDIUM, "")
        # The container page: a fact row when declared, none when not.
        page = browser.get(f"{console_url}/console/container/{ids['住民基本台帳']}").text
        assert (fact, PER[language]) in _facts(page)
        page = browser.get(f"{console_url}/console/container/{ids['作業メモ']}").text
        assert fact not in [dt for dt, _ in _facts(page)]
        reported = world.call(
            "official", "POST", f"/v1/media/{MEDIUM}/loss-report", json={"reason": "lost"}
        )
        assert reported.status_code == 200, reported.text
        # The report: the medium's bound on page 1, each container's in its box.
        page = browser.get(f"{console_url}/console/medium/report", params={"name": MEDIUM}).text
        facts = _facts(page)
        assert (fact, f"{UP_TO[language]} {UNDECLARED[language]}") in facts
        assert (fact, PER[language]) in facts
        assert (fact, said(12_000).text(language)) in facts
        assert [dd for dt, dd in facts if dt == fact] == [
            f"{UP_TO[language]} {UNDECLARED[language]}",
            *sorted((PER[language], said(12_000).text(language)), key=page.index),
        ]
        doc = browser.get(f"{console_url}/console/medium/report.json", params={"name": MEDIUM})
        body = doc.json()
        assert (body["people_up_to"], body["people_undeclared"]) == (472_517, 1)
        assert {c["label"]: c["people"] for c in body["containers"]} == DECLARED
    finally:
        world.close()


def test_nothing_declared_says_nothing(settings: Settings, console_url: str) -> None:
    world = make_world(settings, console_url)
    try:
        activate(world, medium=MEDIUM, label="ledger")
        browser = signed_in_session(console_url, world.tokens["official"], "en")
        page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}).text
        assert "Personal data" not in page and 'id="people-up-to"' not in page
        world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json={"reason": "x"})
        page = browser.get(f"{console_url}/console/medium/report", params={"name": MEDIUM}).text
        assert "Personal data" not in page and "people" not in _plain(page)
    finally:
        world.close()
