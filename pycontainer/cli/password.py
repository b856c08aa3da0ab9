"""Where `rwc` gets the container password.

Sources, first match wins: --no-password (the empty password), --password-file, RWC_PASSWORD,
or a prompt without echo on the terminal (twice when sealing).

The key schedule uses the password as UTF-8 bytes (spec/format.md §key-schedule); a container
sealed with --no-password uses the empty password, and the header does not say which: a reader
of such a container passes --no-password too (a wrong guess costs one audited evaluation).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping

from pycontainer.cli.exits import SaidError, SaidUsageError
from pycontainer.cli.texts import say

ENV_PASSWORD = "RWC_PASSWORD"  # noqa: S105 (the variable name, not a password)
PASSWORD_FILE_MAX = 64 * 1024
Prompt = Callable[[str], str]


def _tty_available() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def _read_password_file(path: str, warn: Callable[[str], None]) -> str:
    try:
        with open(path, "rb") as f:
            if stat.S_IMODE(os.fstat(f.fileno()).st_mode) & 0o077 and os.path.isfile(path):
                warn(f"the password file {path} is readable by other users")
            raw = f.read(PASSWORD_FILE_MAX + 1)
    except OSError as exc:
        raise SaidError("password_file_unreadable", path=path, reason=str(exc.strerror)) from None
    if len(raw) > PASSWORD_FILE_MAX:
        raise SaidUsageError("password_file_too_large", path=str(path))
    # One trailing line break is the file's, not the password's (echo pw > file).
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SaidUsageError("password_file_not_text", path=path) from None


def get_password(
    *,
    no_password: bool,
    password_file: str | None,
    confirm: bool,
    what: str,
    warn: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
    lang: str = "en",
) -> str:
    """Return the password to use ("" for --no-password).

    Args:
        no_password: --no-password was given.
        password_file: --password-file, or None.
        confirm: Ask twice on the terminal (sealing).
        what: What the password is for, shown in the prompt.
        warn: Called with a warning message (e.g. a world-readable password file).
        env: Environment (default os.environ).
        prompt: Prompt function without echo (default getpass.getpass; needs a terminal).
        lang: Language of the prompts (pycontainer/cli/texts.py).

    Raises:
        UsageError: Conflicting sources, an empty password without --no-password, no terminal
            to ask on, or the two entries differ.
    """
    env = os.environ if env is None else env
    if no_password:
        if password_file is not None:
            raise SaidUsageError("password_sources_conflict")
        return ""
    empty = SaidUsageError("password_empty")
    if password_file is not None:
        password = _read_password_file(password_file, warn)
    elif env.get(ENV_PASSWORD) is not None:
        password = env[ENV_PASSWORD]
    else:
        if prompt is None:
            if not _tty_available():
                raise SaidUsageError("no_terminal_for_password")
            import getpass  # noqa: PLC0415 - only to prompt, not for a password file (issue 15)

            prompt = getpass.getpass
        try:
            password = prompt(say("password_prompt", lang, what=what))
            if confirm:
                if not password:
                    raise empty
                if prompt(say("password_repeat", lang, what=what)) != password:
                    raise SaidUsageError("passwords_differ")
        except EOFError:  # Ctrl-D at the prompt: an answer withheld, not a crash
            raise SaidUsageError("no_password_entered") from None
    if not password:
        raise empty
    return password
