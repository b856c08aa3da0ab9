"""Canonical encodings of the protocol: strict base64url for bytes, RFC 3339 for times.

spec §conventions: binary values are base64url WITHOUT padding; anything else
(padding, other alphabets, whitespace, non-canonical trailing bits) is rejected.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import UTC, datetime

from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_, Message, field_name

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64e(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, length: int, what: str) -> bytes:
    """Decode canonical unpadded base64url of exactly ``length`` bytes.

    Args:
        text: The encoded value.
        length: The required decoded length.
        what: Field name for the error message.

    Raises:
        InvalidRequestError: On any deviation from the canonical encoding or length.
    """
    # spec §conventions: strict alphabet and no padding; the length check below
    # plus re-encoding rejects non-canonical trailing bits.
    if len(text) > 4 * length or not _B64URL.fullmatch(text):
        raise InvalidRequestError(_not_base64url(what))
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(_not_base64url(what)) from exc
    if len(raw) != length or b64e(raw) != text:
        raise InvalidRequestError(
            N_("%(what)s must encode exactly %(n)s bytes", what=field_name(what), n=length)
        )
    return raw


def _not_base64url(what: str) -> Message:
    return N_("%(what)s is not unpadded base64url", what=field_name(what))


@functools.lru_cache(maxsize=64)
def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds, the canonical time format of the audit log."""
    # Cached: every entry and answer of a release batch carries the same few instants.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
