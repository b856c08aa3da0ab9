"""Exit codes of `rwc` and the mapping from exceptions to them.

:data:`EXIT_CODE_TABLE` is the single source of truth: `rwc --help` prints it, ``--json``
errors carry its ``kind``, and a test checks README.md against it.
"""

from __future__ import annotations

from enum import IntEnum

from pycontainer.cli.failtexts import OWN_TEXTS
from pycontainer.client.server_url import ServerUrlError
from pycontainer.client.tokens import TokenScopeError
from pycontainer.errors import (
    ContainerError,
    FormatError,
    HeaderAuthError,
    KeyServerDeniedError,
    KeyServerExpiredError,
    KeyServerHeaderMismatchError,
    KeyServerInvalidValueError,
    KeyServerRevokedError,
    KeyServerSuspendedError,
    KeyServerUnavailableError,
    KeyServerUnknownNameError,
    OutputExistsError,
    PayloadError,
    WrongPasswordError,
)


class ExitCode(IntEnum):
    """Process exit codes of `rwc` (documented; scripts depend on them)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    REVOKED = 3
    SUSPENDED = 4
    DENIED = 5
    WRONG_PASSWORD = 6
    UNREACHABLE = 7
    CORRUPT = 8
    EXPIRED = 9
    EXISTS = 10


class UsageError(ContainerError):
    """The command line is wrong (exit code 2)."""


class SaidError(ContainerError):
    """An error of the `rwc` command itself, by its key in OWN_TEXTS (pycontainer/cli/failtexts.py).

    The message and hint are the key's English (what ``--json`` carries); the error
    boundary says the key in the reader's language (refusals.for_person). Exit code 1.

    Attributes:
        key: The text's key (its hint: ``key + "_hint"``, if listed).
        values: The text's ``{placeholders}``.
    """

    def __init__(self, key: str, **values: str) -> None:
        hint = OWN_TEXTS.get(key + "_hint", {}).get("en")
        super().__init__(
            OWN_TEXTS[key]["en"].format(**values),
            hint=hint.format(**values) if hint else None,  # "": said in Japanese only
        )
        self.key = key
        self.values = values


class SaidUsageError(SaidError, UsageError):
    """A :class:`SaidError` that is a usage error (exit code 2)."""


# (code, kind for --json, meaning for people)
EXIT_CODE_TABLE: tuple[tuple[ExitCode, str, str], ...] = (
    (ExitCode.OK, "ok", "success"),
    (ExitCode.ERROR, "error", "other error"),
    (ExitCode.USAGE, "usage", "usage error"),
    (ExitCode.REVOKED, "revoked", "the container was revoked: its key was destroyed"),
    (ExitCode.SUSPENDED, "suspended", "the container is suspended"),
    (ExitCode.DENIED, "denied", "not allowed: not authenticated, or not on the policy"),
    (ExitCode.WRONG_PASSWORD, "wrong-password", "wrong password"),
    (ExitCode.UNREACHABLE, "unreachable", "the key server is unreachable"),
    (ExitCode.CORRUPT, "corrupt", "the container is corrupt or was tampered with"),
    (ExitCode.EXPIRED, "expired", "the container has expired"),
    (ExitCode.EXISTS, "exists", "the output exists already (use --force to overwrite)"),
)
KIND = {code: kind for code, kind, _ in EXIT_CODE_TABLE}

# Most specific first: the first matching class wins.
_BY_CLASS: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (UsageError, ExitCode.USAGE),
    # Every URL the CLI normalises comes from the user (--server, RWC_SERVER, login URL);
    # a bad URL inside a container is a FormatError raised by the library instead.
    (ServerUrlError, ExitCode.USAGE),
    # RWC_TOKEN without a named server: the user must say where the token belongs.
    (TokenScopeError, ExitCode.USAGE),
    # A reader or medium name the key server does not know: the command line names it.
    (KeyServerUnknownNameError, ExitCode.USAGE),
    # A value the user chose breaks a rule of the spec (a medium id outside §media's alphabet).
    (KeyServerInvalidValueError, ExitCode.USAGE),
    (KeyServerRevokedError, ExitCode.REVOKED),
    # spec/protocol.md §evaluate header-mismatch: the copy was altered (tamper code).
    (KeyServerHeaderMismatchError, ExitCode.CORRUPT),
    (KeyServerSuspendedError, ExitCode.SUSPENDED),
    (KeyServerDeniedError, ExitCode.DENIED),
    (WrongPasswordError, ExitCode.WRONG_PASSWORD),
    (KeyServerUnavailableError, ExitCode.UNREACHABLE),
    (FormatError, ExitCode.CORRUPT),  # includes UnsupportedVersionError and UnsafePathError
    (HeaderAuthError, ExitCode.CORRUPT),
    (PayloadError, ExitCode.CORRUPT),
    (KeyServerExpiredError, ExitCode.EXPIRED),
    (OutputExistsError, ExitCode.EXISTS),
)


def exit_code_for(exc: BaseException) -> ExitCode:
    """Return the exit code for an exception (ERROR for anything not in the table)."""
    for cls, code in _BY_CLASS:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR


def epilog() -> str:
    """Return the exit-code table as text for `rwc --help`."""
    lines = ["exit codes:"]
    lines += [f"  {int(code):>2}  {meaning}" for code, _, meaning in EXIT_CODE_TABLE]
    return "\n".join(lines)
