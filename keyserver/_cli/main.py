"""The ``keyserver`` command: set up, run and manage an rwc key server.

Two modes (spec/protocol.md §cli):

- **local** (``--data-dir DIR`` / ``KEYSERVER_DATA_DIR``, or ``--database-url``): the command
  opens the database and the master key itself and calls the service layer as a *local
  operator* named ``--as NAME``, by default ``operator@<hostname>``. The operator needs no
  principal row and no token, and role checks are skipped (whoever can read the data
  directory holds the database and the master key, so has every power anyway), but every
  action is audited under that name with ``remote = "local"``, and a local operator can
  never evaluate a container.
- **remote** (``--server URL``, token in ``KEYSERVER_TOKEN``): the HTTP protocol.

Both write the same audit entries, naming the acting principal. ``init``, ``migrate``,
``serve`` and ``sweep`` are local only. Configuration: flags > ``KEYSERVER_*`` > TOML file
(``--config`` / ``KEYSERVER_CONFIG``, and ``DATA_DIR/keyserver.toml``).

Output: tables for people, ``--json`` for scripts; errors as ``keyserver: error: ...`` and
``keyserver: hint: ...`` on stderr, a traceback only with ``--verbose``. Exit codes: see
:mod:`keyserver._cli.errors` and ``keyserver --help``.

This module is the one error boundary (:func:`main`); the parser is in
:mod:`keyserver._cli.parser` (strict argparse rules in :mod:`keyserver._cli._argparse`) and the
handlers in :mod:`keyserver._cli.commands`, :mod:`keyserver._cli.incident` and the local-only
modules.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import TextIO

from keyserver._cli._argparse import protect_ids
from keyserver._cli.commands import HANDLERS
from keyserver._cli.config import Resolved, resolve
from keyserver._cli.context import Context
from keyserver._cli.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
)
from keyserver._cli.output import Output
from keyserver._cli.parser import build_parser
from keyserver._domain.i18n import N_
from keyserver._domain.settings import ConfigError, display_zone, read_config_file
from pycontainer.cli.texts import language

# Parsing keeps one piece of state in the parser, the arguments being parsed (for the
# mistyped-option hint): parses in one process take turns.
_PARSE_LOCK = threading.Lock()


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """The command's parser, built once per process.

    Building it costs ~34 ms of CPU (every subcommand and option): once for a command run,
    but paid by every in-process call of :func:`main` (the tests make hundreds). Besides the
    arguments being parsed (``_PARSE_LOCK``), a parse changes nothing in it: ``append``
    options copy their default list before adding to it.
    """
    return build_parser()


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run the ``keyserver`` command.

    Args:
        argv: Arguments without the program name (default ``sys.argv[1:]``).
        stdin: Input for confirmations (default ``sys.stdin``).
        stdout: Result stream (default ``sys.stdout``).
        stderr: Error stream (default ``sys.stderr``).
        env: Environment (default ``os.environ``).

    Returns:
        The exit code (see ``keyserver --help``: keyserver._cli.errors.EXIT_CODE_TABLE).
    """
    code = _main(
        list(sys.argv[1:] if argv is None else argv),
        sys.stdin if stdin is None else stdin,
        sys.stdout if stdout is None else stdout,
        sys.stderr if stderr is None else stderr,
        os.environ if env is None else env,
    )
    if stdout is None:
        try:
            sys.stdout.flush()  # here, not at interpreter exit, where EPIPE would be noisy
        except BrokenPipeError:
            _silence_stdout(sys.stdout)
            return EXIT_OK
    return code


def _main(
    argv: list[str], stdin: TextIO, stdout: TextIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    """:func:`main` with its defaults applied, without the closed-pipe handling."""
    verbose = "--verbose" in argv
    # Usage errors are said in the command's language too (officials type these
    # commands): known before parsing, as --json is.
    out = Output(stdout, stderr, as_json="--json" in argv, lang=language(env, "KEYSERVER_LANG"))
    try:
        try:
            parser = _parser()
            # --help and --version go to our stdout; --help in the command's language.
            with _PARSE_LOCK, contextlib.redirect_stdout(stdout):
                parser.language = out.lang  # type: ignore[attr-defined]
                args = parser.parse_args(protect_ids(argv, parser))
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        out = Output(stdout, stderr, as_json=bool(getattr(args, "json", False)))
        flags = {
            "config": getattr(args, "config", None),
            "data_dir": getattr(args, "data_dir", None),
            "server": getattr(args, "server", None),
            "ca_bundle": getattr(args, "ca_bundle", None),
            "as": getattr(args, "as_", None),
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "workers": getattr(args, "workers", None),
            "tls_cert": getattr(args, "tls_cert", None),
            "tls_key": getattr(args, "tls_key", None),
        }
        resolved = resolve(flags, env)
        out = Output(
            stdout,
            stderr,
            as_json=bool(getattr(args, "json", False)),
            zone=_zone(args, resolved),
            lang=language(env, "KEYSERVER_LANG"),  # one rule for both commands
        )
        ctx = Context(args, out, resolved, stdin)
        return HANDLERS[args.command](ctx)
    except BrokenPipeError:
        # The reader of stdout went away (`keyserver audit export | head`): it has what it
        # wanted, so end quietly and successfully, as other Unix tools do.
        _silence_stdout(stdout)
        return EXIT_OK
    except CliError as exc:
        if verbose:
            traceback.print_exc(file=stderr)
        out.error(exc.shown_message, exc.shown_hint, exit_code=exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        out.error(N_("interrupted"), exit_code=EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except OSError as exc:
        # The system refused what the command did not expect to fail (its output on a full
        # disk, `> /dev/full`): said in the system's words, as `rwc` says it, not as a bug
        # to report (issue 9).
        if verbose:
            traceback.print_exc(file=stderr)
        where = f"{exc.filename}: " if exc.filename else ""
        out.error(N_("%(text)s", text=f"{where}{exc.strerror or exc}"), exit_code=EXIT_FAILURE)
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a bare traceback
        if verbose:
            traceback.print_exc(file=stderr)
        out.error(
            N_("unexpected %(error)s", error=type(exc).__name__),
            hint=N_("run again with --verbose for the traceback, and report it"),
            exit_code=EXIT_FAILURE,
        )
        return EXIT_FAILURE


def _silence_stdout(stdout: TextIO) -> None:
    """Point a closed stdout at /dev/null so the interpreter's last flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)


def _zone(args: argparse.Namespace, resolved: Resolved) -> tzinfo | None:
    """The display zone: flag > KEYSERVER_* > --config TOML > DATA_DIR/keyserver.toml.

    The same order as :meth:`Settings.load`; the data directory's file is where
    ``keyserver init --display-timezone`` keeps it (issue 12). None if none is set: then
    the zone the key server states (remote mode, spec §cli), else this machine's.
    """
    try:
        name = (
            getattr(args, "set_display_timezone", None)
            or resolved.settings_env.get("KEYSERVER_DISPLAY_TIMEZONE")
            or str(read_config_file(resolved.data_dir).get("display_timezone", ""))
        )
        return display_zone(name) if name else None
    except ConfigError as exc:
        raise CliError(str(exc), exit_code=EXIT_CONFIG) from exc


__all__ = ["HANDLERS", "build_parser", "main"]

if __name__ == "__main__":  # `python -m keyserver._cli.main` (bench/keyserver_bench.py's fallback)
    sys.exit(main())
