"""What a ``keyserver`` command handler gets: parsed arguments, output, configuration.

Local-mode handlers (keyserver/_cli/local.py) and the rest (keyserver/_cli/commands.py) take
the same :class:`Context`; which backend serves a command is chosen in commands.py, so this
module imports neither backend.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from keyserver._cli.config import DURATION_SETTINGS, SETTING_FLAGS, Resolved, parse_duration
from keyserver._cli.errors import EXIT_ABORTED, EXIT_USAGE, CliError
from keyserver._cli.output import Output
from keyserver._domain.i18n import N_, Message


class Context:
    """What a command handler needs: parsed args, output, configuration, streams."""

    def __init__(
        self,
        args: argparse.Namespace,
        out: Output,
        resolved: Resolved,
        stdin: TextIO,
    ) -> None:
        self.args = args
        self.out = out
        self.resolved = resolved
        self.stdin = stdin

    def opt(self, name: str, *, default: Any = None) -> Any:
        """A common option (they are SUPPRESSed when not given)."""
        return getattr(self.args, name, default)

    def setting_overrides(self) -> dict[str, Any]:
        """Server settings given as flags (durations parsed)."""
        overrides: dict[str, Any] = {}
        for name, _help in SETTING_FLAGS:
            value = getattr(self.args, "set_" + name, None)
            if value is None:
                continue
            flag = "--" + name.replace("_", "-")
            overrides[name] = (
                parse_duration(value, flag=flag) if name in DURATION_SETTINGS else value
            )
        return overrides

    @property
    def remote(self) -> bool:
        """Remote mode: ``--server``, or a server URL from env/TOML without ``--data-dir``.

        Flags beat the environment: ``--data-dir`` selects local mode even when
        KEYSERVER_SERVER is set, ``--server`` remote mode even when KEYSERVER_DATA_DIR is.
        """
        r = self.resolved
        if r.server_from_flag and r.data_dir_from_flag:
            raise CliError(
                N_("both --data-dir and --server are given"),
                hint=N_("use --data-dir for local mode or --server for remote mode, not both"),
                exit_code=EXIT_USAGE,
            )
        if r.data_dir_from_flag:
            return False
        return bool(r.command.get("server"))

    def require_local(self) -> None:
        """Refuse ``--server`` for a command that needs the database itself (one text).

        The commands of parser.LOCAL_ONLY_COMMANDS (init, backup, rotate-master-key, ...)
        act on the database and the master key, which no API exposes.
        """
        if self.resolved.server_from_flag:
            raise CliError(
                N_(
                    "`%(command)s` works only on a data directory, not over --server",
                    command=self.args.command,
                ),
                hint=N_("run it on the key-server host with --data-dir DIR"),
                exit_code=EXIT_USAGE,
            )

    def confirm(self, question: str | Message, *, refusal: Message | None = None) -> None:
        """Ask once before an action a person must agree to (spec §cli).

        Destroys (``destroy``, ``report-loss --now``), a short waiting period, an approval,
        and ``reset-budget``, which destroys nothing but gives attempts back. ``refusal``
        names the action in the error shown without a terminal and without ``--yes``;
        the default says a destructive one.

        Raises:
            CliError: Declined (exit 8), or no TTY and no ``--yes`` (usage error).
        """
        if self.opt("yes", default=False):
            return
        if not self.stdin.isatty():
            raise CliError(
                refusal or N_("refusing a destructive action without confirmation"),
                hint=N_("pass --yes to confirm non-interactively"),
                exit_code=EXIT_USAGE,
            )
        # The answer is `yes` in every language: one word to type, never a translated one
        # that a keyboard in the other input mode would get wrong.
        prompt = self.out.say(N_("Type 'yes' to confirm: "))
        # The question carries labels, media and names from the server, which forbids
        # control characters; the command does not rely on that (a hostile server, or a
        # label edited in the database: labels are outside the row MAC, spec
        # §row-integrity). Every line goes through the terminal sanitiser, so no escape
        # sequence can redraw what the official is asked to confirm.
        shown = self.out.safe_lines(self.out.say(question))
        self.out.stderr.write(f"{shown} {prompt}")
        self.out.stderr.flush()
        answer = self.stdin.readline().strip().lower()
        if answer != "yes":
            raise CliError(N_("aborted; nothing was changed"), exit_code=EXIT_ABORTED)
