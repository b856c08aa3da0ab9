"""The key server's ONE message catalogue: the console's pages and the ``keyserver`` command.

Officials read both, in Japanese or English, so a text has one translation whichever way
they meet it. The catalogue is gettext's, one ``.po`` file per language in
``keyserver/locale/<lang>/LC_MESSAGES/messages.po``; the message id is the English text,
values are named ``%(name)s`` placeholders. The ``.po`` files are compiled in memory with
Babel's own compiler the first time a language is used: no binary ``.mo`` file is checked
in or built, so a fresh clone works without a build step and a catalogue can never be
stale against its source. Extraction and update: DEVELOPERS.md (``babel.cfg``).

Python code marks a text with :func:`N_`, which returns a :class:`Message` (the id and its
values) translated only when shown, in the language of whoever reads it: the command's
(``KEYSERVER_LANG`` or the locale, keyserver/_cli/main.py) or the console page's
(Accept-Language or the switch).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
# Japanese first: the city's officials read Japanese; English for everyone else.
LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"  # of the console without a choice or Accept-Language


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`).

    Raises:
        ValueError: ``language`` is not one of :data:`LANGUAGES`.
    """
    if language not in LANGUAGES:
        raise ValueError(f"no message catalogue for {language!r}")
    # Imported here: the `keyserver` command loads Babel only when it has a text to show.
    from babel.messages.mofile import write_mo  # noqa: PLC0415
    from babel.messages.pofile import read_po  # noqa: PLC0415
    from babel.support import Translations  # noqa: PLC0415

    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def translate(language: str, msgid: str, values: Mapping[str, object] | None = None) -> str:
    """``msgid`` in ``language`` with its ``%(name)s`` values filled in.

    A value that is itself a :class:`Message` is translated into the same language.
    """
    return _fill(translations(language).gettext(msgid), language, values)


def _fill(text: str, language: str, values: Mapping[str, object] | None) -> str:
    if not values:
        return text
    return text % {k: v.text(language) if isinstance(v, Message) else v for k, v in values.items()}


def accepted_language(accept_language: str | None, default: str) -> str:
    """The one of :data:`LANGUAGES` an ``Accept-Language`` header prefers, else ``default``.

    RFC 9110 §12.5.4: tags by quality (``q=0`` refuses), then in the order given; only the
    primary subtag counts (``ja-JP`` is ``ja``). A quality that is not a number drops its
    tag rather than the header. The console (default Japanese) and the API's problem
    details (default English, spec §problems) read the header with this one function.
    """
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, index, primary))
    return sorted(weighted)[0][2] if weighted else default


@dataclass(frozen=True)
class Message:
    """A text for a person: its message id and values, translated when shown.

    Attributes:
        plural: For a text with a count (:func:`ngettext`): its plural message id; the
            catalogue's form for ``count`` is shown ("1 container", "2 containers";
            Japanese has one form for every count).
        count: The number that picks the form.
    """

    msgid: str
    values: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    count: int = 0

    def text(self, language: str) -> str:
        """The message in ``language``."""
        if self.plural is None:
            return translate(language, self.msgid, self.values)
        form = translations(language).ngettext(self.msgid, self.plural, self.count)
        return _fill(form, language, self.values)

    def __str__(self) -> str:
        """English: logs, ``--json`` output and exception texts stay stable for scripts."""
        return self.text("en")


def N_(msgid: str, /, **values: object) -> Message:  # noqa: N802 - gettext's marker name
    """Mark ``msgid`` for the catalogue (``pybabel extract`` finds ``N_``) with its values."""
    return Message(msgid, values)


def ngettext(singular: str, plural: str, count: int, /, **values: object) -> Message:
    """Mark a text with a count for the catalogue, in its singular and plural form.

    ``pybabel extract`` finds ``ngettext`` (one of its default keywords: both ids), as it
    finds :func:`N_`; unlike gettext's own ``ngettext`` this returns a :class:`Message`,
    translated when shown, in the form of ``count``. The count goes in ``values`` too if
    the text says it.
    """
    return Message(singular, values, plural=plural, count=count)


def text(message: str | Message, language: str) -> str:
    """A text that may be a :class:`Message` (translated) or plain (shown as it is)."""
    return message.text(language) if isinstance(message, Message) else message


# The lead sentence of a refusal for people, by problem slug (spec §problems), before the
# server's own detail: the console's error page and the command say the same thing.
PROBLEM_LEADS: Mapping[str, Message] = {
    "not-found": N_("Nothing matched what you asked for. Nothing was changed."),
    "forbidden": N_("Your role does not allow this. Nothing was changed."),
    "invalid-request": N_("Some of what you entered cannot be used. Nothing was changed."),
    "conflict": N_("This cannot be done in the current state. Nothing was changed."),
    "destroyed": N_("These keys were destroyed and cannot be brought back."),
    "unavailable": N_(
        "The key server's database is not available. Nothing was changed. Try again in a minute."
    ),
}
DEFAULT_LEAD = N_("The key server refused this. Nothing was changed.")


def problem_lead(slug: str) -> Message:
    """The lead sentence for a refusal with problem ``slug``."""
    return PROBLEM_LEADS.get(slug, DEFAULT_LEAD)


# Field names a refusal may name (spec §conventions), by the name the protocol gives them:
# the English text IS the member's name, so the API problem's detail stays as it was,
# and a Japanese page names the field in Japanese.
FIELD_NAMES: Mapping[str, Message] = {
    "reason": N_("reason"),
    "public_reason": N_("public_reason"),
    "label": N_("label"),
    "medium": N_("medium"),
    "name": N_("name"),
    "group": N_("group"),
    "organisation": N_("organisation"),
    "issuer": N_("issuer"),
    "reader": N_("reader"),
    "reader group": N_("reader group"),
    "actor": N_("actor"),
    "actor name": N_("actor name"),
    "search text": N_("search text"),
    "container id": N_("container id"),
    "lost_at": N_("lost_at"),
    "told_at": N_("told_at"),
    "since": N_("since"),
    "expires_at": N_("expires_at"),
    "not_after": N_("not_after"),
    "destroy_after": N_("destroy_after"),
}


def field_name(what: str | Message) -> str | Message:
    """The field ``what`` as a catalogue message when it has one, else as it is."""
    return FIELD_NAMES.get(what, what) if isinstance(what, str) else what
