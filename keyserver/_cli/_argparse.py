"""argparse for the ``keyserver`` command: ``rwc``'s strict rules, and ids starting with ``-``.

The strict rules (no abbreviations, nearest-option hints) are pycontainer.cli.strictargs,
shared with ``rwc`` so the two commands speak alike; this module raises them as CliError,
said from the key server's catalogue in the command's language (officials read Japanese;
``--json`` keeps argparse's English), and lets container ids that start with ``-`` through.
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

from keyserver._cli.errors import EXIT_USAGE, CliError
from keyserver._domain.i18n import N_, Message, ngettext
from pycontainer.cli import strictargs

# Each usage text of the strict parser (strictargs.ENGLISH, the same English words).
_TEXTS: dict[str, Message] = {
    "required": N_("the following arguments are required: %(names)s"),
    "one_required": N_("one of the arguments %(names)s is required"),
    "invalid_choice": N_(
        "argument %(argument)s: invalid choice: %(value)s (choose from %(choices)s)"
    ),
    "expected_one": N_("argument %(argument)s: expected one argument"),
    "invalid_int": N_("argument %(argument)s: invalid int value: %(value)s"),
    "invalid_value": N_("argument %(argument)s: invalid %(type)s value: %(value)s"),
    "not_allowed": N_("argument %(argument)s: not allowed with argument %(other)s"),
    "no_dash": N_(
        "argument %(argument)s: needs a file name: - (stdin or stdout) cannot be used here"
    ),
    "bad_argument": N_("argument %(argument)s: %(detail)s"),
    "unknown_option": N_("unknown option %(name)s"),
    "unexpected": ngettext(
        "unexpected argument: %(arguments)s", "unexpected arguments: %(arguments)s", 1
    ),
    "see_help": N_("see `%(prog)s --help`"),
    "did_you_mean": N_("did you mean %(option)s? see `%(prog)s --help`"),
    "other": N_("%(text)s"),
}


def usage_message(text: strictargs.UsageText) -> Message:
    """A usage text as a catalogue message (said in the command's language when printed)."""
    said = _TEXTS[text.key]
    return Message(said.msgid, dict(text.values), plural=said.plural, count=text.number)


class StrictParser(strictargs.StrictParser):
    """The strict parser of both commands (pycontainer.cli.strictargs) raising CliError."""

    def usage_error(self, message: strictargs.UsageText, hint: strictargs.UsageText) -> NoReturn:
        raise CliError(usage_message(message), hint=usage_message(hint), exit_code=EXIT_USAGE)


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
