"""argparse made strict for the ``keyserver`` command (the same rules as ``rwc``'s parser).

No abbreviations (``--n`` must never reach ``--now``), an unknown option names the nearest
real one and the subcommand's help, and container ids that start with ``-`` get through.
"""

from __future__ import annotations

import argparse
import difflib
import re
from typing import Any

from keyserver.cli.errors import EXIT_USAGE, CliError


class StrictParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns stderr and the exit code.

    No abbreviations: ``--now`` must never be reached by typing ``--n``, and a later option
    of the same prefix would change what an old script means. An unknown option names the
    nearest real one and the subcommand's help (as `rwc` does).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    _seen: list[str] = []  # noqa: RUF012 - per instance, set by parse_known_args

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._seen = list(args or [])
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:
        # A mistyped option also leaves a required one missing (`--reson` for `--reason`):
        # name the typo, which is what the user has to fix.
        typos = _unknown_options(self, self._seen)
        if typos and message.startswith("the following arguments are required"):
            message, hint = _unknown_message(self, typos)
            raise CliError(message, hint=hint, exit_code=EXIT_USAGE)
        raise CliError(message, hint=f"see `{self.prog} --help`", exit_code=EXIT_USAGE)

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            message, hint = _unknown_message(_chosen_parser(self, parsed), extras)
            raise CliError(message, hint=hint, exit_code=EXIT_USAGE)
        return parsed


def _chosen_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Any:
    """The (sub)command parser that ``ns`` went through (or ``parser`` itself)."""
    for action in parser._actions:  # argparse has no public walker
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(ns, action.dest or "", None) or "")
            if chosen is not None:
                return _chosen_parser(chosen, ns)
    return parser


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The ``--options`` in ``argv`` that ``parser`` does not know."""
    known = parser._option_string_actions  # argparse has no public accessor
    names = [a.split("=", 1)[0] for a in argv if a.startswith("--") and a != "--"]
    return [n for n in names if n not in known]


def _unknown_message(parser: argparse.ArgumentParser, extras: list[str]) -> tuple[str, str]:
    """(message, hint) for arguments ``parser`` does not know: the nearest option, its help."""
    see = f"see `{parser.prog} --help`"
    unknown = [x for x in extras if x.startswith("-") and x != "-"]
    if not unknown:
        return f"unexpected argument(s): {' '.join(extras)}", see
    name = unknown[0].split("=", 1)[0]
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    near = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"unknown option {name}", (f"did you mean {near[0]}? {see}" if near else see)


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
