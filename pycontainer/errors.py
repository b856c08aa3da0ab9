"""The flat exception hierarchy of pycontainer.

Every error carries a message written for a person (what happened) and an optional
``hint`` (what to do about it). The CLI prints both and never a traceback.

Spec anchors: spec/format.md §errors (which failure maps to which class).
"""

from __future__ import annotations

PAYLOAD_ERROR_MESSAGE = (
    "payload chunk authentication failed: the container is corrupt or was tampered with"
)


class ContainerError(Exception):
    """Base class of every error raised by pycontainer.

    Attributes:
        message: What happened, for a person.
        hint: What to do about it, or None.
        said: True once the `rwc` command has put message and hint in the reader's
            language itself: its error boundary shows them as they are instead of saying
            the class's text (pycontainer/cli/refusals.py ``for_person``).
    """

    said = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class FormatError(ContainerError):
    """The container (or a header/index inside it) is malformed or corrupt."""


class NotAContainerError(FormatError):
    """The file is no rwc container at all (its first bytes are not the magic): a wrong file.

    A FormatError (exit code 8) like any other; its own class because what to do differs
    from a damaged container's: pick the right file, not ask for a fresh copy.
    """


class UnsupportedVersionError(FormatError):
    """The container uses a version, suite or critical extension this reader does not know."""


class UnsafePathError(FormatError):
    """The container's index holds a path that is unsafe to extract (corrupt container).

    Attributes:
        path: The offending path.
        reason: Which rule it breaks, in words.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, path: str = "", reason: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.reason = reason


class ReaderLimitError(ContainerError):
    """A valid container exceeds a limit this reader set below the spec's (spec [F-READER-LIMIT]).

    Not a format error: the container may be fine; this reader was told to refuse that much
    (Argon2 memory, index size, entry count). The message names the limit.
    """


class HeaderAuthError(ContainerError):
    """The header MAC did not verify: the header was modified after sealing."""


class PayloadError(ContainerError):
    """A payload chunk failed authentication (corruption, truncation or tampering).

    The message is always the same fixed text so that no detail leaks about where or how the
    payload was modified.
    """

    def __init__(self, *, hint: str | None = None) -> None:
        super().__init__(
            PAYLOAD_ERROR_MESSAGE,
            hint=hint or "get a fresh copy of the container from its sender; nothing was extracted",
        )


class WrongPasswordError(ContainerError):
    """The content key could not be unwrapped: wrong password (or a wrong slot/server key)."""


class InputError(ContainerError):
    """Input refused (sealing a symlink or device, a file that changed, an unknown entry...)."""


class EntryNotFoundError(InputError):
    """A path asked for (``rwc cat C.rwc PATH``, ``rwc open C.rwc PATH``) is not in the container.

    Attributes:
        path: The path as asked for.
    """

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path!r} is not in this container", hint="list the entries to see its content"
        )
        self.path = path


class OutputWriteError(ContainerError):
    """Writing the extracted files failed (no space, no permission): nothing was extracted."""


class OutputExistsError(ContainerError):
    """The output already exists and overwriting was not allowed."""


# The kinds of Refusal (below): the `rwc` command has a sentence and a hint for each
# (pycontainer/cli/texts.py, checked by tests/cli/test_texts.py).
REFUSAL_KINDS = (
    "suspended",
    "suspended_budget",
    "destroyed",
    "expired",
    "attempts_exhausted",
    "unauthenticated",
    "not_allowed",
    "unknown_name",
    "invalid_value",
    "unavailable",
    "unreachable",
    "tls",
    "protocol",
    "header_mismatch",
    "row_integrity",
    "refused",
    "redirect",
    "not_json",
    "no_token",
    "no_token_for_slot",
)


class Refusal:
    """What a refused or failed call said, as facts a program can put in a person's words.

    The message and hint of a :class:`KeyServerCallError` are English (what ``--json``,
    logs and library callers read). The `rwc` command says the same to a person in the
    reader's language from these facts (pycontainer/cli/texts.py, ``refusal_<kind>``), so
    no client code ever parses the server's ``detail`` (spec/protocol.md §problems:
    clients dispatch on ``type``).

    Attributes:
        kind: Which refusal, one of :data:`REFUSAL_KINDS` (``refused``: any other slug).
        facts: The values the sentence needs, each already made safe to print (clean_text):
            ``action`` (what the client was doing: ``register``, ``evaluate``, ...),
            ``status``, ``slug``, ``since``/``time`` (RFC 3339), ``reason``, ``names``,
            ``field``, ``errors``, ``url``, ``why``, ``media``, ``contact``.
        detail: The server's ``detail`` (cleaned), or None.
        detail_language: The language the server said the detail is in
            (``Content-Language``; ``en`` when it said none).
    """

    __slots__ = ("detail", "detail_language", "facts", "kind")

    def __init__(
        self,
        kind: str,
        facts: dict[str, str] | None = None,
        *,
        detail: str | None = None,
        detail_language: str = "en",
    ) -> None:
        self.kind = kind
        self.facts = {k: v for k, v in (facts or {}).items() if v}
        self.detail = detail
        self.detail_language = detail_language

    def __repr__(self) -> str:
        return f"Refusal({self.kind!r}, {self.facts!r})"


class KeyServerCallError(ContainerError):
    """Base class of failed calls to the key server: refused, unreachable or answered badly.

    Attributes:
        contact: Whom to contact about this container, as configured on the server, or None.
        refusal: The facts of the refusal for a person's sentence (:class:`Refusal`), or
            None (a malformed answer: its English message is all there is).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        contact: str | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.contact = contact
        self.refusal = refusal


class KeyServerRevokedError(KeyServerCallError):
    """The container's server key was destroyed (crypto-erased); it can never be opened again.

    Attributes:
        revoked_at: When the key was destroyed (RFC 3339 text), or None.
        reason: The public reason given by the officials, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        contact: str | None = None,
        revoked_at: str | None = None,
        reason: str | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        super().__init__(message, hint=hint, contact=contact, refusal=refusal)
        self.revoked_at = revoked_at
        self.reason = reason


class KeyServerSuspendedError(KeyServerCallError):
    """The container is suspended; the server refuses to release its key for now."""


class KeyServerDeniedError(KeyServerCallError):
    """The server refused: not authenticated, or not allowed to open this container."""


class KeyServerExpiredError(KeyServerCallError):
    """The container is past its expiry date on the server."""


class KeyServerUnavailableError(KeyServerCallError):
    """The key server could not be reached (network error, timeout, 5xx)."""


class KeyServerUnknownNameError(KeyServerCallError):
    """The key server knows no principal (or medium) of a name the user gave (exit code 2)."""


class KeyServerInvalidValueError(KeyServerCallError):
    """The key server refused a value the user chose, by a rule of the spec (exit code 2).

    spec/protocol.md §problems: an ``invalid-request`` with ``field``, the request member
    whose value breaks its rule (``"medium"``: a medium id without a canonical form,
    §media; ``"label"``, ``"readers"``, ``"reader_groups"``, ``"attempt_budget"``, ``"people"``,
    ``"not_after"``). A usage error to explain, not a protocol mismatch.

    Attributes:
        field: Which request member (``"medium"``, ``"label"``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str,
        hint: str | None = None,
        contact: str | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        super().__init__(message, hint=hint, contact=contact, refusal=refusal)
        self.field = field


class KeyServerHeaderMismatchError(KeyServerCallError):
    """The key server holds another header digest for this container: this copy was altered.

    Raised before anything was counted against the attempt budget (spec/protocol.md
    §evaluate, ``header-mismatch``): a tampered or truncated copy, or one whose container id
    was swapped, must not pass for a wrong password.
    """


class KeyServerProtocolError(KeyServerCallError):
    """The key server answered something invalid (bad proof, malformed response)."""
