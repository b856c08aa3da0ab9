"""What `rwc` prints: results, warnings, errors and progress bars.

Rules:
* Results go to stdout: a line of text, or with ``--json`` exactly one JSON object
  (``{"ok": true, "command": ..., ...}``). ``cat`` writes the entry's bytes instead.
* Errors, warnings and hints go to stderr as ``rwc: error: ...`` / ``rwc: hint: ...`` /
  ``rwc: warning: ...``; with ``--json`` an error is one JSON object on stderr
  (``{"ok": false, "error": {"exit_code", "kind", "message", "hint", ...}}``) and warnings
  are carried in the result's ``warnings`` list.
* Progress bars (rich) only when stderr is a terminal and neither --quiet nor --json is set.
* A traceback only with --verbose.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from pycontainer.cli.exits import KIND, ExitCode
from pycontainer.errors import ContainerError, KeyServerCallError, KeyServerRevokedError

ProgressFn = Callable[[int, int], None]


class Ui:
    """Output policy of one `rwc` run."""

    def __init__(
        self,
        *,
        stdout: TextIO,
        stderr: TextIO,
        json_mode: bool = False,
        quiet: bool = False,
        verbose: bool = False,
    ) -> None:
        """Create the UI.

        Args:
            stdout: Where results go.
            stderr: Where errors, warnings and progress go.
            json_mode: Machine-readable output (--json).
            quiet: Only errors (--quiet).
            verbose: Extra detail and tracebacks (--verbose).
        """
        self.stdout = stdout
        self.stderr = stderr
        self.json_mode = json_mode
        self.quiet = quiet
        self.verbose = verbose
        self.warnings: list[str] = []
        # The language of rwc's own prompts, warnings and hints (pycontainer/cli/texts.py).
        self.lang = "en"

    def result(self, command: str, data: dict[str, Any], text: str | None) -> None:
        """Print the result of a successful command.

        Args:
            command: The subcommand name.
            data: The machine-readable result (printed with --json).
            text: The human-readable result (None: print nothing unless --json).
        """
        if self.json_mode:
            doc = {"ok": True, "command": command, **data, "warnings": self.warnings}
            self._write(json.dumps(doc, ensure_ascii=False) + "\n")
        elif text is not None and not self.quiet:
            self._write(text + ("" if text.endswith("\n") else "\n"))
        self.stdout.flush()

    def data(self, text: str) -> None:
        """Print primary output that --quiet does not suppress (ls, info), never with --json."""
        if not self.json_mode:
            self._write(text + ("" if text.endswith("\n") else "\n"))

    def _write(self, text: str) -> None:
        """Write to stdout; what the encoding cannot show is escaped, not a failure.

        A POSIX file name need not be valid UTF-8 (Python keeps such bytes as surrogates);
        the run has succeeded by the time its result is printed, so printing it must not
        turn that into an error.
        """
        try:
            self.stdout.write(text)
        except UnicodeEncodeError:  # raised before anything is written
            encoding = getattr(self.stdout, "encoding", None) or "utf-8"
            self.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def note(self, message: str) -> None:
        """Print a progress note on stderr (only with --verbose)."""
        if self.verbose and not self.json_mode:
            self.stderr.write(f"rwc: {message}\n")

    def inform(self, message: str) -> None:
        """Tell the person something that is good to know, not a problem (stderr).

        Neither a warning nor a --verbose note: said unless --quiet or --json.
        """
        if not (self.json_mode or self.quiet):
            self.stderr.write(f"rwc: {message}\n")

    def warn(self, message: str, hint: str | None = None) -> None:
        """Report a warning (the command still succeeds)."""
        self.warnings.append(message)
        if self.json_mode or self.quiet:
            return
        self.stderr.write(f"rwc: warning: {message}\n")
        if hint:
            self.stderr.write(f"rwc: hint: {hint}\n")

    def error(self, exc: BaseException, code: ExitCode, cause: BaseException | None = None) -> None:
        """Report the error that ends the run.

        Args:
            exc: The error as shown to people.
            code: The exit code it maps to.
            cause: The original exception, whose traceback --verbose prints (default exc).
        """
        message = str(exc) or type(exc).__name__
        hint = exc.hint if isinstance(exc, ContainerError) else None
        if self.json_mode:
            err: dict[str, Any] = {
                "exit_code": int(code),
                "kind": KIND.get(code, "error"),
                "message": message,
                "hint": hint,
            }
            if isinstance(exc, KeyServerCallError):
                err["contact"] = exc.contact
            if isinstance(exc, KeyServerRevokedError):
                err["revoked_at"] = exc.revoked_at
                err["reason"] = exc.reason
            doc = {"ok": False, "error": err, "warnings": self.warnings}
            self.stderr.write(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            if isinstance(exc, ContainerError):
                # In the reader's words and language (issue 12); --json above keeps the
                # English. Imported here: only a run that fails needs it.
                from pycontainer.cli.refusals import for_person  # noqa: PLC0415

                message, hint = for_person(exc, self.lang)
            self.stderr.write(f"rwc: error: {message}\n")
            if hint:
                self.stderr.write(f"rwc: hint: {hint}\n")
        if self.verbose:
            # Imported here: traceback (with linecache and tokenize) is only for --verbose
            # errors, and every `rwc` run imports this module (issue 15).
            import traceback  # noqa: PLC0415

            traceback.print_exception(cause or exc, file=self.stderr)
        self.stderr.flush()

    def _interactive(self) -> bool:
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty()) and not self.quiet and not self.json_mode

    @contextlib.contextmanager
    def progress(self, description: str) -> Iterator[ProgressFn | None]:
        """Yield a progress callback for long work, or None when there is no terminal."""
        if not self._interactive():
            yield None
            return
        # rich only here: most runs have no terminal (scripts, pipes) and never draw a bar.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stderr),
            transient=True,
        )
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)  # 0: unknown (stdin)

        with bar:
            yield update
