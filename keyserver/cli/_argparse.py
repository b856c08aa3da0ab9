"""argparse for the ``keyserver`` command: ``rwc``'s strict rules, and ids starting with ``-``.

The strict rules (no abbreviations, nearest-option hints) are pycontainer.cli.strictargs,
shared with ``rwc`` so the two commands speak alike; this module raises them as CliError
and lets container ids that start with ``-`` through.
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from keyserver.cli.errors import EXIT_USAGE, CliError
from pycontainer.cli import strictargs


class StrictParser(strictargs.StrictParser):
    """The strict parser of both commands (pycontainer.cli.strictargs) raising CliError."""

    def usage_error(self, message: str, hint: str) -> NoReturn:
        raise CliError(message, hint=hint, exit_code=EXIT_USAGE)


_ID_LIKE = re.compile(r"-[A-Za-z0-9_-]{21}")


def _option_strings(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every option string of the parser tree -> whether it takes a value."""
    found: dict[str, bool] = {}
    for action in parser._actions:  # argparse has no public walker
        for option in action.option_strings:
            found[option] = action.nargs != 0
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(_option_strings(sub))
    return found


def protect_ids(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Let container ids that start with ``-`` through argparse.

    A base64url container id starts with ``-`` one time in 64; argparse would take it for
    an option. Such a token (22 id characters, not an option of ours) becomes
    ``--option=ID`` after an option that takes a value, else a positional after ``--``.
    """
    if "--" in argv:
        return argv
    options = _option_strings(parser)
    out: list[str] = []
    tail: list[str] = []
    for token in argv:
        if not _ID_LIKE.fullmatch(token) or token in options:
            out.append(token)
        elif out and options.get(out[-1]) and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            tail.append(token)
    return [*out, "--", *tail] if tail else out
