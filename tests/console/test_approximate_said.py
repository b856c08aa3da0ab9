"""A time of loss told as approximate is said "around" it, from the review to the paper
(issue 12, twenty-second session).

The loss form's box "Approximate time" is ticked by default (console39). With no reader
key release close before the time, nothing is counted earlier, and the report said the
time to the second ("03:22:00"), as if exact: three newcomers ticked the box and could not
tell whether it was kept, and two asked whether "around" widened the report. The review
now says the time "around"; the report is made with the time told (spec §loss
``told_at``) and counts from the margin the review checked before it (CLOSE_TO_LOSS, 15
minutes); the report, the press statement and the medium's page say "around 18:30 (as
told)" and the period covered from 18:15. Unticked (sure of the time), the time alone, as
before. Over a real socket (SQLite, real VOPRF), the clock at 2026-12-04 10:00 in
Asia/Tokyo.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import requests

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.support.console import csrf_of
from tests.support.loss_form import MEDIUM
from tests.support.loss_review import facts, review
from tests.support.openings import OPENINGS, opened

# The time typed (loss_review.TYPED) as each language's console says it, and 15 minutes
# before it (the period covered from), to the second as the report says a period's start.
SAID = {"ja": "2026/12/03 18:30 (UTC+09:00)", "en": "3 Dec 2026, 18:30 (UTC+09:00)"}
# The review says it as the form's echo said it while it was typed (console47): the
# weekday, the year only when it is not this one.
REVIEWED = {"ja": "12/3 木曜 18:30 (UTC+09:00)", "en": "Thu 3 Dec, 18:30 (UTC+09:00)"}
FROM = {"ja": "2026/12/03 18:15:00 (UTC+09:00)", "en": "3 Dec 2026, 18:15:00 (UTC+09:00)"}


def _report(url: str, token: str, language: str, approximate: bool) -> dict[str, str]:
    """Review, confirm as the review's button posts, and read back what each page says."""
    text, form = review(url, token, language, approximate=approximate)
    said = {"review": dict(facts(text))[translate(language, "Time of loss", {})]}
    button = text.split('action="/console/medium/report-lost/confirm"', 1)[1].split("</form>", 1)[0]
    confirm = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', button))
    assert confirm.get("approximate") == ("1" if approximate else None)
    session = requests.Session()
    session.headers["Accept-Language"] = language
    session.cookies.update(_cookies_of(url, token, language, session))
    page = session.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    done = session.post(
        url + "/console/medium/report-lost/confirm",
        data={**{k: html.unescape(v) for k, v in confirm.items()}, "csrf": csrf_of(page)},
        timeout=30,
    )
    assert done.status_code == 200, done.text[:2000]
    doc = session.get(url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30)
    said["told_at"] = str(doc.json().get("told_at"))
    said["lost_at"] = str(doc.json().get("lost_at"))
    for name, path in (("report", "/report"), ("press", "/press"), ("medium", "")):
        got = session.get(url + "/console/medium" + path, params={"name": MEDIUM}, timeout=30)
        assert got.status_code == 200, (path, got.text[:500])
        said[name] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", got.text)).split())
    assert form["approximate_box"] == "1"
    return said


def _cookies_of(url: str, token: str, language: str, session: requests.Session) -> dict[str, str]:
    form = session.get(url + "/console/sign-in", timeout=30)
    session.post(
        url + "/console/sign-in",
        data={"csrf": csrf_of(form), "token": token, "next": "/console/overview"},
        timeout=30,
    )
    return dict(session.cookies)


def _said(settings: Settings, url: str, language: str, approximate: bool) -> dict[str, str]:
    """A medium opened the day before (no release close before the time typed), reported."""
    with opened(settings, url, {"early": OPENINGS["early"]}) as world:
        return _report(url, world.tokens["official"], language, approximate)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_time_told_as_approximate_is_said_around_it(
    settings: Settings, console_url: str, language: str
) -> None:
    said = _said(settings, console_url, language, approximate=True)
    assert said["review"] == translate(language, "around %(at)s", {"at": REVIEWED[language]})
    # spec §loss: the time told kept, the count from CLOSE_TO_LOSS before it.
    times = [datetime.fromisoformat(said[k]) for k in ("lost_at", "told_at")]
    assert times == [datetime(2026, 12, 3, 9, m, tzinfo=UTC) for m in (15, 30)], said
    around = translate(language, "around %(at)s (as told)", {"at": SAID[language]})
    assert f"{translate(language, 'Lost at', {})} {around}" in said["report"]
    period = f"{translate(language, 'Period covered', {})} "
    assert period + translate(language, "from %(at)s", {"at": FROM[language]}) in said["report"]
    assert translate(language, "Time of loss: %(lost)s.", {"lost": around}) in said["medium"]
    assert SAID[language] in said["press"] and "18:30:00" not in said["press"]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_time_the_official_is_sure_of_is_said_alone(
    settings: Settings, console_url: str, language: str
) -> None:
    said = _said(settings, console_url, language, approximate=False)
    assert said["review"] == REVIEWED[language]
    assert said["told_at"] == "None"
    around = translate(language, "around %(at)s (as told)", {"at": SAID[language]})
    assert around not in said["report"] and around not in said["medium"]
