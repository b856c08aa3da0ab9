"""Text from a container, a server or a database made safe to show on a terminal.

One policy for both commands (issue 12): `rwc` shows container and file names with
:func:`display_name`, and everything a server says passes through
:func:`pycontainer.client.problems.clean_text`, which `keyserver` uses for every table
cell, question and error (labels, media, reasons, principal names). It lives here, below
`pycontainer.cli`, so that `pycontainer.client` and `keyserver._cli` may import it.
"""

from __future__ import annotations

import unicodedata

# Characters a terminal would act on or hide: controls (C0, DEL, C1: escape sequences),
# format characters (U+202E and the other bidi controls, zero-width characters, BOM), line
# and paragraph separators, surrogates (undecodable bytes), private use and unassigned.
# A bidi control would reorder what an official reads ("evil<U+202E>txt.exe" shows as
# "evilexe.txt") or hide which medium a confirmation question is about, so it is shown
# as its code point, never obeyed.
_HIDDEN = frozenset(["Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"])


def display_name(name: str, *, escape_backslash: bool = True) -> str:
    r"""A container or file name made safe to show on a terminal.

    Every character of the categories above is shown as ``\uXXXX`` (``\xXX`` below
    U+0100), and a backslash as ``\\``, so a name with U+202E (RIGHT-TO-LEFT OVERRIDE)
    cannot pass for another name and a name cannot move the cursor or recolour the
    screen. Names that need no escape are shown unchanged.

    ``escape_backslash=False`` (server text, :func:`~pycontainer.client.problems.clean_text`)
    keeps backslashes as they are: that text is made safe at the network edge and again
    where it is printed, and only an idempotent escape survives both unchanged; a literal
    ``\u202e`` there is visible text, never an obeyed control.
    """
    backslash = "\\" if escape_backslash else ""
    if all(ch != backslash and unicodedata.category(ch) not in _HIDDEN for ch in name):
        return name
    out = []
    for ch in name:
        if ch == backslash:
            out.append("\\\\")
        elif unicodedata.category(ch) in _HIDDEN:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            out.append(ch)
    return "".join(out)
