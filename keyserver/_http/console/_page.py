"""What every console page needs: the signed-in principal, the language, the renderer.

Templates are Jinja2 with autoescaping on for every template (a label such as
``<script>`` is shown as text), one environment per language with that language's
catalogue installed, so every string goes through gettext.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import jinja2
from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from keyserver._domain import people, report_words
from keyserver._domain.context import ADMIN, OFFICIAL, OVERSIGHT
from keyserver._domain.errors import InvalidRequestError, KeyServerError, NotFoundError
from keyserver._domain.i18n import N_, Message, problem_lead, text
from keyserver._domain.lifecycle import Actor
from keyserver._domain.settings import display_zone
from keyserver._domain.system_reasons import shown_reason
from keyserver._http.console import _i18n, _said, _security, _shown
from keyserver._http.console._report_told import covered_why
from keyserver._http.deps import get_context, get_service
from keyserver._service import KeyService, RequestContext

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MAX_FIELDS = 40
# A typed time, year first (issue 12): "2026-12-05 18:30", "2026/12/05 18:30",
# "2026-12-05T18:30", seconds optional. Only year-first forms: "12/05/2026" is 12 May to
# some readers and 5 December to others, so it is refused with an example rather than guessed.
_TYPED_TIME = re.compile(
    r"(?P<y>\d{4})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})[ T]"
    r"(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?"
)
# The forms the console itself shows times in, so an official can type back what they read
# (a newcomer typed "5 Dec 2026 18:30" and was refused): Japanese year-month-day with its
# own marks, and English day, month name, year (a month name is never ambiguous, unlike
# 12/05/2026). Both are read in the configured zone, like the year-first form.
_TYPED_TIME_JA = re.compile(
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日 ?"
    r"(?P<hh>\d{1,2})(?::|時)(?P<mm>\d{2})(?:(?::|分)(?P<ss>\d{2})?秒?)?"
)
_TYPED_TIME_EN = re.compile(
    r"(?P<d>\d{1,2}) (?P<mon>[A-Za-z]{3})[a-z]* (?P<y>\d{4}),? "
    r"(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?"
)
# A time alone (issue 12, sixth newcomer run): most losses are reported the day they
# happen, and typing the date is where a wrong date slips into the report. "18:06" is
# today in the configured zone; the loss form refuses one later than now rather than
# guessing yesterday (_routes_loss).
_TYPED_CLOCK = re.compile(r"(?P<hh>\d{1,2})(?::|時)(?P<mm>\d{2})(?:(?::|分)(?P<ss>\d{2})?秒?)?分?")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# A 12-hour clock with its half of the day (issue 12, fourth newcomer run typed
# "2026-12-05 4:09 PM" and was told to write the date year first, though it was): AM/PM
# after the time, 午前/午後 before it. The mark makes the hour unambiguous, so it is read;
# without a mark the hour is the 24-hour clock, as before.
_HALF_EN = re.compile(r"\s*(?P<half>[ap])\.?m\.?$", re.IGNORECASE)
_HALF_JA = re.compile(r"(?P<half>午前|午後)\s*(?=\d{1,2}(?::|時))")
_HALF_HOURS = 12
# A date the console reads, at the start of a typed time: with it and an AM/PM mark, a
# refusal is about the hour, not the date.
_TYPED_DATE = re.compile(
    r"\d{4}(?P<sep>[-/])\d{1,2}(?P=sep)\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日|\d{1,2} [A-Za-z]{3}"
)


def _half_of_day(text: str) -> tuple[str, bool | None]:
    """``text`` without its AM/PM (午前/午後) mark, and whether the mark said PM."""
    found = _HALF_EN.search(text)
    if found is not None:
        return text[: found.start()].rstrip(), found["half"].lower() == "p"
    found = _HALF_JA.search(text)
    if found is not None:
        rest = text[: found.start()] + text[found.end() :]
        return rest, found["half"] == "午後"
    return text, None


def time_alone(text: str) -> bool:
    """True if ``text`` is a time of day without a date (read as today)."""
    rest, _ = _half_of_day(unicodedata.normalize("NFKC", text).strip())
    return _TYPED_CLOCK.fullmatch(rest) is not None


def _typed_fields(text: str) -> dict[str, str | None] | None:
    """The parts of a typed time in one of the console's forms, or None.

    A 12-hour time (``4:09 PM``, ``午後4:09``) comes back on the 24-hour clock; an hour
    outside 1-12 with a mark (``16:09 PM``) is no time at all, never a guess. A time
    alone comes back without ``y``, ``m`` and ``d``.
    """
    text, pm = _half_of_day(text)
    for form in (_TYPED_TIME, _TYPED_TIME_JA, _TYPED_TIME_EN, _TYPED_CLOCK):
        found = form.fullmatch(text)
        if found is None:
            continue
        parts = found.groupdict()
        month = parts.pop("mon", None)
        if month is not None:
            if month.lower() not in _MONTHS:
                return None
            parts["m"] = str(_MONTHS.index(month.lower()) + 1)
        if pm is not None:
            hour = int(parts["hh"] or 0)
            if not 1 <= hour <= _HALF_HOURS:
                return None
            # 12 AM is midnight, 12 PM is noon.
            parts["hh"] = str(hour % _HALF_HOURS + (_HALF_HOURS if pm else 0))
        return parts
    return None


class SignInRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """No live session: the handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A form arrived without the right CSRF token or from another origin."""


@cache
def environment(language: str) -> jinja2.Environment:
    """The Jinja2 environment of one language (autoescape on, catalogue installed)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Every template is HTML: escape everything, whatever its file name.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Stored text with its hidden characters shown as code points (U+202E), on every
        # page: the templates' one text path (_shown).
        finalize=_shown.finalize,
    )
    env.install_gettext_translations(_i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    _shown.install(env)
    # A stored reason as people read it: the system's sentences through the catalogue
    # (keyserver/_domain/system_reasons.py), an official's as typed; None stays None.
    env.filters["reason"] = lambda stored: _reason_text(stored, language)
    # The declared counts of people as every reader of them says them (spec §report;
    # keyserver/_domain/people.py): one container's, and the medium's parts.
    env.filters["people"] = lambda n: text(people.said(n), language)
    env.filters["people_up_to"] = lambda doc: [m.text(language) for m in people.up_to_said(doc)]
    # A report's answer by its name, as every reader of a report says it (report_words).
    env.filters["answer_name"] = lambda answer: text(report_words.answer_name(answer), language)
    # A key request row's kind by its name, as the command's table says it; None for a
    # refused row, which the page says by its action (_macros.html attempt_label).
    env.filters["kind_name"] = lambda kind: (
        text(report_words.KIND_NAMES[kind], language) if kind in report_words.KIND_NAMES else None
    )
    # The time of loss as told, apart from the period counted (report_words.told_view): the
    # medium page says it as the report does.
    env.globals["told_view"] = report_words.told_view
    env.globals["told_alone"] = report_words.told_alone
    # Why the period covered starts before the time told, where either page says it.
    env.globals["covered_why"] = covered_why
    # The report's words as one text (report_words), the template adding its markup.
    _said.install(env, language)
    return env


def _reason_text(stored: str | None, language: str) -> str | None:
    shown = shown_reason(stored)
    return None if shown is None else text(shown, language)


def language_of(request: Request) -> str:
    """The page language: the console's switch, else Accept-Language."""
    return _i18n.negotiate(
        request.headers.get("accept-language"), request.cookies.get(_security.LANG_COOKIE)
    )


@dataclass
class Page:
    """One request's view of the console."""

    request: Request
    service: KeyService
    ctx: RequestContext
    language: str
    formats: _i18n.Formats
    actor: Actor | None = None
    session_id: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    # The page a form answered from a POST (a review, a result) stands for: its language
    # switch returns there (:meth:`render`). Set by :meth:`act`.
    back: str | None = None

    @property
    def principal(self) -> Actor:
        """The signed-in principal (pages behind :func:`signed_in_page` always have one)."""
        if self.actor is None:
            raise SignInRequired(_security.PREFIX + "/overview")
        return self.actor

    @property
    def csrf(self) -> str:
        """The CSRF token to put into this page's forms."""
        return _security.csrf_token(self.session_id) if self.session_id else ""

    @property
    def is_official(self) -> bool:
        """The principal may act on containers (report lost, restore, destroy)."""
        return self.actor is not None and self.actor.has_any(OFFICIAL)

    @property
    def is_oversight(self) -> bool:
        """The principal may read containers, reports and the audit log."""
        return self.actor is not None and self.actor.has_any(OVERSIGHT)

    @property
    def is_admin(self) -> bool:
        """The principal manages principals and tokens."""
        return self.actor is not None and self.actor.has_any(ADMIN)

    def invalid(self, message: Message) -> InvalidRequestError:
        """A refusal of what was typed into a form: ``page.invalid(N_("..."))``."""
        return InvalidRequestError(message)

    def local_time(self, text: str, what: Message) -> datetime | None:
        """A time typed in a form (``2026-12-04 18:30``), read in the configured zone.

        A refusal gives the one example (issue 12, seventh newcomer run: the format was
        said four times on one form; eighteenth session: no form shows it beside its
        field any more, where the example time read as a placeholder).

        A time alone (``18:30``) is today in that zone. Year-first forms with ``-`` or
        ``/`` and a blank or ``T`` are read in the zone every page shows times in, so
        what the official reads is what they type;
        full-width digits (a Japanese input method) count as digits. Other ISO 8601 text
        is accepted as such, and an explicit offset (``+09:00``, ``Z``) is honoured.
        """
        text = unicodedata.normalize("NFKC", text).strip()
        if not text:
            return None
        parts = _typed_fields(text)
        today = self.service.now().astimezone(self.formats.zone).date()
        try:
            if parts is not None:
                moment = datetime(
                    int(parts.get("y") or today.year),
                    int(parts.get("m") or today.month),
                    int(parts.get("d") or today.day),
                    int(parts["hh"] or 0),
                    int(parts["mm"] or 0),
                    int(parts["ss"] or 0),
                )
            else:
                moment = datetime.fromisoformat(text)
        except ValueError as exc:
            rest, pm = _half_of_day(text)
            if pm is not None and (_TYPED_DATE.match(rest) or _TYPED_CLOCK.fullmatch(rest)):
                # Issue 12 (fourth newcomer run): a refusal about the date when the date
                # was fine sent the official to fix the wrong part; with AM/PM (午前/午後)
                # what is wrong is the hour (or a missing time), so say that.
                example = self.time_example()[:10]
                raise self.invalid(
                    N_(
                        "%(what)s is not a date and time: with AM or PM the hour is 1 to 12, "
                        "for example %(example)s (%(zone)s).",
                        what=what,
                        example=f"{example} 午後6:30"
                        if self.language == "ja"
                        else f"{example} 6:30 PM",
                        zone=self.formats.zone_name(),
                    )
                ) from exc
            raise self.invalid(
                N_(
                    "%(what)s is not a date and time: write it year first, "
                    "for example %(example)s (%(zone)s).",
                    what=what,
                    example=self.time_example(),
                    zone=self.formats.zone_name(),
                )
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.formats.zone)
        return moment

    def time_example(self) -> str:
        """A plausible time to type: yesterday evening in the configured zone.

        Never a fixed date: an official copying the example must get a recent time, and
        one in the past (a time of loss cannot be in the future).
        """
        yesterday = self.service.now().astimezone(self.formats.zone) - timedelta(days=1)
        return yesterday.strftime("%Y-%m-%d 18:30")

    def clock_example(self) -> str:
        """A time alone to type: this hour's start in the configured zone (``17:00``).

        The loss form's example (console47): a time alone is today, so a fixed one (the
        refusals' 18:30) would be refused as to come for most of the day when typed as
        shown; this one is always today and never later than now.
        """
        return self.service.now().astimezone(self.formats.zone).strftime("%H:00")

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render a template with the page context."""
        path, query = self.request.url.path, self.request.url.query
        if self.request.method != "GET":
            # A page answering a POST has no address of its own: the language switch's GET
            # of it found no page (404, thirteenth session). It returns to the page the form
            # stands for (what :meth:`act` was given), else the overview; what was typed is
            # not carried in a URL (an internal reason must not reach logs or history).
            path, query = self.back or _security.PREFIX + "/overview", ""
        html = (
            environment(self.language)
            .get_template(template)
            .render(
                page=self,
                fmt=self.formats,
                languages=_i18n.LANGUAGE_NAMES,
                path=path,
                query=query,
                **values,
            )
        )
        return HTMLResponse(html, status_code=status)

    def error(self, exc: KeyServerError, back: str | None = None) -> HTMLResponse:
        """An error page for a refusal of the service, all in the page's language.

        The detail is the refusal's catalogue message; a refusal without one (none should
        reach a page: tests/console/test_refusal_texts.py) shows the lead sentence alone
        rather than English on a Japanese page.
        """
        suggestions = [str(s) for s in exc.extensions.get("suggestions") or []]
        kind = exc.suggests if isinstance(exc, NotFoundError) else None
        return self.render(
            "error.html",
            status=exc.status,
            # The same lead sentence the keyserver command prints for this refusal.
            lead=problem_lead(exc.slug).text(self.language),
            detail=exc.message.text(self.language) if exc.message is not None else None,
            suggestions=[(s, suggestion_url(kind, s)) for s in suggestions],
            back=back,
        )

    def act(self, call: Callable[[], Response], back: str | None = None) -> Response:
        """Run a page body; a refusal of the service becomes the error page."""
        if back is not None:
            self.back = back
        try:
            return call()
        except KeyServerError as exc:
            return self.error(exc, back)


def suggestion_url(kind: str | None, name: str) -> str | None:
    """The console page of a "did you mean" name, by what kind of name it is.

    A medium and a container have pages of their own; principals and tokens are rows of
    the admin page (principal names are typed only there). ``None``: shown unlinked.
    """
    quoted = quote(name, safe="")
    prefix = _security.PREFIX
    return {
        "medium": f"{prefix}/medium?name={quoted}",
        "container": f"{prefix}/container/{quoted}",
        "principal": f"{prefix}/admin#principal-{quoted}",
        "token": f"{prefix}/admin#token-{quoted}",
    }.get(kind or "")


def _base_page(request: Request, service: KeyService, ctx: RequestContext) -> Page:
    language = language_of(request)
    return Page(
        request=request,
        service=service,
        ctx=ctx,
        language=language,
        formats=_i18n.Formats(
            language, display_zone(service.settings.display_timezone), service.now()
        ),
    )


def public_page(
    request: Request,
    service: Annotated[KeyService, Depends(get_service)],
    ctx: Annotated[RequestContext, Depends(get_context)],
) -> Page:
    """A page that needs no session (sign-in)."""
    return _base_page(request, service, ctx)


def signed_in_page(
    request: Request,
    service: Annotated[KeyService, Depends(get_service)],
    ctx: Annotated[RequestContext, Depends(get_context)],
) -> Page:
    """A page of a signed-in principal; no live session sends the browser to sign in."""
    page = _base_page(request, service, ctx)
    session_id = request.cookies.get(_security.session_cookie_name(request))
    actor = service.console_resume(session_id) if session_id else None
    if actor is None or session_id is None:
        path = request.url.path + ("?" + request.url.query if request.url.query else "")
        raise SignInRequired(path if request.method == "GET" else _security.PREFIX + "/overview")
    page.actor, page.session_id = actor, session_id
    return page


async def read_form(request: Request) -> dict[str, str]:
    """The body of an HTML form (``application/x-www-form-urlencoded``), one value per field.

    The body guard (keyserver/_http/problems.py) has already bounded its size.

    Raises:
        InvalidRequestError: Not UTF-8, too many fields, or a field given twice.
    """
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError(N_("the form could not be read")) from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise InvalidRequestError(
                N_("the form field %(field)s was sent twice", field=repr(key))
            )
        form[key] = value
    return form


def posted_page(
    page: Annotated[Page, Depends(signed_in_page)],
    form: Annotated[dict[str, str], Depends(read_form)],
) -> Page:
    """A signed-in page reached by a form: CSRF token and origin checked first."""
    if not _security.same_origin(page.request) or not _security.csrf_matches(
        page.csrf, form.get("csrf")
    ):
        raise CsrfRefused
    page.form = form
    return page


def redirect(path: str) -> RedirectResponse:
    """A 303 See Other to a console path (after a form, the browser GETs the result)."""
    return RedirectResponse(path, status_code=303)


PublicPage = Annotated[Page, Depends(public_page)]
SignedInPage = Annotated[Page, Depends(signed_in_page)]
PostedPage = Annotated[Page, Depends(posted_page)]
Form = Annotated[dict[str, str], Depends(read_form)]
