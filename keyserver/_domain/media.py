"""Medium ids: one canonical form, one matching key, nearest-name suggestions (no I/O).

spec §media: an official under stress types ``usb-2022-06-ama `` for the medium that was
registered as ``USB-2022-06-AMA``. A loss report that silently matches nothing leaves the
stick unprotected while everyone believes it is, so a medium id has ONE canonical form,
fixed when the medium is first registered, and every later mention is matched by its
key (the canonical form case-folded). What cannot be made unambiguous is refused at
registration instead of being stored.

Canonical form (in this order):

1. Unicode NFKC: full-width letters and digits (U+FF35 ...) become ASCII;
2. every dash or minus sign (Unicode category Pd, U+2212) becomes ``-``;
3. leading and trailing white space is removed; inner runs of white space become one
   space;
4. the result must be 1..:data:`MEDIUM_MAX` characters of the alphabet
   :data:`MEDIUM_RE`: ASCII letters and digits, space, and ``- _ . : # +``, starting and
   ending with a letter or digit. Anything else (a look-alike Cyrillic A, U+0410; ``/``
   which no URL path carries safely, ``%``, ``?``) is refused: the writer must choose
   the id as it is printed on the medium's label in ASCII.

The matching key is the canonical form in lower case (the alphabet is ASCII, so
case-folding is plain lower-casing).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_

MEDIUM_MAX = 100
# spec §media: the alphabet of canonical medium ids (URL-safe once spaces are encoded).
MEDIUM_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._:#+-]{0,98}[A-Za-z0-9])?")
_MINUS = "\u2212"
_SPACES = re.compile(r"\s+")
# What a search ignores in medium ids (after folding): blanks and the dash.
_SEARCH_SEPARATORS = re.compile(r"[\s-]+")
# The same separators as SQL sees them in a stored canonical id (one space, ASCII dash).
SEARCH_SEPARATORS_STORED = (" ", "-")
SUGGESTIONS_MAX = 3
# difflib ratio below which a name is not offered as "did you mean": a third of the
# characters differing is no longer a typo of the same label.
_SUGGEST_CUTOFF = 0.6
# For random ids (containers, tokens) only a slip of a few characters is a typo: up to
# about four of 22 (any two random ids share a few characters by chance).
ID_SUGGEST_CUTOFF = 0.8
# Ids compared for suggestions share their first four characters with the mistyped one:
# one indexed range of the primary key (3 bytes), so an official's typo never scans a
# table of a million containers; a typo within those four gets no suggestion.
ID_PREFIX_CHARS = 4


def canonical_medium(value: str) -> str:
    """The canonical form of a medium id (spec §media), or InvalidRequestError.

    Raises:
        InvalidRequestError: Nothing left after trimming, too long, or characters
            outside the alphabet (the message names the first one and what to do).
    """
    text = _SPACES.sub(" ", _folded(value).strip())
    if MEDIUM_RE.fullmatch(text):
        return text
    # spec §problems: `field` says the refused value is one a person chose (a usage error
    # for the client to explain, not a protocol mismatch).
    if not text:
        raise InvalidRequestError(N_("medium is empty"), field="medium")
    if len(text) > MEDIUM_MAX:
        raise InvalidRequestError(
            N_("medium must be at most %(max)s characters", max=MEDIUM_MAX), field="medium"
        )
    bad = next((ch for ch in text if not MEDIUM_RE.fullmatch("a" + ch + "a")), None)
    if bad is not None:
        # Named by code point only: the character may not print (spec §conventions:
        # the detail never echoes the offending input).
        raise InvalidRequestError(
            N_(
                "medium contains U+%(code)s, which is not allowed: use ASCII letters, "
                "digits, space and - _ . : # + as printed on the medium's label",
                code=f"{ord(bad):04X}",
            ),
            field="medium",
        )
    raise InvalidRequestError(
        N_("medium must start and end with a letter or a digit"), field="medium"
    )


def _folded(value: str) -> str:
    """Steps 1 and 2 of the canonical form: NFKC, every dash or minus sign as ``-``."""
    text = unicodedata.normalize("NFKC", value)
    return "".join("-" if ch == _MINUS or unicodedata.category(ch) == "Pd" else ch for ch in text)


def medium_search_key(value: str) -> str:
    """What a search compares a typed text with medium ids by (never used to act).

    The canonical folding (full width, every kind of dash), case folded, and blanks and
    dashes dropped: an official reads ``USB-2026-0502`` off a label and types
    ``usb 2026 0502``. Finding is forgiving; acting on a medium still goes through its
    exact matching key (:func:`medium_key`), so a loose search can only offer, not choose.
    """
    return _SEARCH_SEPARATORS.sub("", _folded(value)).lower()


def medium_key(value: str) -> str:
    """The matching key of a medium id: its canonical form, case-folded."""
    return canonical_medium(value).lower()


def is_medium(value: str) -> bool:
    """True when ``value`` has a canonical form (for audit records of refusals)."""
    try:
        canonical_medium(value)
    except InvalidRequestError:
        return False
    return True


def nearest(
    wanted: str, known: Iterable[str], n: int = SUGGESTIONS_MAX, *, cutoff: float = _SUGGEST_CUTOFF
) -> list[str]:
    """Existing names closest to ``wanted`` ("did you mean ...?"), best first.

    Compared case-insensitively (a case slip is the commonest typo), at most ``n``, none
    whose similarity ratio is below ``cutoff`` (:data:`ID_SUGGEST_CUTOFF` for ids).
    """
    by_key: dict[str, str] = {}
    for name in known:
        by_key.setdefault(name.lower(), name)
    keys = difflib.get_close_matches(wanted.lower(), list(by_key), n=n, cutoff=cutoff)
    return [by_key[k] for k in keys]
