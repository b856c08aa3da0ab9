"""Input validation shared by the service layer (canonical, strict; no I/O).

spec §conventions: names, free text, timestamps and container ids are checked here
before anything reaches the database or the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from keyserver._domain.encoding import b64d, format_time
from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_, field_name

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
ACTION_RE = re.compile(r"[a-z][a-z.]{0,31}")
TOKEN_ID_RE = re.compile(r"tk_[A-Za-z0-9_-]{16}")
HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
HEAD_SEQ_DIGITS_MAX = 18  # fits a 64-bit integer column on both backends
# The largest value of a 64-bit integer column (audit seq, request numbers) on both backends:
# a larger number names nothing, and reaching the driver with it was an OverflowError (a
# 500, "unexpected" in the command) instead of an answer.
INT64_MAX = (1 << 63) - 1
TEXT_MAX = 200
REASON_MAX = 2000
CONTAINER_ID_BYTES = 16
CHALLENGE_BYTES = 32
SUITE = "ristretto255-SHA512"


def _chosen(field: str | None) -> dict[str, str]:
    # spec/protocol.md §problems: `field` names the request member holding a value a person
    # chose (a label, a reader), so that a client reports a usage error with the rule, not
    # a protocol mismatch between versions.
    return {"field": field} if field else {}


def check_name(value: str, what: str, *, field: str | None = None) -> str:
    """Validate a principal or group name (``field``: the request member, if a person chose it)."""
    if not NAME_RE.fullmatch(value):
        raise InvalidRequestError(
            N_("%(what)s must match %(pattern)s", what=field_name(what), pattern=NAME_RE.pattern),
            **_chosen(field),
        )
    return value


# spec §endpoints: the declared number of people whose personal data a container holds.
# More than any one register the writer could export (Tokyo's is ~14 M), so a value
# beyond it is a typo (a digit too many), refused before it is printed in a report.
PEOPLE_MAX = 100_000_000


def check_people(value: int | None) -> int | None:
    """Validate a declared count of people: 1..PEOPLE_MAX, or None (not declared)."""
    if value is not None and not 1 <= value <= PEOPLE_MAX:
        raise InvalidRequestError(
            N_(
                "people must be a whole number of people in 1..%(most)s, or left out",
                most=PEOPLE_MAX,
            ),
            field="people",
        )
    return value


def recordable(key: str, check: Callable[[str], object], value: str) -> dict[str, str]:
    """``{key: value}`` if ``check`` accepts ``value`` (raises no InvalidRequestError), else {}.

    What a refusal made before validation may record of a request in its audit details:
    only values that would have passed (never junk from a URL or body in the log).
    """
    try:
        check(value)
    except InvalidRequestError:
        return {}
    return {key: value}


#: Unicode's bidirectional formatting characters (UAX #9): marks, embeddings, overrides
#: and isolates. Refused in free text (spec §conventions).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_text(value: str, what: str, max_len: int = TEXT_MAX, *, field: str | None = None) -> str:
    """Validate free text: 1..max_len characters, no control characters."""
    # Control characters (NUL breaks PostgreSQL text; C1 ones are terminal commands) and
    # lone surrogates (not encodable as UTF-8) are refused here, before they reach the
    # database or the audit log. So are Unicode's direction controls: a label with U+202E
    # reads reversed on every page, paper and terminal that shows it (a container could
    # pose as another in the loss review an official confirms); HTML escaping does not
    # touch them, and the commands show them escaped only as a second line of defence.
    if not 1 <= len(value) <= max_len or any(
        ord(ch) < 32 or 127 <= ord(ch) <= 159 or 0xD800 <= ord(ch) <= 0xDFFF or ch in _BIDI
        for ch in value
    ):
        raise InvalidRequestError(
            N_(
                "%(what)s must be 1..%(max)s printable characters",
                what=field_name(what),
                max=max_len,
            ),
            **_chosen(field),
        )
    return value


def parse_time(value: str, what: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(
            N_("%(what)s is not an RFC 3339 timestamp", what=field_name(what))
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidRequestError(N_("%(what)s needs a UTC offset (e.g. Z)", what=field_name(what)))
    try:
        # 9999-12-31T23:59:59-23:59 parses but has no UTC form: refused here, not a 500
        # when the database layer converts it.
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidRequestError(N_("%(what)s is out of range", what=field_name(what))) from exc


def decode_container_id(text: str) -> bytes:
    """Decode a container id from its URL form (22 base64url characters)."""
    return b64d(text, CONTAINER_ID_BYTES, "container id")


def parse_head(text: str, name: str = "expect_head") -> tuple[int, bytes]:
    """Parse a recorded audit head ``SEQ:HASH`` (decimal seq >= 1, 64 hex digits).

    spec §audit: the same form ``audit verify`` prints and ``--expect-head`` takes.
    """
    seq_text, sep, hash_text = text.partition(":")
    if (
        not sep
        or not seq_text.isascii()
        or not seq_text.isdigit()
        or len(seq_text) > HEAD_SEQ_DIGITS_MAX
        or not HEX64_RE.fullmatch(hash_text)
        or int(seq_text) < 1
    ):
        raise InvalidRequestError(
            N_("%(name)s must be SEQ:HASH (seq >= 1, 64 hex digits)", name=field_name(name))
        )
    return int(seq_text), bytes.fromhex(hash_text)


def fmt_time(value: datetime | None) -> str | None:
    """RFC 3339 (UTC, microseconds) or None."""
    return None if value is None else format_time(value)


def valid_container_id(text: str | None) -> str | None:
    """``text`` if it is a canonical container id, else None (never record junk)."""
    if text is None:
        return None
    try:
        decode_container_id(text)
    except InvalidRequestError:
        return None
    return text
