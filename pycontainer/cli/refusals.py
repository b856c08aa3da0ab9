"""An error said to a person in the reader's language (issue 12): ``for_person``.

Mostly a key server's refusal, below; the other errors' texts are in
pycontainer/cli/failtexts.py.

The library raises :class:`~pycontainer.errors.KeyServerCallError` with an English message
and hint (what ``--json``, logs and library callers read) and the same facts as a
:class:`~pycontainer.errors.Refusal`. Here those facts become rwc's own sentence from the
table in pycontainer/cli/texts.py: what happened, then the facts the server gave (times in
the reader's zone with their offset, the public reason, the server's ``detail`` where it
adds something), then what to do next. The server's detail is the only text not from the
table: it is sanitised (clean_text) by the library and was asked for in the reader's
language (``Accept-Language``, spec/protocol.md §problems); a detail the server could only
give in another language is marked with that language, and shown only where rwc's own
sentence would leave a fact out.

Imported only when an error is shown (pycontainer/cli/ui.py): no cost on a run that
succeeds (issue 15).
"""

from __future__ import annotations

from datetime import datetime

from pycontainer.cli.exits import SaidError
from pycontainer.cli.failtexts import DETAIL_JA, LIBRARY_JA
from pycontainer.cli.texts import TEXTS, say
from pycontainer.cli.times import local_time as shown_time
from pycontainer.errors import ContainerError, KeyServerCallError, Refusal

# Where the server's detail goes, by kind. "facts": the detail carries what rwc's sentence
# cannot (the rule a value broke, the name nobody knows, the server's words for an
# unexpected refusal), so it is shown in whatever language the server had it.
# "localised": rwc's sentence is complete; the detail is added only in the reader's own
# language. Any other kind: the detail repeats the lead and is left out.
_DETAIL_FACTS = frozenset({"unknown_name", "invalid_value", "protocol", "refused"})
_DETAIL_LOCALISED = frozenset(
    {"attempts_exhausted", "unauthenticated", "not_allowed", "unavailable"}
)
# The reasons a server could not be reached, each the English of pycontainer.client.connection.
WHY_KEYS = (
    "why_timed_out",
    "why_connection_failed",
    "why_connection_lost",
    "why_cert_name_mismatch",
    "why_cert_untrusted",
    "why_cert_expired",
    "why_cert_not_yet_valid",
    "why_cert_self_signed",
    "why_cert_refused",
    "why_tls_handshake_failed",
    "why_proxy_auth_required",
    "why_proxy_auth_refused",
    "why_proxy_refused",
)
# A time fact, by kind: what it is the time of.
_TIME_FACT = {
    "suspended": "fact_since",
    "suspended_budget": "fact_since",
    "destroyed": "fact_destroyed_on",
    "expired": "fact_expired_on",
}


def local_time(text: str) -> str:
    """An RFC 3339 time from the server in the reader's zone with its offset, else as given.

    ``2026-11-20T10:00:00Z`` -> ``2026-11-20 19:00:00 +09:00`` in Asia/Tokyo (the zone of
    the machine, ``TZ``), as the ``keyserver`` command shows times to officials.
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.tzinfo is None:
        return text  # no offset: which zone it is in is unknown, so show it as the server did
    return shown_time(when)


def _why_key(refusal: Refusal) -> str | None:
    """The ``why_*`` key of why a server could not be reached, None for other words."""
    why = refusal.facts.get("why", "?")
    return next((key for key in WHY_KEYS if TEXTS[key]["en"] == why), None)


def _why(refusal: Refusal, lang: str) -> str:
    """Why a server could not be reached, in ``lang`` where the table has it, else as said."""
    key = _why_key(refusal)
    # Else the proxy's or trust store's own words (rare, and they name a setting).
    return say(key, lang) if key else refusal.facts.get("why", "?")


def _hint_key(refusal: Refusal) -> str:
    """The next step's key: a TLS or connection failure's by why it failed, else by kind.

    A wrong address is not a missing CA: only an unknown CA is told to use --ca-bundle;
    a proxy that wants credentials is not the network (``refusal_<kind>_hint_<why>``).
    """
    key = f"refusal_{refusal.kind}_hint"
    why = _why_key(refusal) if refusal.kind in ("tls", "unreachable") else None
    by_why = f"{key}_{why.removeprefix('why_')}" if why else key
    return by_why if by_why in TEXTS else key


def _action(refusal: Refusal, lang: str) -> str:
    key = f"action_{refusal.facts.get('action', '')}"
    return say(key if key in TEXTS else "action_other", lang)


def server_detail(refusal: Refusal, lang: str) -> str | None:
    """The server's detail, marked ``[en]`` when it is not in ``lang``; None if it gave none."""
    if not refusal.detail:
        return None
    if refusal.detail_language == lang:
        return refusal.detail
    return f"[{refusal.detail_language}] {refusal.detail}"


def _detail_fact(refusal: Refusal, lang: str) -> str | None:
    """The server's detail as one of the facts, where it adds one (see _DETAIL_FACTS)."""
    kind, detail = refusal.kind, refusal.detail
    if not detail:
        return None
    localised = refusal.detail_language == lang
    # Without its reason or time, a suspension's or expiry's detail may say more ("the
    # container's medium was reported lost", "the pending container was never committed").
    says_more = (kind == "suspended" and "reason" not in refusal.facts) or (
        kind == "expired" and "time" not in refusal.facts
    )
    if kind in _DETAIL_FACTS:
        pass
    elif not ((kind in _DETAIL_LOCALISED or says_more) and localised):
        return None
    if localised:
        return say("fact_server", lang, detail=detail)
    return say("fact_server_other", lang, language=refusal.detail_language, detail=detail)


def _facts(refusal: Refusal, lang: str) -> list[str]:
    facts = refusal.facts
    out = []
    time_key = _TIME_FACT.get(refusal.kind)
    if time_key and "time" in facts:
        out.append(say(time_key, lang, time=local_time(facts["time"])))
    if "reason" in facts:
        out.append(say("fact_reason", lang, reason=facts["reason"]))
    elif refusal.kind == "destroyed":
        out.append(say("fact_no_reason", lang))
    detail = _detail_fact(refusal, lang)
    if detail:
        out.append(detail)
    if "errors" in facts:
        out.append(say("fact_errors", lang, errors=facts["errors"]))
    if "contact" in facts:
        out.append(say("fact_contact", lang, contact=facts["contact"]))
    return out


def render(refusal: Refusal, lang: str) -> tuple[str, str]:
    """The message and hint `rwc` shows for ``refusal`` in ``lang`` (``en`` or ``ja``)."""
    facts = refusal.facts
    values = {
        "action": _action(refusal, lang),
        "status": facts.get("status", "?"),
        "slug": facts.get("slug", "?"),
        "url": facts.get("url", "URL"),
        "why": _why(refusal, lang),
        "field": facts.get("field", "?"),
        "media": facts.get("media", "?"),
    }
    message = say(f"refusal_{refusal.kind}", lang, **values)
    listed = _facts(refusal, lang)
    if listed:
        message += say("facts", lang, facts=say("fact_separator", lang).join(listed))
    hint = say(_hint_key(refusal), lang, **values)
    if "names" in facts:
        hint = say("did_you_mean", lang, names=facts["names"]) + " " + hint
    return message, hint


def for_person(exc: ContainerError, lang: str) -> tuple[str, str | None]:
    """The message and hint ``rwc`` shows for ``exc`` in ``lang`` (``en`` or ``ja``).

    The one mapping from an error to a person's words: a key server's refusal from its
    facts (:func:`render`); an error of the command's own by its key (``SaidError``,
    pycontainer/cli/failtexts.py OWN_TEXTS); one the command has said already as raised;
    any other error of the library in English as raised (its message is the English text),
    in Japanese with its class's lead and next step (failtexts.LIBRARY_JA) and the
    library's English as a marked detail.
    """
    refusal = exc.refusal if isinstance(exc, KeyServerCallError) else None
    if refusal is not None and f"refusal_{refusal.kind}" in TEXTS:
        return render(refusal, lang)
    if isinstance(exc, SaidError):
        hint = TEXTS.get(exc.key + "_hint", {}).get(lang)
        return say(exc.key, lang, **exc.values), (hint.format(**exc.values) if hint else None)
    if exc.said or lang != "ja":  # LIBRARY_JA is Japanese; English is the library's own
        return str(exc), exc.hint
    for cls in type(exc).__mro__:
        if cls.__name__ in LIBRARY_JA:
            lead, hint = LIBRARY_JA[cls.__name__]
            return lead + DETAIL_JA.format(detail=str(exc)), hint
    return str(exc), exc.hint  # not reached: ContainerError is listed
