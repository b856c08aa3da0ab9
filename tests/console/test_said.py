"""The report's words on the console's pages (keyserver/_http/console/_said.py): a domain
message said in the page's language with its values escaped and shown through the display
policy (a stored label's hidden characters as code points), the template's markup kept.

Issue 12, twenty-first session: report.html's own copies of the "depends" lines and of the
counts against the time told were replaced by report_words' messages through this path, so
that path must keep what the templates' gettext calls kept (_shown).
"""

from __future__ import annotations

from markupsafe import Markup

from keyserver._domain import report_words
from keyserver._domain.i18n import N_
from keyserver._http.console._said import said


def test_a_message_is_said_with_its_values_escaped_and_shown() -> None:
    message = N_(
        "%(label)s: %(answer)s — %(who)s opened it at %(at)s",
        label="evil\u202etxt.exe<script>",
        answer=report_words.answer_name("opened"),
        who=N_("%(name)s (a city reader account, not the finder)", name="<b>clerk</b>"),
        at=Markup("<time>17:40:15</time>"),
    )
    assert said(message, "en") == (
        "evil&lt;U+202E&gt;txt.exe&lt;script&gt;: Opened — &lt;b&gt;clerk&lt;/b&gt; (a city"
        " reader account, not the finder) opened it at <time>17:40:15</time>"
    )
    # The template's markup in place of a value; the language's words for the rest.
    bold = Markup("<strong>late</strong>")
    japanese = said(message, "ja", label=bold)
    assert japanese.startswith("<strong>late</strong>: 開かれた"), japanese
    assert "&lt;b&gt;clerk&lt;/b&gt;" in japanese and "<time>17:40:15</time>" in japanese


def test_a_count_is_said_as_the_command_says_it() -> None:
    counted = report_words.counted_said(1024, 1, "17:40:15", "17:41")
    assert said(counted, "en") == counted.text("en")
    assert said(counted, "ja") == counted.text("ja")
    assert "1,024" in said(counted, "en")
