"""Languages of the console: message catalogues, negotiation, localised dates and numbers.

Every string a person reads goes through one gettext catalogue per language
(``locale/<lang>/LC_MESSAGES/messages.po``, extracted with ``pybabel extract -F babel.cfg``).
The catalogues are compiled in memory when the app is built, with Babel's own compiler:
no binary ``.mo`` file is checked in or has to be built before ``make test`` on a fresh
clone, so a catalogue can never be stale against its ``.po`` source.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# Japanese first: the city's officials read Japanese; English for everyone else.
LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}

# Date patterns (CLDR); the UTC offset is always shown, so a printed report is unambiguous.
_DATETIME_PATTERN = {"ja": "y/MM/dd HH:mm:ss", "en": "d MMM y, HH:mm:ss"}


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def negotiate(accept_language: str | None, chosen: str | None) -> str:
    """The language to answer in: the one chosen in the console, else Accept-Language.

    Args:
        accept_language: The request's ``Accept-Language`` header.
        chosen: The language cookie (set by the language switch), if any.
    """
    if chosen in LANGUAGES:
        return chosen
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
    return sorted(weighted)[0][2] if weighted else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Formats:
    """Dates and numbers for one language, times in the configured zone."""

    language: str
    zone: tzinfo

    def datetime(self, value: datetime | str | None) -> str:
        """A time in the configured zone with its UTC offset.

        E.g. ``2026/12/04 19:27:57 (UTC+09:00)``. Accepts the service's RFC 3339 strings
        as well as datetimes; ``None`` gives "".
        """
        if value is None or value == "":
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = moment.astimezone(self.zone)
        offset = local.strftime("%z")
        text = format_datetime(
            local, _DATETIME_PATTERN[self.language], tzinfo=self.zone, locale=self.language
        )
        return f"{text} (UTC{offset[:3]}:{offset[3:]})"

    def number(self, value: int) -> str:
        """An integer with the language's grouping (``460,517``)."""
        return format_decimal(value, locale=self.language)

    def zone_name(self) -> str:
        """The zone's name as configured (``Asia/Tokyo``), for page footers."""
        return str(self.zone)

    def locale(self) -> Locale:
        """Babel's locale object of the language."""
        return Locale.parse(self.language)
