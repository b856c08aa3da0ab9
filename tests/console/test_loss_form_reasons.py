"""The loss form's reason (issue 12): common reasons one click each, details added to them.

Moved out of test_loss_form.py (the module-length gate). Over a real socket (SQLite), the
clock fixed at 2026-12-04 10:00 in Asia/Tokyo.
"""

from __future__ import annotations

import html

import pytest

from keyserver._domain.settings import Settings
from tests.support.console import official_with_medium, signed_in_session
from tests.support.loss_form import EXAMPLE, MEDIUM, loss_reasons
from tests.support.loss_form import post as _post


@pytest.mark.parametrize(
    ("language", "choice", "typed", "recorded"),
    [
        ("ja", "stolen", "", "盗難"),  # one click: the words the official saw, in Japanese
        ("en", "outside", "", "Lost outside the office (e.g. in transit)"),
        # Details are added to the choice, both kept (issue 12, fifteenth session: "or in
        # your own words" left both newcomers unsure which one counted).
        ("ja", "stolen", " 鞄ごと盗まれた ", "盗難: 鞄ごと盗まれた"),
        (
            "en",
            "outside",
            "left on the train",
            "Lost outside the office (e.g. in transit): left on the train",
        ),
        ("en", "", "left on the train", "left on the train"),  # details alone are the reason
    ],
)
def test_a_common_reason_is_one_click(
    settings: Settings, console_url: str, language: str, choice: str, typed: str, recorded: str
) -> None:
    """A newcomer typed the reason through the IME: a datalist's suggestions showed only
    after a click into the field (issue 12). The common reasons are radio buttons; the
    review page, and the confirmation it posts, carry the chosen words, with the details
    typed beside them; the confirmation posts them so composed, and they are recorded as
    the review showed them."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, language)
    page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    review = _post(browser, console_url, EXAMPLE, reason=typed, reason_common=choice, note="")
    assert not choice or f'name="reason_common" value="{choice}"' in page.text
    assert review.status_code == 200
    shown = html.unescape(review.text.split('<dd id="review-reason">', 1)[1].split("<span")[0])
    assert shown.strip() == recorded
    # The confirmation posts the fields as typed and composes them as the review did: the
    # one reason typed is both the recorded and the printed one.
    _post(browser, console_url, EXAMPLE, "/confirm", reason=typed, reason_common=choice, note="")
    assert loss_reasons(settings, MEDIUM) == [(recorded, recorded)]


def test_an_unknown_common_reason_is_no_reason(settings: Settings, console_url: str) -> None:
    """Only our own texts are recorded from a choice: an unknown one counts as none."""
    token = official_with_medium(settings, MEDIUM)
    browser = signed_in_session(console_url, token, "en")
    refused = _post(browser, console_url, EXAMPLE, reason="", reason_common="<script>")
    assert refused.status_code == 400
    assert "Pick a reason, or type one under Details." in refused.text
    reasons = refused.text[refused.text.index('id="reasons"') :]
    assert " checked" not in reasons[: reasons.index("</fieldset>")]
