"""What `rwc` tells a reader about the attempt budget, and when it asks for a password.

protocol §access, §receipt: every answer to a password prompt costs an attempt of the
container's budget (and of the reader's and the medium's windows), so the reader is told
before typing when few are left, is not asked when none is, learns after a wrong password
how many remain and what running out does, and, when the right password came on the last
attempt, that the container stays usable. Split from pycontainer/cli/read.py (its length).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pycontainer.cli.common import read_password
from pycontainer.cli.password import ENV_PASSWORD
from pycontainer.cli.texts import say
from pycontainer.cli.ui import Ui
from pycontainer.client.wire import ATTEMPTS_LIMITS
from pycontainer.errors import (
    KeyServerCallError,
    KeyServerDeniedError,
    KeyServerProtocolError,
    KeyServerSuspendedError,
)

if TYPE_CHECKING:
    from pycontainer.client.keyserver import KeyServerClient
    from pycontainer.keyrelease import Evaluation, SlotInfo


# Warn the reader when this many unconfirmed attempts or fewer are left (protocol §receipt).
FEW_ATTEMPTS = 3


class Recording:
    """The key server client, remembering the last evaluation (its attempt count)."""

    def __init__(self, client: KeyServerClient) -> None:
        self._client = client
        self.last: Evaluation | None = None

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        """The client's evaluation, kept as :attr:`last`."""
        self.last = self._client.evaluate(slot, blinded_element)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)  # everything else is the client's


def was_last_attempt(last: Evaluation | None) -> bool:
    """Did this evaluation use up the container's attempt budget (protocol §receipt)?"""
    return last is not None and last.attempts_remaining == 0 and last.attempts_limit == "container"


def _would_prompt(args: argparse.Namespace, env: Mapping[str, str]) -> bool:
    return not args.no_password and args.password_file is None and ENV_PASSWORD not in env


def ask_password(
    args: argparse.Namespace,
    ui: Ui,
    env: Mapping[str, str],
    client: KeyServerClient,
    *,
    container_id: bytes,
    what: str,
) -> str:
    """The password, asked only if the writer sealed with one (protocol §access).

    Every answer to a password prompt costs an attempt of the container's budget, so a
    container sealed with --no-password is opened without asking; and the reader is told
    before typing when few attempts are left. Only when rwc would prompt: a password
    given by option, file or RWC_PASSWORD is used as given.
    """
    if not _would_prompt(args, env):
        return read_password(args, ui, env, confirm=False, what=what)
    try:
        access = client.access(container_id)
    except KeyServerCallError as exc:
        if type(exc) is not KeyServerCallError and not isinstance(exc, KeyServerProtocolError):
            raise  # suspended, destroyed, denied, unavailable: evaluate would say the same
        # A server without the access route (404), or a proxy in the way: ask as before.
        return read_password(args, ui, env, confirm=False, what=what)
    if not access.password_required:
        ui.note(say("sealed_without_password", ui.lang))
        return ""
    left = access.attempts_remaining
    if left == 0:
        raise _no_attempts_left(access.attempts_limit, ui.lang)
    if left is not None and left <= FEW_ATTEMPTS:
        ui.warn(
            _attempts("few_attempts", left, access.attempts_limit, ui.lang),
            say("few_attempts_hint", ui.lang),
        )
    return read_password(args, ui, env, confirm=False, what=what)


def _no_attempts_left(limit: str | None, lang: str) -> KeyServerCallError:
    """The error that stops `rwc` before its prompt when the server says none are left.

    protocol §access, §receipt: with ``attempts_remaining`` 0 the next evaluation is
    refused (``attempts-exhausted``: the reader's or the medium's window is full) or finds
    the container suspended (its budget ran out), so a password typed now would only be
    refused. The reader is told why in their language and what to do, with the exit code
    that refusal has (denied, or suspended for the container's budget).
    """
    message = say("attempts_none_not_asked", lang, reason=_attempts("", 0, limit, lang))
    error: KeyServerCallError
    if limit == "container":
        error = KeyServerSuspendedError(message, hint=say("refusal_suspended_budget_hint", lang))
    else:
        error = KeyServerDeniedError(message, hint=say("refusal_attempts_exhausted_hint", lang))
    error.said = True
    return error


def _attempts(kind: str, left: int, limit: str | None, lang: str) -> str:
    """What ``left`` attempts mean, by the allowance the server named (protocol §receipt).

    Running out of the container's budget suspends the container until an official
    restores it; running out of the reader's or the medium's window cap only refuses
    further tries for a while (issue 12: "0 left before the key server locks the
    container" was said for both). A server that does not name the allowance gets a text
    that says both outcomes, never a guess.
    """
    suffix = f"_{limit}" if limit in ATTEMPTS_LIMITS else ""
    if left == 0:
        return say("attempts_none" + suffix, lang)
    return say(kind + suffix, lang, left=left)


def wrong_password_hint(
    hint: str | None, last: Evaluation | None, no_password: bool, lang: str
) -> str:
    """The hint after a wrong password: ``hint``, the attempts left, --no-password if it fits."""
    parts = [hint] if hint else []
    if last is not None and last.attempts_remaining is not None:
        parts.append(_attempts("attempts_left", last.attempts_remaining, last.attempts_limit, lang))
    if last is not None and last.password_required is False:
        parts.append(say("pass_no_password", lang))
    elif not no_password and (last is None or last.password_required is None):
        # The header cannot say whether a password was used (spec §slot-server-oprf).
        parts.append(say("maybe_no_password", lang))
    return say("hint_separator", lang).join(parts)
