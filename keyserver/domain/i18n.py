"""The one message catalogue of the key server: the console's pages and the command's texts.

Officials read both, in Japanese or English, so both take their strings from one gettext
catalogue per language (``keyserver/locale/<lang>/LC_MESSAGES/messages.po``; the msgid is
the English text with named ``%(placeholders)s``). What is extracted from where is listed
in ``babel.cfg`` at the repository root (DEVELOPERS.md says how to update the catalogues).

The ``.po`` files are compiled in memory on first use, with Babel's own compiler: no binary
``.mo`` is checked in or has to be built before ``make test`` on a fresh clone, so a
catalogue can never be stale against its source.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
# Japanese first: the city's officials read Japanese; English for everyone else.
LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`)."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}")
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def gettext(language: str, message: str, **values: object) -> str:
    """``message`` in ``language``, with its ``%(name)s`` placeholders filled in."""
    text = translations(language).gettext(message)
    return text % values if values else text
