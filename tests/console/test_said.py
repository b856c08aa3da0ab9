"""The report's words on the console's pages (keyserver/_http/console/_said.py): a domain
message said in the page's language with its values escaped and shown through the display
policy (a stored label's hidden characters as code points), the template's markup kept.

Issue 12, twenty-first session: report.html's own copies of the "depends" lines and of the
counts against the time told were replaced by report_words' messages through this path, so
that path must keep what the templates' gettext calls kept (_shown).
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from keyserver._domain import report_words
from keyserver._domain.i18n import N_
from keyserver._http.console._said import said


def test_a_message_is_said_with_its_values_escaped_and_shown() -> None:
    message = N_(
        "%(label)s: %(answer)s (%(at)s)",
        label="evil\u202etxt.exe<script>",
        answer=report_words.answer_name("opened"),
        at="17:40:15",
    )
    assert said(message, "en") == ("evil&lt;U+202E&gt;txt.exe&lt;script&gt;: Opened (17:40:15)")
    # The template's markup in place of a value; the language's words for the rest.
    bold = Markup("<strong>late</strong>")
    assert said(message, "ja", label=bold) == "<strong>late</strong>: 開かれた (17:40:15)"
    # A nested message's values escaped too (the caution's list of releases).
    close = report_words.close_said(
        [{"label": "<b>late</b>", "at": "t", "confirmed": True}],
        "opened",
        lambda at: Markup("<time>17:40:15</time>"),
        lambda parts: Markup(", ").join(said(p, "en") for p in parts),
    )
    assert said(close, "en") == (
        "Just before the time of loss: “&lt;b&gt;late&lt;/b&gt;” opened at"
        " <time>17:40:15</time>. Lost before then, the answer would be Opened."
    )


def test_a_count_is_said_as_the_command_says_it() -> None:
    counted = report_words.counted_said(1024, 1, "17:40:15", "17:41")
    assert said(counted, "en") == counted.text("en")
    assert said(counted, "ja") == counted.text("ja")
    assert "1,024" in said(counted, "en")


def test_the_report_page_says_the_reports_words_from_report_words() -> None:
    """Issue 12, twenty-second session: the caution's line on screen (close-short) and the
    printed legend were the report page's own copies of words report_words keeps for
    ``keyserver report`` too; a wording changed in one stayed in the other. The page now
    says them through report_words (close_said, meanings): none of their texts is its."""
    template = (
        Path(report_words.__file__).parents[1] / "_http/console/templates/report.html"
    ).read_text(encoding="utf-8")
    assert "close_said(" in template and "meanings(" in template
    copies = [
        "Just before the time of loss: %(releases)s.",
        "“%(label)s” opened at %(at)s",
        "key of “%(label)s” given out at %(at)s, opening not confirmed",
        *report_words._MEANINGS.values(),
    ]
    assert [text for text in copies if text in template] == []
