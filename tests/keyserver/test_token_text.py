"""A bearer token is one word to a double-click (spec §auth; issue 12, twenty-second
session).

Officials copy their token from a terminal or an e-mail by double-clicking it (README's
card). A newcomer noted that a double-click stops at a "-": half of "rwc_2IxTe-hJtV..." was
copied and sign-in failed. The server draws a token again while its text holds a "-".
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from keyserver._domain import keys
from keyserver._domain.auth import TOKEN_LENGTH
from keyserver._domain.encoding import b64e

# What a double-click selects as one word in terminals and mail readers.
ONE_WORD = re.compile(r"rwc_[A-Za-z0-9_]+")


def _draws(first: list[bytes]) -> Iterator[bytes]:
    yield from first
    while True:
        yield os.urandom(keys.TOKEN_RANDOM_BYTES)


def test_a_draw_with_a_dash_is_drawn_again() -> None:
    # 0xf8 encodes to "-" (62) in base64url: the first draw's text is "rwc_-..."; the
    # second, of 0xfc bytes, "_" (63) throughout, is kept.
    dashed, kept = b"\xf8" * 32, b"\xfc" * 32
    draws = _draws([dashed, kept])
    token = keys.new_token(lambda n: next(draws)[:n])
    assert token == "rwc_" + b64e(kept)
    assert "-" in "rwc_" + b64e(dashed)


def test_tokens_are_one_word_of_the_format() -> None:
    for _ in range(200):
        token = keys.new_token(os.urandom)
        assert len(token) == TOKEN_LENGTH
        assert ONE_WORD.fullmatch(token), token
