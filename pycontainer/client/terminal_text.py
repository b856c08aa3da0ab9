r"""Text from a container, a server or a database made safe to show on a terminal.

One policy for both commands (issue 12): `rwc` shows container and file names with
:func:`display_name`, and everything a server says passes through
:func:`pycontainer.client.problems.clean_text`, which `keyserver` uses for every table
cell, question and error (labels, media, reasons, principal names). It lives here, below
`pycontainer.cli`, so that `pycontainer.client` and `keyserver._cli` may import it. Which
characters are escaped is the policy the web console applies too
(rwc_shared/display_text.py); how, ``\u202e``, is the terminal's own.
"""

from __future__ import annotations

from rwc_shared.display_text import shown


def _escaped(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def display_name(name: str, *, escape_backslash: bool = True) -> str:
    r"""A container or file name made safe to show on a terminal.

    Every hidden character (rwc_shared/display_text.py: controls, so no escape sequence
    moves the cursor or recolours the screen; format characters such as U+202E, which
    would make a name pass for another) is shown as ``\uXXXX`` (``\xXX`` below U+0100),
    and a backslash as ``\\``. Names that need no escape are shown unchanged.

    ``escape_backslash=False`` (server text, :func:`~pycontainer.client.problems.clean_text`)
    keeps backslashes as they are: that text is made safe at the network edge and again
    where it is printed, and only an idempotent escape survives both unchanged; a literal
    ``\u202e`` there is visible text, never an obeyed control.
    """
    return shown(name, _escaped, also="\\" if escape_backslash else "")
