"""The domain's report words (keyserver/_domain/report_words.py) as the console's pages say them.

Issue 12, twenty-first session: report.html kept its own copies of the lines of "Depends on
the time of loss" and of a count against the time told, beside report_words' for
``keyserver report``: a wording changed in one was left in the other. The pages now say
the domain's messages through the ``said`` filter; a template adds only its markup (a
file's label in bold, an answer's colour), by a value of its own for one of the message's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jinja2
from markupsafe import Markup, escape

from keyserver._domain import report_words
from keyserver._domain.i18n import Message, translations
from keyserver._http.console._shown import finalize


def said(message: object, language: str, **markup: Markup) -> Markup:
    """``message`` in ``language`` as the page writes it, ``markup`` in place of its values.

    Each value escaped and through the display policy (_shown.finalize: security
    decision, the templates' one text path, as their gettext calls' variables), a nested
    message said so too, markup (a macro's output, the template's own) as it is. The
    catalogue's text is trusted as jinja2's gettext trusts it.
    """
    if isinstance(message, Markup):
        return message
    if not isinstance(message, Message):
        return escape(finalize(message))
    values = {name: markup.get(name, value) for name, value in message.values.items()}
    catalogue = translations(language)
    form = (
        catalogue.gettext(message.msgid)
        if message.plural is None
        else catalogue.ngettext(message.msgid, message.plural, message.count)
    )
    shown = {
        name: value if isinstance(value, int) else said(value, language)
        for name, value in values.items()
    }
    return Markup(form) % shown if shown else Markup(form)  # noqa: S704 - the catalogue's


def install(env: jinja2.Environment, language: str) -> None:
    """Give ``env`` the ``said`` filter and the report's words (report_words)."""

    def close_said(
        events: Sequence[dict[str, Any]],
        answer: str | None,
        at: Callable[[Any], Markup],
        join: Callable[[Sequence[Markup]], Markup],
    ) -> Message:
        # A list of releases as the page joins it (Formats.list), each said in the
        # language first: each is a message.
        return report_words.close_said(
            events, answer, at, lambda parts: join([said(p, language) for p in parts])
        )

    env.filters["said"] = lambda message, **markup: said(message, language, **markup)
    env.globals["depends_said"] = report_words.depends_said
    env.globals["headline_said"] = report_words.headline_said
    env.globals["press_cases"] = report_words.press_cases
    env.globals["close_said"] = close_said
    env.globals["counted_said"] = report_words.counted_said
    env.globals["meanings"] = report_words.meanings
    env.globals["reader_meant"] = report_words.READER_MEANT
    env.globals["created"] = report_words.CREATED
