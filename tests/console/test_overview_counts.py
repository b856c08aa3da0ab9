"""The overview says what its counts are of: every container, over how many media (issue 12).

Thirteenth session's newcomer runs: the story has four containers on two media, three on
the lost one, and a reader doubted the overview's "Active 4". The heading now says the
counts are of all media together and how many media that is; containers registered on no
medium (``rwc seal --no-medium``) are counted too, and a line says how many. Over a real
socket (SQLite), in Japanese and English.
"""

from __future__ import annotations

import html
import re

import pytest

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.console import committed, signed_in_session

TEXTS = {
    "en": {
        "heading": "Containers by state (all 2 media together)",
        "one_heading": "Containers by state (1 medium)",
        "no_medium": "Of these, 1 container is on no medium.",
        "search": "Medium's name (part of it is enough)",
    },
    "ja": {
        "heading": "状態別のコンテナ数 (全 2 媒体の合計)",
        "one_heading": "状態別のコンテナ数 (全 1 媒体の合計)",
        "no_medium": "うち 1 件はどの媒体にもありません。",
        "search": "媒体名 (一部でも可)",
    },
}
BOOT = Actor(name="bootstrap", roles=ROLES, local=True)


def _seed(settings: Settings, media: dict[str | None, int]) -> str:
    """An official's token; ``media``: how many active containers on each (None: no medium)."""
    service = KeyService(settings)
    try:
        official = service.add_principal(BOOT, "tanaka", ["official"])["token"]
        writer = service.authenticate(service.add_principal(BOOT, "vendor", ["writer"])["token"])
        for medium, n in media.items():
            for i in range(n):
                committed(service, writer, f"ledger-{i}", medium, reader_groups=["clerks"])
        return str(official)
    finally:
        service.close()


def _overview(console_url: str, token: str, language: str) -> str:
    browser = signed_in_session(console_url, token, language)
    page = browser.get(console_url + "/console/overview", timeout=30)
    assert page.status_code == 200
    return html.unescape(page.text)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_counts_say_they_are_of_all_media(
    settings: Settings, console_url: str, language: str
) -> None:
    texts = TEXTS[language]
    # The story: three containers on the lost medium, one on another.
    token = _seed(settings, {"USB-2026-0502": 3, "USB-2026-0417": 1})
    page = _overview(console_url, token, language)
    heading = re.search(r'<h2 id="counts-heading">([^<]*)</h2>', page)
    assert heading is not None and heading.group(1) == texts["heading"], page
    # The count that was doubted, under that heading: the four, not the lost medium's three.
    assert '<a href="/console/search?q=&state=active">4</a>' in page.split(heading.group(0))[1]
    assert 'id="counts-no-medium"' not in page
    # The next step, said where the cursor waits: the medium, by part of its name; nothing
    # more under it (fourteenth session's second newcomer pair: a line "on the medium's
    # page you found" was read as "the medium was found").
    assert f'<label for="q">{texts["search"]}</label>' in page
    form = page.split('role="search"', 1)[1].split("</form>", 1)[0]
    assert 'class="hint"' not in form
    # Nor in the field (seventeenth session): its placeholder repeated the label ("part
    # of") and listed what else it matches, read by every newcomer before typing; the
    # search page's own field says it.
    assert "placeholder" not in form
    # One primary action on the page: the search.
    assert len(re.findall(r'class="button primary"', page)) == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_containers_on_no_medium_are_said(
    settings: Settings, console_url: str, language: str
) -> None:
    texts = TEXTS[language]
    token = _seed(settings, {"USB-2026-0502": 1, None: 1})
    page = _overview(console_url, token, language)
    heading = re.search(r'<h2 id="counts-heading">([^<]*)</h2>', page)
    assert heading is not None and heading.group(1) == texts["one_heading"], page
    line = re.search(r'<p class="muted" id="counts-no-medium">([^<]*)</p>', page)
    assert line is not None and line.group(1) == texts["no_medium"], page
