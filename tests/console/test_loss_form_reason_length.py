"""A reason too long for the loss report is refused on the form itself (issue 12, sixteenth
session).

The service takes a reason of at most REASON_MAX (2,000) characters; a longer one was
refused only at the confirmation, on the service's error page, after the review, and what
was typed was lost. The form says the limit (``maxlength``) and the server refuses a longer
one when the form is posted, with the form shown again, everything typed kept, the error
beside the fields naming the field to fix, in Japanese and English; nothing is reported.
The reason counted is the one recorded: the choice with the details added to it, and for
the internal reason the note added to that (_routes_loss._loss_fields). Over a real
socket (SQLite).
"""

from __future__ import annotations

import html

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._domain.validation import REASON_MAX
from tests.support.loss_form import EXAMPLE, MEDIUM, official_browser, post, tag_of, value_of


def _alert(text: str) -> str:
    return html.unescape(text.split('id="loss-error"', 1)[1].split("</p>", 1)[0])


@pytest.mark.parametrize("language", ["ja", "en"])
def test_details_too_long_are_refused_on_the_form_with_everything_kept(
    settings: Settings, console_url: str, language: str
) -> None:
    browser = official_browser(settings, console_url, language)
    page = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    # The form says the limit: a browser stops typing there.
    assert f'maxlength="{REASON_MAX}"' in tag_of(page.text, "reason")
    assert f'maxlength="{REASON_MAX}"' in tag_of(page.text, "note")
    details = "電車内で紛失。" * 300  # 2,100 characters
    refused = post(browser, console_url, EXAMPLE, reason=details, note="担当 A")
    assert refused.status_code == 400, refused.text[:500]
    said = translate(
        language,
        "The reason is %(n)s characters long: shorten it to %(max)s at most.",
        {"n": len(details), "max": REASON_MAX},
    )
    assert said in _alert(refused.text)
    # The link goes to the field to fix (the details typed, not the choices).
    assert '<a href="#reason">' in refused.text.split('id="loss-error"', 1)[1].split("</p>")[0]
    assert 'aria-invalid="true"' in tag_of(refused.text, "reason")
    assert "autofocus" in tag_of(refused.text, "reason")
    # Everything typed kept.
    assert value_of(refused.text, "reason") == details
    assert value_of(refused.text, "note") == "担当 A"
    assert value_of(refused.text, "lost_at") == EXAMPLE
    # Nothing was reported: the medium's page still offers the first report.
    again = browser.get(console_url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    assert 'id="review-loss" class="button primary"' in again.text


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_note_that_makes_the_internal_reason_too_long_is_refused_on_the_note(
    settings: Settings, console_url: str, language: str
) -> None:
    """The reason itself fits; with the note added (the internal reason recorded: "reason /
    note") it does not: the note is the field to fix, shown unfolded."""
    browser = official_browser(settings, console_url, language)
    reason = "x" * (REASON_MAX - 10)
    note = "y" * 10
    refused = post(browser, console_url, EXAMPLE, reason=reason, note=note)
    assert refused.status_code == 400, refused.text[:500]
    said = translate(
        language,
        "The reason and the internal note are %(n)s characters together: shorten the note"
        " (%(max)s at most together).",
        {"n": REASON_MAX - 10 + len(" / ") + 10, "max": REASON_MAX},
    )
    assert said in _alert(refused.text)
    assert 'aria-invalid="true"' in tag_of(refused.text, "note")
    assert "autofocus" in tag_of(refused.text, "note")
    assert 'aria-invalid="true"' not in tag_of(refused.text, "reason")
    assert '<details id="advanced" open>' in refused.text
    assert (value_of(refused.text, "reason"), value_of(refused.text, "note")) == (reason, note)


def test_a_reason_of_the_limit_is_reviewed(settings: Settings, console_url: str) -> None:
    """At the limit exactly (the choice's text counts, with the details added to it): the
    review shows it, and the confirmation reports the loss with it."""
    browser = official_browser(settings, console_url, "en")
    chosen = translate("en", "%(reason)s: %(details)s", {"reason": "Stolen", "details": ""})
    details = "z" * (REASON_MAX - len(chosen))
    fields = {"reason_common": "stolen", "reason": details, "note": ""}
    review = post(browser, console_url, EXAMPLE, **fields)
    assert review.status_code == 200, review.text[:500]
    assert details in html.unescape(review.text)
    done = post(browser, console_url, EXAMPLE, path="/confirm", **fields)
    assert done.status_code in {200, 303}, done.text[:500]
    # One more character: refused on the form.
    refused = post(browser, console_url, EXAMPLE, **{**fields, "reason": details + "z"})
    assert refused.status_code == 400
