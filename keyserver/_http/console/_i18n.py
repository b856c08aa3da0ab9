"""Languages of the console: negotiation, localised dates and numbers.

Every string a person reads goes through the key server's one gettext catalogue
(keyserver/_domain/i18n.py), shared with the ``keyserver`` command's texts for officials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from babel import Locale
from babel.dates import format_datetime
from babel.lists import format_list
from babel.numbers import format_decimal
from markupsafe import Markup, escape

from keyserver._domain.i18n import DEFAULT_LANGUAGE, LANGUAGES, accepted_language, translations
from keyserver._http.console._shown import finalize

# The method Formats.datetime hides the type inside the class body.
_Moment = datetime

LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}

# Date patterns (CLDR); the UTC offset is always shown, so a printed report is unambiguous.
_DATETIME_PATTERN = {"ja": "y/MM/dd HH:mm:ss", "en": "d MMM y, HH:mm:ss"}
# To the minute: a time that is only known to about a minute (a deadline that will run
# from a confirmation not yet pressed) is not shown with seconds it does not have.
_MINUTE_PATTERN = {"ja": "y/MM/dd HH:mm", "en": "d MMM y, HH:mm"}
# A day alone (the days a medium's containers were sealed, on its page: console47).
_DATE_PATTERN = {"ja": "y/MM/dd", "en": "d MMM y"}
# A day without its year, beside a clock time that is "today" (the loss form's hint: issue
# 12, twelfth newcomer runs: near midnight "which day is today?" made both type the date).
_DAY_PATTERN = {"ja": "M月d日", "en": "d MMM"}
# A time typed, said back as the loss form will read it (its echo: issue 12, console43):
# the day of the week ("is that today?" at a glance, 木曜 two characters where (木) reads
# three), the year only when it is not this one (a year mistyped shows).
_SAID_BACK_PATTERN = {
    ("ja", False): "M/d E'曜' HH:mm",
    ("ja", True): "y/M/d E'曜' HH:mm",
    ("en", False): "EEE d MMM, HH:mm",
    ("en", True): "EEE d MMM y, HH:mm",
}


def negotiate(accept_language: str | None, chosen: str | None) -> str:
    """The language to answer in: the one chosen in the console, else Accept-Language.

    Args:
        accept_language: The request's ``Accept-Language`` header.
        chosen: The language cookie (set by the language switch), if any.
    """
    if chosen in LANGUAGES:
        return chosen
    return accepted_language(accept_language, DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class Formats:
    """Dates and numbers for one language, times in the configured zone."""

    language: str
    zone: tzinfo
    # The request's time (the service's injected clock): which offset "now" has in a zone
    # with summer time.
    now: datetime

    def datetime(
        self, value: datetime | str | None, *, seconds: bool = True, offset: bool = True
    ) -> str:
        """A time in the configured zone with its UTC offset.

        E.g. ``2026/12/04 19:27:57 (UTC+09:00)``, without ``:57`` if not ``seconds``.
        Without the offset only where a time with the same offset stands just before
        it on the page (the loss review's deadline below the time of loss). Accepts the service's
        RFC 3339 strings as well as datetimes; ``None`` gives "".
        """
        if value is None or value == "":
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = moment.astimezone(self.zone)
        text = format_datetime(
            local,
            (_DATETIME_PATTERN if seconds else _MINUTE_PATTERN)[self.language],
            tzinfo=self.zone,
            locale=self.language,
        )
        return f"{text} (UTC{self.offset(local)})" if offset else text

    def date(self, value: _Moment | str) -> str:
        """A day in the configured zone, with its year (``2026/12/03``, ``3 Dec 2026``).

        Only where the day is what matters (when a medium's containers were sealed, to
        tell one stick from another): the zone decides the day, no offset is shown.
        """
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = moment.astimezone(self.zone)
        return format_datetime(
            local, _DATE_PATTERN[self.language], tzinfo=self.zone, locale=self.language
        )

    def said_back(self, value: _Moment) -> str:
        """A time typed, as the loss form's echo says it back (``12/3 木曜 17:41``).

        Short, for the line under the field that changes as the official types: the year
        only when it is not this year's, the seconds only when there are some. With its
        offset, as every time the console shows (the house's rule; twenty-third session:
        the line first left it to the footer): a zone's offset changes with its summer
        time, and a time read back is the one the report will carry.
        """
        local = value.astimezone(self.zone)
        pattern = _SAID_BACK_PATTERN[
            self.language, local.year != self.now.astimezone(self.zone).year
        ]
        if local.second:
            pattern += ":ss"
        text = format_datetime(local, pattern, tzinfo=self.zone, locale=self.language)
        return f"{text} (UTC{self.offset(local)})"

    def today(self) -> str:
        """Today's date in the configured zone, short (``12月6日``, ``6 Dec``).

        The zone's day, not the server's or the browser's: a time alone typed in a form is
        read as today in this zone (Page.local_time), so this is the day it will mean.
        """
        return self._day(self.now)

    def _day(self, moment: _Moment) -> str:
        """``moment``'s date in the configured zone, short, without its year."""
        return format_datetime(
            moment.astimezone(self.zone),
            _DAY_PATTERN[self.language],
            tzinfo=self.zone,
            locale=self.language,
        )

    def dated_clock(self, value: _Moment | str, *, seconds: bool = False) -> str:
        """A time of day with its date, short (``12月3日 17:41``, ``3 Dec 17:41``).

        The first time of a block whose other times are said by the clock alone (the
        report's answer box: issue 12, twenty-second session, "17:41 頃" named no day on a
        report printed after midnight or read days later); the year and offset are in
        the full time of the facts under it.
        """
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return f"{self._day(moment)} {self.clock(moment, seconds=seconds)}"

    def clock(self, value: _Moment | str, *, seconds: bool = False) -> str:
        """A time of day in the configured zone, to the minute, no date (``23:57``).

        Only beside a time on the same day and offset that is shown in full (the loss
        review's last opening, next to the time of loss above it). With ``seconds``
        (``23:57:41``) where the seconds decide something (an opening just before the
        time of loss: :file:`confirm_loss.html`).
        """
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(self.zone).strftime("%H:%M:%S" if seconds else "%H:%M")

    def same_day(self, a: _Moment | str, b: _Moment | str) -> bool:
        """True if ``a`` and ``b`` fall on one date with one offset in the configured zone."""
        local = [
            (datetime.fromisoformat(v) if isinstance(v, str) else v).astimezone(self.zone)
            for v in (a, b)
        ]
        return local[0].date() == local[1].date() and local[0].utcoffset() == local[1].utcoffset()

    def minutes_between(self, earlier: _Moment | str, later: _Moment | str) -> int:
        """Whole minutes from ``earlier`` to ``later`` as both are shown to the minute.

        Counted between the minutes a page shows (23:57 to 23:58 is one minute, whatever the
        seconds), so a relative time never contradicts the clock time beside it.
        """
        start, end = (
            (datetime.fromisoformat(v) if isinstance(v, str) else v).replace(
                second=0, microsecond=0
            )
            for v in (earlier, later)
        )
        return int((end - start).total_seconds()) // 60

    def offset(self, at: _Moment | str | None = None) -> str:
        """The zone's UTC offset at ``at`` (default: now), as ``+09:00``.

        ``at`` is a datetime or the service's RFC 3339 string, as :meth:`datetime` takes.
        """
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        moment = (at or self.now).astimezone(self.zone)
        text = moment.strftime("%z")
        return f"{text[:3]}:{text[3:]}"

    def number(self, value: int) -> str:
        """An integer with the language's grouping (``460,517``)."""
        return format_decimal(value, locale=self.language)

    def list(self, items: Iterable[str]) -> Markup:
        """Items joined as the language joins a list (CLDR: ``a, b, and c``; ``a、b、c``).

        For a template: each item is shown as every value is (_shown.finalize: hidden
        characters as code points) and escaped unless it is already markup (a macro's
        output), and the "standard" pattern's joining words (", ", ", and ", "、") hold no
        character HTML reads, so the joined text is safe to mark as such.
        """
        escaped = [str(escape(finalize(item))) for item in items]
        return Markup(format_list(escaped, style="standard", locale=self.language))  # noqa: S704

    def sentences(self, items: Iterable[str]) -> Markup:
        """Sentences one after the other as the language writes them (``A. B?``; ``A。B?``).

        A space between them in English, none after 。 in Japanese (the loss review's
        sentence per person, then its question: issue 12). Each is shown and escaped as
        :meth:`list` does.
        """
        joiner = "" if self.language == "ja" else " "
        return Markup(joiner.join(str(escape(finalize(item))) for item in items))  # noqa: S704

    def zone_name(self) -> str:
        """The zone's name as configured (``Asia/Tokyo``), for page footers."""
        return str(self.zone)

    def locale(self) -> Locale:
        """Babel's locale object of the language."""
        return Locale.parse(self.language)


__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "Formats", "negotiate", "translations"]
