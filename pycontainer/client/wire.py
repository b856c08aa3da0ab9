"""The key server's answers as data: canonical base64url, strict JSON, and their types.

Everything the server sends is checked here before the client uses it: base64url in its
canonical unpadded form and of the exact size (spec/protocol.md §encoding), JSON without
duplicate keys or non-finite numbers, counts and flags that are what they claim to be
(anything else is "not told"). Imported alone by ``rwc info`` (container ids), without the
HTTP client. The types only `rwc seal` and `rwc login` exchange (register, whoami) are in
pycontainer.client.records, which a reader's run does not import.

Spec anchors: spec/protocol.md §encoding, §register, §access, §whoami.
"""

import binascii
import json
from collections.abc import Mapping
from typing import Any

from pycontainer._record import Record
from pycontainer.errors import KeyServerProtocolError

# base64url through binascii, which the base64 module's functions call after this same
# translation of "+/" and "-_": the module itself (with its Base85 and Base32 tables) cost
# every reader's run ~0.6 M instructions (issue 15, bench/profiles/startup.md).
_TO_URL = bytes.maketrans(b"+/", b"-_")
_FROM_URL = bytes.maketrans(b"-_", b"+/")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding (spec §encoding)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, size: int, what: str) -> bytes:
    """Decode canonical unpadded base64url of exactly ``size`` bytes.

    Raises:
        KeyServerProtocolError: Not a string, not canonical base64url, or the wrong size.
    """
    if not isinstance(text, str) or "=" in text:
        raise KeyServerProtocolError(f"the key server sent a malformed {what}")
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("ascii")
        raw = binascii.a2b_base64(padded.translate(_FROM_URL), strict_mode=True)
    except (binascii.Error, ValueError):
        raise KeyServerProtocolError(f"the key server sent a malformed {what}") from None
    # spec §encoding: canonical form only (no stray bits in the last character).
    if b64url_encode(raw) != text:
        raise KeyServerProtocolError(f"the key server sent a non-canonical {what}")
    if len(raw) != size:
        raise KeyServerProtocolError(
            f"the key server sent a {what} of {len(raw)} bytes, expected {size}"
        )
    return raw


def strict_json(body: bytes) -> dict[str, Any]:
    """Parse an answer body: a JSON object, no duplicate keys, no NaN or Infinity.

    Raises:
        KeyServerProtocolError: Anything else.
    """

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError("duplicate key")
            out[key] = value
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(f"invalid constant {name}")

    try:
        doc = json.loads(body, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError):
        raise KeyServerProtocolError("the key server sent malformed JSON") from None
    if not isinstance(doc, dict):
        raise KeyServerProtocolError("the key server sent JSON that is not an object")
    return doc


def text(doc: Mapping[str, Any], key: str) -> str:
    """The non-empty string ``doc[key]``.

    Raises:
        KeyServerProtocolError: It is missing, empty or not a string.
    """
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise KeyServerProtocolError(f"the key server's answer lacks {key!r}")
    return value


class Access(Record):
    """The answer of ``GET /v1/containers/{id}/access`` (protocol §access).

    A record, not a frozen dataclass, for its creation cost at import (pycontainer/_record.py,
    as the types in pycontainer.client.records).

    Attributes:
        password_required: Whether the writer sealed with a password.
        attempts_remaining: Unconfirmed evaluations left, or None if not told.
        attempts_limit: Which allowance that is (:func:`attempts_limit`), or None.
    """

    password_required: bool
    attempts_remaining: int | None
    attempts_limit: str | None = None


def count(value: Any) -> int | None:
    """A non-negative integer the server told us, else None (never trusted further)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        return None
    return value


# protocol §receipt: the allowances `attempts_limit` may name.
ATTEMPTS_LIMITS = frozenset({"container", "principal", "medium"})


def attempts_limit(value: Any) -> str | None:
    """Which allowance the server says ``attempts_remaining`` counts, else None.

    Only the names the protocol defines: anything else (an older or newer server) is
    "not told", and the reader is told both consequences rather than a guessed one.
    """
    return value if isinstance(value, str) and value in ATTEMPTS_LIMITS else None


def flag(value: Any) -> bool | None:
    """A boolean the server told us, else None."""
    return value if isinstance(value, bool) else None
