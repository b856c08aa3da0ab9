"""base64url of the wire (pycontainer/client/wire.py) through binascii, as the base64 module.

wire.py calls binascii itself, not the base64 module (issue 15: one module less in every
reader's start-up): it must encode and accept exactly what the base64 module's urlsafe
functions with the canonical check (spec §encoding) encode and accept.
"""

import base64
import binascii
import itertools
import os

from pycontainer.client.wire import b64url_decode, b64url_encode
from pycontainer.errors import KeyServerProtocolError


def _decoded_by_base64(text: str, size: int) -> bytes | None:
    """What the base64 module accepts: no padding given, canonical, of ``size`` bytes."""
    if "=" in text:
        return None
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return raw if canonical == text and len(raw) == size else None


def _decoded(text: str, size: int) -> bytes | None:
    try:
        return b64url_decode(text, size, "element")
    except KeyServerProtocolError:
        return None


def test_encoding_is_the_base64_modules() -> None:
    for n in range(70):
        data = os.urandom(n)
        assert b64url_encode(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_decoding_accepts_what_the_base64_module_does() -> None:
    alphabet = "AQgw/+-_=!é "
    wrong = [
        (text, size)
        for n in range(5)
        for text in map("".join, itertools.product(alphabet, repeat=n))
        for size in range(4)
        if _decoded(text, size) != _decoded_by_base64(text, size)
    ]
    assert wrong == []
    for n in range(70):
        data = os.urandom(n)
        assert _decoded(b64url_encode(data), n) == data
