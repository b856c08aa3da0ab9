"""`rwc`: seal, open and inspect remote-wipe containers.

Commands: seal, open, ls, cat, verify (online: they need the key server and the password),
info (offline header), login/logout (the per-server token store).

Global options: --json (one JSON object per result on stdout; errors as JSON on stderr),
--quiet, --verbose (tracebacks only with --verbose). Errors print as ``rwc: error: ...`` and
``rwc: hint: ...`` on stderr.

Environment: RWC_TOKEN (bearer token, sent only to a server named with --server or
RWC_SERVER; else the token stored by `rwc login` for the server contacted), RWC_SERVER
(key-server URL for seal, override for readers), RWC_PASSWORD, RWC_CA_BUNDLE,
XDG_CONFIG_HOME.

Exit codes: pycontainer.cli.exits.EXIT_CODE_TABLE (printed by ``rwc --help``).
Interrupted: 130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP); each removes what the run had
written so far, like Ctrl-C (pycontainer.cli.signals).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TextIO

import pycontainer
from pycontainer.cli import login as cli_login
from pycontainer.cli import read as cli_read
from pycontainer.cli import seal as cli_seal
from pycontainer.cli.exits import ExitCode, SaidError, UsageError, epilog, exit_code_for
from pycontainer.cli.signals import Terminated, terminate_like_interrupt
from pycontainer.cli.strictargs import StrictParser, UsageText, described
from pycontainer.cli.texts import language, say, usage_text
from pycontainer.cli.ui import Ui
from pycontainer.errors import ContainerError

PROG = "rwc"
ENVIRONMENT = """environment:
  RWC_TOKEN        bearer token, sent only to the server named by --server or RWC_SERVER
                   (else the token stored by `rwc login URL` for the server contacted)
  RWC_SERVER       key server URL for seal; for readers, the server to ask (another name
                   for the container's server), and the one RWC_TOKEN belongs to
  RWC_PASSWORD     container password (else --password-file, else a prompt)
  RWC_CA_BUNDLE    PEM file of CA certificates for the key server's TLS (--ca-bundle)
  XDG_CONFIG_HOME  where the token store lives (default ~/.config; rwc/tokens.json, 0600)

--json prints one JSON object per result on stdout and errors as JSON on stderr
(`cat` keeps stdout for the data and reports on stderr)."""


class _Parser(StrictParser):
    """The strict parser (pycontainer.cli.strictargs) raising UsageError, so --json reports it."""

    def usage_error(self, message: UsageText, hint: UsageText) -> NoReturn:
        error = UsageError(usage_text(message), hint=usage_text(hint))
        error.said = True  # in the parse's language already (strictargs.language)
        raise error


class _SubcommandParser(_Parser):
    """A subcommand's parser: PATHs may come before, between or after the options.

    Plain argparse fills a ``nargs="*"``/``"+"`` positional at its first chance, so in
    ``rwc open C.rwc -C DIR PATH`` or ``rwc seal A -o OUT B`` the last PATH would be
    "unrecognized". argparse's intermixed parsing (options first, then all positionals)
    handles that; the top-level parser cannot use it (subparsers), so the subcommand
    parsers, which argparse calls through parse_known_args, switch to it here.
    """

    _intermixing = False  # parse_known_intermixed_args calls parse_known_args itself

    # Any: the same signature as the base class's overloads (typeshed), without repeating them.
    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Global options, accepted before and after the subcommand.

    In the subcommand copy the default is SUPPRESS so that it does not reset a value given
    before the subcommand.
    """
    p = _Parser(add_help=False)
    default: object = argparse.SUPPRESS if suppress else False
    p.add_argument("--json", action="store_true", default=default, help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", default=default, help="only errors")
    p.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="details and tracebacks"
    )
    return p


def version() -> str:
    """The version of rwc (both commands come from the one distribution)."""
    # The package's constant, which the distribution's metadata is built from
    # (pyproject.toml): importlib.metadata with the email package it loads cost `rwc
    # --version` ~20 ms to read the same string back (issue 15).
    return pycontainer.__version__


class _VersionAction(argparse.Action):
    """``--version``: like argparse's, but the version is looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        sys.stdout.write(f"{parser.prog} {version()}\n")  # redirected by run(), like --help
        parser.exit()


def build_parser(lang: str = "en") -> StrictParser:
    """Build the `rwc` argument parser (``lang``: of the help texts that have a translation)."""
    parser = _Parser(
        prog=PROG,
        description="Seal data into remote-wipe containers and open them with the key server.",
        epilog=ENVIRONMENT + "\n\n" + epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common_options(suppress=False)],
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubcommandParser)
    sub.required = True
    parents = [_common_options(suppress=True)]
    cli_seal.add_parser(sub, parents, lang)
    cli_read.add_parsers(sub, parents)
    cli_login.add_parsers(sub, parents)
    return described(parser)


def run(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    after_imports: Callable[[], None] | None = None,
) -> int:
    """Run `rwc` with ``argv`` and return the exit code (never raises, never exits).

    Args:
        argv: Arguments without the program name (default sys.argv[1:]).
        env: Environment (default os.environ).
        stdout: Text stream for results (default sys.stdout).
        stderr: Text stream for errors, warnings, progress (default sys.stderr).
        after_imports: Called once the command line is parsed and the subcommand's modules
            are imported, before its work starts (also when parsing ends the run):
            pycontainer.cli.entry switches the garbage collector back on there.
    """
    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else list(argv)
    ui = Ui(
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        json_mode="--json" in argv,  # known before parsing, so usage errors come out as JSON
        verbose="--verbose" in argv or "-v" in argv,
    )
    try:
        try:
            # Usage errors (and the help texts translated) in the reader's language;
            # --json keeps English (as below).
            parse_lang = "en" if ui.json_mode else language(env)
            parser = build_parser(parse_lang)
            parser.language = parse_lang
            with contextlib.redirect_stdout(ui.stdout):  # --help goes to our stdout
                args = parser.parse_args(argv)
            # A subcommand that can name its key server already (cli.common.start_tls)
            # starts building the TLS context now, so that it overlaps the imports below.
            prepare = getattr(args, "prepare", None)
            if prepare is not None:
                prepare(args, env)
            # The modules the subcommand imports where it uses them (cli.common), imported
            # now, so that its work starts after the import phase (cli.entry); the same
            # modules either way.
            for module in getattr(args, "imports", ()):
                __import__(module)
        finally:
            if after_imports is not None:
                after_imports()
        ui.json_mode = args.json
        ui.quiet = args.quiet
        ui.verbose = args.verbose
        # --json keeps English (warnings in the document), as `keyserver --json` does: what a
        # script reads does not depend on the locale it runs in.
        ui.lang = "en" if ui.json_mode else language(env)
        with terminate_like_interrupt():
            args.run(args, ui, env)
            # What is still buffered is written now, so that a full disk under `rwc cat >
            # FILE` is this run's error, said like any other (exit 1): found only at the
            # interpreter's exit it was a traceback, exit 120, after a run that "succeeded".
            ui.stdout.flush()
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except Terminated as exc:
        ui.stderr.write(f"\nrwc: error: {say('stopped_by', ui.lang, signal=exc.name)}\n")
        return 128 + exc.signum
    except KeyboardInterrupt:
        ui.stderr.write(f"\nrwc: error: {say('interrupted', ui.lang)}\n")
        return 130
    except BrokenPipeError:
        # The consumer of stdout went away (`rwc ls C.rwc | head`): it has what it wanted,
        # so end quietly and successfully, as other Unix tools do.
        _silence_stdout()
        return int(ExitCode.OK)
    except ContainerError as exc:
        code = exit_code_for(exc)
        ui.error(exc, code)
        return int(code)
    except OSError as exc:  # e.g. permission denied on an output directory
        ui.error(_os_error(exc), ExitCode.ERROR, cause=exc)
        return int(ExitCode.ERROR)
    except Exception as exc:  # noqa: BLE001 (a bug: one line, traceback only with --verbose)
        ui.error(SaidError("internal_error", name=type(exc).__name__), ExitCode.ERROR, cause=exc)
        return int(ExitCode.ERROR)
    return int(ExitCode.OK)


# What a failed read or write means for the person, by errno (pycontainer/cli/failtexts.py).
_OS_TEXT = {
    errno.ENOSPC: "os_no_space",
    errno.EDQUOT: "os_no_space",
    errno.EACCES: "os_permission",
    errno.EPERM: "os_permission",
    errno.EROFS: "os_permission",
    errno.ENOENT: "os_not_found",
    errno.ENOTDIR: "os_not_found",
}


def _os_error(exc: OSError) -> SaidError:
    where = f"{exc.filename}: " if exc.filename else ""
    detail = f"{where}{exc.strerror or exc}"
    return SaidError(_OS_TEXT.get(exc.errno or 0, "os_other"), detail=detail)


def _silence_stdout() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(
    argv: Sequence[str] | None = None, *, after_imports: Callable[[], None] | None = None
) -> int:
    """Console entry point (`rwc`, through pycontainer.cli.entry): called without ``argv``.

    Called so, it ends the process itself once the run is over (:func:`_end`); called
    with ``argv`` it returns the exit code, like :func:`run` (``after_imports``: see there).
    """
    code = run(argv, after_imports=after_imports)
    try:
        sys.stdout.flush()  # here, not in the interpreter's exit, where EPIPE would be noisy
    except BrokenPipeError:
        _silence_stdout()
    except OSError:
        # Bytes a failed run left buffered (its error is said already, run() flushed
        # what a run that succeeded wrote): they cannot be written, and the interpreter's
        # exit must not try again with a traceback.
        _silence_stdout()
        code = code or int(ExitCode.ERROR)
    if argv is None:
        _end(code)
    return code


def _end(code: int) -> None:
    """Exit now, without the interpreter's teardown, if nothing is left to finish.

    Performance: the run is over. Every file it wrote was closed (and fsynced) by the
    block that wrote it, and rwc registers no exit handlers; what the interpreter's
    teardown would still do is free several hundred modules one by one: ~38 M
    instructions, ~12 ms of every small `rwc cat` (issue 15, bench/profiles/startup.md).
    A thread still alive that is not a daemon would be cut off, so then the normal exit,
    which waits for it. Daemon threads (the TLS context being built, client/tls.py; the
    seal's Argon2id; read-ahead) are cut off by either exit, and must be by this one: the
    normal exit tears the interpreter and OpenSSL (its exit handler) down beneath them,
    and an https run refused before its first request crashed (SIGSEGV, about one run in
    fifteen to thirty here) with the trust store still loading.
    """
    # Every thread rwc starts (and any a thread that is not a daemon could be) is a
    # threading.Thread: where threading was never imported, as in a small `rwc cat`
    # (issue 15: ~2.8 M instructions), none is alive but this one.
    if "threading" in sys.modules:
        import threading  # noqa: PLC0415 - loaded already, see above

        main = threading.main_thread()
        if any(t is not main and not t.daemon for t in threading.enumerate()):
            return
    with contextlib.suppress(OSError):  # stderr gone too: there is nobody left to tell
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
