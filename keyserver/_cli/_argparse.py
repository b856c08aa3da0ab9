"""argparse for the ``keyserver`` command: ``rwc``'s strict rules, and ids starting with ``-``.

The strict rules (no abbreviations, nearest-option hints) are pycontainer.cli.strictargs,
shared with ``rwc`` so the two commands speak alike; this module raises them as CliError,
said from the key server's catalogue in the command's language (officials read Japanese;
``--json`` keeps argparse's English), and lets container ids that start with ``-`` through.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from typing import Any, NoReturn

from keyserver._cli.errors import EXIT_USAGE, CliError
from keyserver._domain.i18n import N_, Message, ngettext, translate
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


# argparse's own words in a help text, looked up in the catalogue as the command's are.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
)


def _said(text: str) -> str:
    """A help text (its English is its message id) in the language of the parse in progress.

    ``--help`` is printed while parsing, in the language the command set on the parser
    (keyserver/_cli/main.py). A text the catalogue does not hold (an operator's command
    not translated yet) stays English.
    """
    lang = strictargs.language()
    return text if lang == "en" else translate(lang, text)


# A line of a table in an epilog: its indent and code (the exit codes), then its text.
_TABLE_LINE = re.compile(r"(\s*\d*\s*)(.*)")


def _paragraph(text: str) -> str:
    """An epilog paragraph: said whole, else line by line (the exit-code table's lines)."""
    said = _said(text)
    if said != text or strictargs.language() == "en":
        return said
    lines = []
    for line in text.split("\n"):
        lead, rest = _TABLE_LINE.fullmatch(line).groups()  # type: ignore[union-attr]
        lines.append(lead + _said(rest) if rest else line)
    return "\n".join(lines)


# Where a line's text starts: after its indent and a first column (an exit code, a mode's
# name) followed by two spaces or more.
_COLUMN = re.compile(r"\s*(?:\S+\s{2,})?")


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, a wide (Japanese) character two.

    argparse's textwrap counts characters and breaks only at spaces: a Japanese help
    line ran past the terminal's edge. This breaks at spaces or between wide characters.
    """
    lines: list[str] = []
    line, used = "", 0
    for token in re.findall(r"[^\s\u3000-\u9fff\uff00-\uffef]+|\s+|.", text):
        size = sum(_width(c) for c in token)
        if token.isspace():  # kept as written (a table's columns), never at a line's start
            if line and used + size < width:
                line, used = line + token, used + size
            continue
        if line and used + size > width:
            lines.append(line.rstrip())
            line, used = "", 0
        line, used = line + token, used + size
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, in the command's language (issue 12: officials read Japanese).

    The texts are marked where the parser is built (``help=N_("...").msgid``: a plain
    string for argparse, extracted into the catalogue) and translated here, when printed.
    A description or epilog is translated a paragraph at a time.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        found = super()._get_help_string(action)
        return None if found is None else _said(found)

    def start_section(self, heading: str | None) -> None:
        super().start_section(None if heading is None else _said(heading))

    # Any: typeshed's parameter types differ between Python versions.
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = None) -> None:
        super().add_usage(usage, actions, groups, _said("usage: ") if prefix is None else prefix)

    def add_text(self, text: str | None) -> None:
        if text and text is not argparse.SUPPRESS:
            text = "\n\n".join(_paragraph(part) for part in text.split("\n\n"))
        super().add_text(text)

    def _split_lines(self, text: str, width: int) -> list[str]:
        if strictargs.language() == "en":  # English as argparse has always wrapped it
            return super()._split_lines(text, width)
        return _wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if strictargs.language() == "en":
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in _wrap(" ".join(text.split()), width))


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` keeping the description's and epilog's own line breaks."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if strictargs.language() == "en":
            return argparse.RawDescriptionHelpFormatter._fill_text(self, text, width, indent)
        out = []
        for line in text.splitlines():  # each line kept, a long one wrapped under its text
            lead = _COLUMN.match(line).group(0)  # type: ignore[union-attr]
            columns = sum(_width(c) for c in lead)
            said = _wrap(line[len(lead) :], width - columns)
            out += [indent + lead + said[0], *(indent + " " * columns + s for s in said[1:])]
        return "\n".join(out)


class StrictParser(strictargs.StrictParser):
    """The strict parser of both commands (pycontainer.cli.strictargs) raising CliError.

    Its help is said in the command's language (:class:`HelpFormatter`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

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
