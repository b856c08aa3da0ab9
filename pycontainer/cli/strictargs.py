"""Strict argparse, one implementation for both commands (``rwc`` and ``keyserver``).

The two commands speak alike (issue 9): no abbreviations (``--n`` must never reach
``--now``, ``--pass`` must not silently mean ``--password-file``, and a later option of the
same prefix would change what an old script means); an unknown option names the nearest
real one and the subcommand's help; a parse error raises instead of exiting, so that each
command's one error boundary prints it (as JSON under ``--json``) with its exit code.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any, NoReturn


class StrictParser(argparse.ArgumentParser):
    """argparse without abbreviations whose errors go to :meth:`usage_error`.

    Subclasses override :meth:`usage_error` to raise their command's usage error.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    _seen: list[str] = []  # noqa: RUF012 - per instance, set by parse_known_args

    def usage_error(self, message: str, hint: str) -> NoReturn:
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
        if typos and message.startswith("the following arguments are required"):
            message, hint = _unknown_message(self, typos)
        else:
            hint = f"see `{self.prog} --help`"
        self.usage_error(message, hint)

    # Any: the same signature as the base class's overloads (typeshed).
    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse, refusing leftovers with the nearest option and the subcommand's help."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            message, hint = _unknown_message(_chosen_parser(self, parsed), extras)
            self.usage_error(message, hint)
        return parsed


def _chosen_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Any:
    """The subcommand's parser that ``ns`` went through (or ``parser`` itself)."""
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
