"""Map the key server's RFC 9457 problem documents to pycontainer's KeyServerCallError classes.

Pure functions, no I/O: the HTTP client hands over the status, the content type, the body
it read and its Content-Language. Everything the server says is sanitised before it reaches
a terminal (a hostile or compromised server must not be able to send escape sequences to
the reader's terminal).

Each error carries an English message and hint (library callers, ``--json``, logs) and the
same facts as a :class:`~pycontainer.errors.Refusal`, from which the `rwc` command says it
in the reader's language (pycontainer/cli/refusals.py). Which class and which facts:
decided here only; the client never reads meaning into the detail's words beyond the one
"did you mean" check below.

Spec anchors: spec/protocol.md §errors (problem types and their statuses).
"""

from __future__ import annotations

import json
from typing import Any

from pycontainer.client.terminal_text import display_name
from pycontainer.client.transport import problem_slug
from pycontainer.errors import (
    KeyServerCallError,
    KeyServerDeniedError,
    KeyServerExpiredError,
    KeyServerHeaderMismatchError,
    KeyServerInvalidValueError,
    KeyServerProtocolError,
    KeyServerRevokedError,
    KeyServerSuspendedError,
    KeyServerUnavailableError,
    KeyServerUnknownNameError,
    Refusal,
)

TEXT_LIMIT = 500  # longest server text we show; a longer one is cut


def clean_text(value: object, limit: int = TEXT_LIMIT) -> str | None:
    """Return a server-supplied string safe to print, or None if it is not a string.

    Control characters (including ESC, so no terminal escape sequences) become spaces; the
    other characters a terminal would obey or hide (U+202E and the other bidi controls,
    zero-width characters: ops11) are shown as their code points by rwc's name policy,
    :func:`~pycontainer.client.terminal_text.display_name`, so a label cannot reorder or
    hide what an official reads; the text is cut at ``limit`` characters.
    """
    if not isinstance(value, str):
        return None
    text = "".join(" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) else c for c in value)
    text = display_name(text.strip(), escape_backslash=False)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text or None


def _parse_problem(content_type: str, body: bytes) -> dict[str, Any] | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("application/problem+json", "application/json"):
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _field_errors(errors: object, limit: int = 5) -> str:
    """Summarise an invalid-request problem's ``errors`` list ({loc, msg}) for people."""
    if not isinstance(errors, list):
        return ""
    parts = []
    for item in errors[:limit]:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(x) for x in loc) if isinstance(loc, list) else loc
            parts.append(f"{clean_text(where, 80) or '?'}: {clean_text(item.get('msg'), 120)}")
    return "; ".join(parts)


def _detail_language(content_language: str) -> str:
    """The detail's language from Content-Language (spec §problems): its primary subtag."""
    tag = content_language.split(",", 1)[0].strip().split("-", 1)[0].lower()
    return tag if tag.isascii() and tag.isalpha() and len(tag) <= 8 else "en"


def problem_to_error(
    status: int,
    content_type: str,
    body: bytes,
    *,
    what: str,
    action: str = "",
    server: str = "",
    language: str = "",
) -> KeyServerCallError:
    """Turn a non-2xx answer into the matching KeyServerCallError.

    Args:
        status: HTTP status code.
        content_type: The Content-Type header ("" if absent).
        body: The response body (already size-limited by the caller).
        what: What the client was doing, in English words for the message ("release the
            key", "register a container" ...).
        action: The same as a word for the refusal's facts ("evaluate", "register" ...).
        server: The key server's URL (for the hint of a refused token).
        language: The answer's Content-Language ("" if absent: English).

    Returns:
        The exception to raise (not raised here so callers keep control of chaining).
    """
    doc = _parse_problem(content_type, body) or {}
    slug = problem_slug(doc)
    detail = clean_text(doc.get("detail")) or clean_text(doc.get("title"))
    contact = clean_text(doc.get("contact"))
    said = f": {detail}" if detail else ""
    contact_hint = f"contact {contact}" if contact else None
    # A title is the protocol's English whatever was asked; only a detail is localised.
    detail_language = _detail_language(language) if clean_text(doc.get("detail")) else "en"

    def refusal(kind: str, **facts: str | None) -> Refusal:
        common = {"action": action, "status": str(status), "contact": contact or ""}
        return Refusal(
            kind,
            {**common, **{k: v or "" for k, v in facts.items()}},
            detail=detail,
            detail_language=detail_language,
        )

    if slug == "destroyed" or (slug is None and status == 410 and "revoked_at" in doc):
        revoked_at = clean_text(doc.get("revoked_at"), 64)
        reason = clean_text(doc.get("reason"))
        parts = ["this container was revoked: its key was destroyed on the key server"]
        if revoked_at:
            parts.append(f" on {revoked_at}")
        parts.append(f"; reason: {reason}" if reason else "; no public reason was given")
        if contact:
            parts.append(f"; contact: {contact}")
        return KeyServerRevokedError(
            "".join(parts),
            hint="it can never be opened again; " + (contact_hint or "ask the sender"),
            contact=contact,
            revoked_at=revoked_at,
            reason=reason,
            refusal=refusal("destroyed", time=revoked_at, reason=reason),
        )
    if slug == "expired":
        not_after = clean_text(doc.get("not_after"), 64)
        when = f" (it expired on {not_after})" if not_after else ""
        return KeyServerExpiredError(
            f"this container has expired on the key server{when}",
            hint=contact_hint or "ask the sender for a fresh container",
            contact=contact,
            refusal=refusal("expired", time=not_after),
        )
    if slug == "suspended" or (slug is None and status == 423):
        since = clean_text(doc.get("suspended_at"), 64)
        public_reason = clean_text(doc.get("reason"))
        if doc.get("cause") == "budget":
            # spec §problems: the container's attempt budget suspended it (the server says
            # so in ``cause``, never only in the English ``reason``, which is left out).
            text = "this container was locked by the key server: too many attempts to open it"
            text += " were never confirmed (wrong passwords, for example)"
            text += f" since {since}" if since else ""
            return KeyServerSuspendedError(
                text + (f"; contact: {contact}" if contact else ""),
                hint=(contact_hint or "call the officials")
                + ": they check whose attempts they were and restore it",
                contact=contact,
                refusal=refusal("suspended_budget", time=since),
            )
        text = "this container is suspended on the key server"
        text += f" since {since}" if since else ""
        text += f"; reason: {public_reason}" if public_reason else said
        if contact:
            text += f"; contact: {contact}"
        return KeyServerSuspendedError(
            text,
            hint=(contact_hint or "ask the officials") + " to have it restored",
            contact=contact,
            refusal=refusal("suspended", time=since, reason=public_reason),
        )
    if slug == "attempts-exhausted" or (slug is None and status == 429):
        # protocol §receipt: too many unconfirmed attempts by this reader or on this medium
        # within the window; it lifts by itself as old attempts leave the window.
        return KeyServerDeniedError(
            f"the key server refused to {what}: too many unconfirmed attempts{said}",
            hint="wait and try again later (the limit lifts within a day), or "
            + (contact_hint or "ask the officials"),
            contact=contact,
            refusal=refusal("attempts_exhausted"),
        )
    if slug == "header-mismatch":
        # spec/protocol.md §evaluate: refused before anything counted.
        return KeyServerHeaderMismatchError(
            "this copy of the container was altered: its header differs from the one "
            "registered on the key server (nothing was counted against the attempt budget)",
            hint="do not use this copy; get a fresh copy from the sender and report the "
            "altered one to " + (contact or "the officials"),
            contact=contact,
            refusal=refusal("header_mismatch"),
        )
    if slug == "row-integrity":
        # spec/protocol.md §row-integrity: the server's record was edited or restored.
        return KeyServerDeniedError(
            f"the key server refused to {what}: its record of this container failed its "
            "integrity check (nothing was released)",
            hint="do not retry; report it to " + (contact or "the key-server operators"),
            contact=contact,
            refusal=refusal("row_integrity"),
        )
    if slug == "unauthenticated" or (slug is None and status == 401):
        return KeyServerDeniedError(
            f"the key server did not accept your token{said}",
            hint=f"run `rwc login {server or 'URL'}` with a valid token, or set RWC_TOKEN",
            contact=contact,
            refusal=refusal("unauthenticated", url=server or "URL"),
        )
    if slug in ("not-allowed", "forbidden") or (slug is None and status == 403):
        return KeyServerDeniedError(
            f"the key server refused to {what} for you{said}",
            hint=contact_hint or "ask the officials to add you to the container's readers",
            contact=contact,
            refusal=refusal("not_allowed"),
        )
    if slug == "unavailable" or status >= 500:
        return KeyServerUnavailableError(
            f"the key server is unavailable (HTTP {status}){said}",
            hint="try again later; " + (contact_hint or "tell the key-server operators"),
            contact=contact,
            refusal=refusal("unavailable"),
        )
    names = doc.get("suggestions")
    if slug in ("invalid-request", "not-found") and isinstance(names, list):
        # spec/protocol.md §errors: a name the user gave (a reader, a medium) matched nothing;
        # the server lists the nearest it knows. A typo, not a protocol mismatch.
        near = [n for n in (clean_text(x, 200) for x in names[:5] if isinstance(x, str)) if n]
        if detail and "did you mean" in detail:
            near = []  # the server's (English) detail already asks
        asked = "did you mean " + ", ".join(near) + "? " if near else ""
        return KeyServerUnknownNameError(
            f"the key server refused to {what}{said}",
            hint=asked + "check the names given (--reader, --reader-group, --medium)",
            contact=contact,
            refusal=refusal("unknown_name", names=", ".join(near)),
        )
    field = clean_text(doc.get("field"), 40) if slug == "invalid-request" else None
    if field:
        # spec/protocol.md §problems: a value the user chose breaks its rule (a medium id
        # outside §media's alphabet). The command line is wrong, not rwc's version.
        return KeyServerInvalidValueError(
            f"the key server refused the {field.replace('_', ' ')} given{said}",
            field=field,
            hint=f"write the {field.replace('_', ' ')} as the key server's rule above says",
            contact=contact,
            refusal=refusal("invalid_value", field=field),
        )
    if slug in ("invalid-request", "payload-too-large", "unsupported-media-type") or slug is None:
        # The client and server disagree on the protocol: a bug or a version mismatch.
        errors = _field_errors(doc.get("errors"))
        return KeyServerProtocolError(
            f"the key server rejected the request to {what} (HTTP {status}){said}"
            + (f" ({errors})" if errors else ""),
            hint="check that rwc and the key server are compatible versions",
            contact=contact,
            refusal=refusal("protocol", errors=errors),
        )
    # not-found, pending, conflict and any future slug: the server's own words are the best
    # explanation we have.
    return KeyServerCallError(
        f"the key server refused to {what} ({slug}, HTTP {status}){said}",
        hint=contact_hint,
        contact=contact,
        refusal=refusal("refused", slug=slug),
    )
