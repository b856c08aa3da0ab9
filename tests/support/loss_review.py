"""The console's loss review as the tests post it (tests/console/test_loss_review.py,
test_loss_question.py): the review page for a time typed, its facts, a piece's text and
how its question names the reader."""

from __future__ import annotations

import html
import re

from keyserver._domain.i18n import translations
from tests.support.console import csrf_of, signed_in_session
from tests.support.loss_form import MEDIUM

TYPED = "2026-12-03 18:30"


def review(
    url: str, token: str, language: str, typed: str = TYPED, *, approximate: bool = False
) -> tuple[str, dict[str, str]]:
    """The review page for a time typed (its text) and the form its confirm button posts.

    ``approximate``: the form's box "Approximate time" as posted; unticked by default here
    (the official sure of the time: the review asks about close releases), as the form
    posts an unticked box, with ``approximate_box`` and without ``approximate``.
    """
    browser = signed_in_session(url, token, language)
    page = browser.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    form = {
        "csrf": csrf_of(page),
        "name": MEDIUM,
        "lost_at": typed,
        "waiting_hours": "72",
        "reason": "",
        "reason_common": "stolen",
        "note": "",
        "approximate_box": "1",
        **({"approximate": "1"} if approximate else {}),
    }
    review = browser.post(url + "/console/medium/report-lost", data=form, timeout=30)
    assert review.status_code == 200, review.text[:2000]
    return html.unescape(review.text), form


def facts(text: str) -> list[tuple[str, str]]:
    """The review's facts (label, value as read: tags dropped, white space folded): the
    time before its button, then the rest after it (``facts-after``, console39)."""
    facts = text.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    if '<dl class="facts" id="facts-after">' in text:
        facts += text.split('<dl class="facts" id="facts-after">', 1)[1].split("</dl>", 1)[0]
    pairs = re.findall(r"<dt>([^<]*)</dt><dd[^>]*>(.*?)</dd>", facts, re.S)
    return [(label, " ".join(re.sub(r"<[^>]+>", " ", value).split())) for label, value in pairs]


def text_of(markup: str) -> str:
    """What a piece of the page reads, tags dropped and white space folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def city_reader(language: str, name: str = "reader") -> str:
    """The question's who: the city's own reader, named with the role (issue 12, eighteenth
    session: "who is reader?"), as the catalogue says it in ``language``."""
    said = translations(language).ngettext(
        "the city's reader %(who)s", "the city's readers %(who)s", 1
    )
    return str(said % {"who": name})
