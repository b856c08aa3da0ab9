"""Strict argparse, one implementation for both commands (``rwc`` and ``keyserver``).

The two commands speak alike (issue 9): no abbreviations (``--n`` must never reach
``--now``, ``--pass`` must not silently mean ``--password-file``, and a later option of the
same prefix would change what an old script means); an unknown option names the nearest
real one and the subcommand's help, and so does a mistyped subcommand (``keyserver
suspnd``, ``rwc sael``) or choice; a parse error raises instead of exiting, so that each
command's one error boundary prints it (as JSON under ``--json``) with its exit code.

Usage errors are for people who may read Japanese (officials, clerks): argparse's English
messages are read back into a :class:`UsageText` (a key and its values), which each
command says in its reader's language from its own table (``keyserver``: the key server's
catalogue, keyserver/_cli/_argparse.py; ``rwc``: pycontainer/cli/texts.py). The English
wording stays argparse's, for ``--json`` and for scripts that read it.
"""

import argparse
import os
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from pycontainer._record import Record

# The language of the parse in progress (set by the root parser's parse_args): argparse
# calls the chosen subcommand's parser, which the command never sees, so its language
# cannot be an attribute set from outside.
_LANGUAGE: ContextVar[str] = ContextVar("strictargs_language", default="en")

# Where `-` cannot be stdin or stdout (a file read at known offsets, replaced or kept, a
# directory): said rather than read or written as a file named `-` (:func:`file_name`).
NO_DASH = "needs a file name: - (stdin or stdout) cannot be used here"

# English of each usage text (argparse's own wording where argparse wrote it).
ENGLISH: Mapping[str, str] = {
    "required": "the following arguments are required: {names}",
    "one_required": "one of the arguments {names} is required",
    "invalid_choice": "argument {argument}: invalid choice: {value} (choose from {choices})",
    "expected_one": "argument {argument}: expected one argument",
    # A whole number (type=int, every number option of both commands): said as a number,
    # not as Python's type name ("invalid int value" read to a clerk as a word of code).
    "invalid_int": "argument {argument}: invalid int value: {value}",
    "invalid_value": "argument {argument}: invalid {type} value: {value}",
    "not_allowed": "argument {argument}: not allowed with argument {other}",
    "no_dash": "argument {argument}: " + NO_DASH,
    "bad_argument": "argument {argument}: {detail}",
    "unknown_option": "unknown option {name}",
    "unexpected": "unexpected argument: {arguments}",
    "see_help": "see `{prog} --help`",
    "did_you_mean": "did you mean {option}? see `{prog} --help`",
    "other": "{text}",
}
# The English of a text said for a number other than one (UsageText.number): "unexpected
# arguments: a b", not "argument(s)". Japanese has one form (texts.py, the catalogue).
ENGLISH_PLURAL: Mapping[str, str] = {"unexpected": "unexpected arguments: {arguments}"}

# argparse's messages (CPython 3.11-3.13), most specific first; anything else is "other"
# and is said as argparse wrote it. Patterns, compiled by re (and kept in its cache) at the
# first usage error: compiling the seven at import cost every `rwc` run ~3 M instructions
# (issue 15).
_ARGPARSE: tuple[tuple[str, str], ...] = (
    ("required", r"the following arguments are required: (?P<names>.+)"),
    ("one_required", r"one of the arguments (?P<names>.+) is required"),
    (
        "invalid_choice",
        (
            r"argument (?P<argument>.+?): invalid choice: (?P<value>.+?) "
            r"\(choose from (?P<choices>.+)\)"
        ),
    ),
    ("expected_one", r"argument (?P<argument>.+?): expected one argument"),
    ("invalid_int", r"argument (?P<argument>.+?): invalid int value: (?P<value>.+)"),
    ("invalid_value", r"argument (?P<argument>.+?): invalid (?P<type>\w+) value: (?P<value>.+)"),
    ("not_allowed", r"argument (?P<argument>.+?): not allowed with argument (?P<other>.+)"),
    (
        "no_dash",
        r"argument (?P<argument>.+?): needs a file name: - \(stdin or stdout\) cannot be used here",
    ),
    ("bad_argument", r"argument (?P<argument>.+?): (?P<detail>.+)"),
)


class UsageText(Record):
    """One usage error or hint: a key of :data:`ENGLISH` and the values it names.

    A record, not a dataclass: every `rwc` run defines it (pycontainer/_record.py, issue 15).
    """

    key: str
    values: Mapping[str, str] = MappingProxyType({})
    # How many things the text names, for a text with a plural (ENGLISH_PLURAL).
    number: int = 1

    def __str__(self) -> str:
        """English, as argparse says it."""
        plural = ENGLISH_PLURAL.get(self.key)
        template = plural if plural is not None and self.number != 1 else ENGLISH[self.key]
        return template.format(**self.values)


def argparse_text(message: str) -> UsageText:
    """An argparse error message read back into a :class:`UsageText`."""
    for key, pattern in _ARGPARSE:
        found = re.fullmatch(pattern, message)
        if found:
            return UsageText(key, found.groupdict())
    return UsageText("other", {"text": message})


_Parser = TypeVar("_Parser", bound=argparse.ArgumentParser)


def described(parser: _Parser) -> _Parser:
    """``parser``, each subcommand's ``--help`` opening with what it does.

    A subcommand without a description of its own gets its line from the command list
    above it (``keyserver audit list --help`` began with the usage and nothing else).
    """
    for action in parser._actions:  # argparse has no public walker
        if isinstance(action, argparse._SubParsersAction):
            lines = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if sub.description is None and lines.get(name):
                    sub.description = lines[name]
                described(sub)
    return parser


def file_name(value: str) -> str:
    """The argparse ``type`` of a FILE (or DIR) that must be named: ``-`` is refused.

    Where ``-`` can mean stdin or stdout it does (``rwc seal -``, ``keyserver audit export
    -o -``, ``verify-report -``); where it cannot (a password or CA file, a directory to
    extract into, a backup, a key, a state file that is replaced), saying so beats reading
    or writing a file named ``-`` (issue 9). ``./-`` names such a file.
    """
    if value == "-":
        raise argparse.ArgumentTypeError(NO_DASH)
    return value


def language() -> str:
    """The language of the parse in progress (``en`` outside a parse)."""
    return _LANGUAGE.get()


class StrictParser(argparse.ArgumentParser):
    """argparse without abbreviations whose errors go to :meth:`usage_error`.

    Subclasses override :meth:`usage_error` to raise their command's usage error.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    _seen: list[str] = []  # noqa: RUF012 - per instance, set by parse_known_args
    # The language of usage errors, ``ja`` or ``en``: set on the root parser by the
    # command (its language rule; ``en`` under --json) before it parses.
    language = "en"

    def _get_formatter(self) -> argparse.HelpFormatter:
        """The formatter argparse asked for, told its width (:func:`help_width`).

        Performance: argparse makes a formatter for every ``add_argument`` (to check the
        metavar), and a HelpFormatter without a width imports shutil (with zlib, bz2 and
        lzma) for get_terminal_size: ~5.6 M instructions of every `rwc` run (issue 15).
        """
        # Any: typeshed's formatter_class takes only prog=; every HelpFormatter takes width=.
        formatter_class: Any = self.formatter_class
        formatter: argparse.HelpFormatter = formatter_class(prog=self.prog, width=help_width())
        return formatter

    # Any: typeshed's signature (file: IO[str] | None).
    def _print_message(self, message: str, file: Any = None) -> None:
        """Write help or the version, letting a failed write be the command's error.

        argparse drops an OSError here, so `rwc --help > /dev/full` said nothing and exited
        0. Help and the version are what was asked for, on stdout: written and flushed
        now, a failure goes to the command's error boundary like any other output's (the
        system's words, exit 1; a closed pipe, a quiet 0). What argparse writes to stderr
        stays its way: with stderr gone there is nobody left to tell.
        """
        if not message or file is None or file is sys.stderr:
            super()._print_message(message, file)
            return
        file.write(message)
        file.flush()

    def usage_error(self, message: UsageText, hint: UsageText) -> NoReturn:
        """Raise the command's usage error (the base class has none to raise)."""
        raise NotImplementedError(f"{type(self).__name__} must override usage_error")

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse as argparse does, remembering the arguments for :meth:`error`."""
        self._seen = list(args or [])
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """Report a parse error through :meth:`usage_error`, naming a mistyped option."""
        # A mistyped option also leaves a required one missing (`--reson` for `--reason`):
        # name the typo, which is what the user has to fix.
        typos = _unknown_options(self, self._seen)
        text = argparse_text(message)
        if typos and (
            text.key == "required"
            # `keyserver --sever URL audit list`: argparse takes the URL for the command and
            # says only that it is not one; the typo before it is what to fix.
            or (text.key == "invalid_choice" and _before(self._seen, typos[0], text))
        ):
            text, hint = _unknown_message(self, typos)
        elif text.key == "invalid_choice":
            # `keyserver suspnd`, `rwc sael`: the nearest subcommand (or choice), as for a
            # mistyped option.
            hint = _nearest_choice(self, text.values["value"])
        else:
            hint = UsageText("see_help", {"prog": self.prog})
        self.usage_error(text, hint)

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse, refusing leftovers with the nearest option and the subcommand's help."""
        token = _LANGUAGE.set(self.language)
        try:
            parsed, extras = self.parse_known_args(args, namespace)
            if extras:
                message, hint = _unknown_message(_chosen_parser(self, parsed), extras)
                self.usage_error(message, hint)
            return parsed
        finally:
            _LANGUAGE.reset(token)


def help_width() -> int:
    """The width argparse would use: ``shutil.get_terminal_size().columns - 2``.

    shutil's rule: ``COLUMNS`` if it is a positive number, else the terminal of stdout,
    else 80.
    """
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
            columns = 0
    return (columns or 80) - 2


def _chosen_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Any:
    """The subcommand's parser that ``ns`` went through (or ``parser`` itself)."""
    for action in parser._actions:  # argparse has no public walker
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(ns, action.dest or "", None) or "")
            if chosen is not None:
                return _chosen_parser(chosen, ns)
    return parser


def _close_matches(word: str, candidates: list[str], n: int) -> list[str]:
    """The ``n`` candidates nearest to ``word`` (difflib's ratio >= 0.6), best first."""
    # Imported here: only a usage error needs difflib, and every run imports this module
    # (issue 15: start-up of a small `rwc cat`).
    import difflib  # noqa: PLC0415

    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)


def _unquoted(shown: str) -> str:
    """A value as argparse quotes it in a message (``'ks'``), without the quotes."""
    return shown[1:-1] if len(shown) >= 2 and shown[0] == shown[-1] and shown[0] in "'\"" else shown


def _before(argv: list[str], typo: str, invalid: UsageText) -> bool:
    """Whether the option ``typo`` comes before the invalid choice ``invalid`` in ``argv``."""
    value = _unquoted(invalid.values["value"])
    names = [a.split("=", 1)[0] for a in argv]
    return typo in names and value in argv and names.index(typo) < argv.index(value)


def _nearest_choice(parser: argparse.ArgumentParser, shown: str) -> UsageText:
    """The hint for an invalid choice ``shown`` (as argparse quotes it): the nearest ones."""
    value = _unquoted(shown)
    # Every choice of the parser's actions that refuse ``value`` (one, in practice): the
    # subcommands of a subcommand action, the allowed values of a `choices=` option.
    choices = [
        str(choice)
        for action in parser._actions  # argparse has no public walker
        if action.choices is not None and value not in action.choices
        for choice in action.choices
    ]
    near = _close_matches(value, choices, 3)
    if not near:
        return UsageText("see_help", {"prog": parser.prog})
    return UsageText("did_you_mean", {"option": ", ".join(near), "prog": parser.prog})


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The ``--options`` in ``argv`` that ``parser`` does not know."""
    known = parser._option_string_actions  # argparse has no public accessor
    names = [a.split("=", 1)[0] for a in argv if a.startswith("--") and a != "--"]
    return [n for n in names if n not in known]


def _unknown_message(
    parser: argparse.ArgumentParser, extras: list[str]
) -> tuple[UsageText, UsageText]:
    """(message, hint) for arguments ``parser`` does not know: the nearest option, its help."""
    see = UsageText("see_help", {"prog": parser.prog})
    unknown = [x for x in extras if x.startswith("-") and x != "-"]
    if not unknown:
        return UsageText("unexpected", {"arguments": " ".join(extras)}, len(extras)), see
    name = unknown[0].split("=", 1)[0]
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    near = _close_matches(name, options, 1)
    hint = UsageText("did_you_mean", {"option": near[0], "prog": parser.prog}) if near else see
    return UsageText("unknown_option", {"name": name}), hint
