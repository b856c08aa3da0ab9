r"""Which characters of text rwc did not write are shown as code points, never obeyed.

One policy for every place that shows stored or received text to a person (issue 12):
`rwc` and `keyserver` on a terminal (pycontainer/client/terminal_text.py, which
`clean_text` uses for everything a server says) and the key server's web console, on screen
and on paper (keyserver/_http/console/_shown.py). Which characters: decided here only. How a
code point is written is the caller's concern (``\u202e`` on a terminal, ``<U+202E>`` in
the console), as is anything else a medium needs (a terminal escapes the backslash too).

Security decision: the server refuses direction and C1 controls in free text (spec
§conventions), but rows stored before that rule, or restored from an old backup, still hold
them, and a reply may come from a hostile server; so whatever shows text applies this
policy itself rather than trusting what was stored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Unicode general categories whose characters a terminal or a browser would act on or not
# show: controls (C0, DEL, C1: escape sequences), format characters (U+202E and the other
# bidi controls, zero-width characters, BOM), line and paragraph separators, surrogates
# (undecodable bytes), private use and unassigned. A bidi control would reorder what an
# official reads ("evil<U+202E>txt.exe" shows as "evilexe.txt") or hide which container a
# confirmation is about; a zero-width one makes two labels look the same. So each is shown
# as its code point: something odd is seen, not obeyed. Letters and marks of every script
# (Japanese, Hebrew, Arabic) are none of these and are shown unchanged.
HIDDEN_CATEGORIES = frozenset(["Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"])


def hidden(ch: str) -> bool:
    """True if the character ``ch`` is shown as its code point (:data:`HIDDEN_CATEGORIES`)."""
    return unicodedata.category(ch) in HIDDEN_CATEGORIES


def shown(text: str, code_point: Callable[[str], str], *, also: str = "") -> str:
    r"""``text`` with each hidden character (and each of ``also``) written as ``code_point(ch)``.

    Text that holds none comes back unchanged (the same object). ``also`` is a medium's own
    concern: a terminal's backslash, so that a literal ``\u202e`` cannot pass for an
    escaped control.
    """
    if not any(ch in also or hidden(ch) for ch in text):
        return text
    return "".join(code_point(ch) if ch in also or hidden(ch) else ch for ch in text)
