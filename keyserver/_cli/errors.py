"""Exit codes of the ``keyserver`` command and the one error type it raises.

:data:`EXIT_CODE_TABLE` is the single source of the exit codes: ``keyserver --help`` prints
it, ``--json`` errors carry its ``kind``, and a test checks README.md against it.
Messages and hints for officials are :class:`~keyserver._domain.i18n.Message` s from the
key server's one catalogue, translated when printed (spec §cli).
"""

from __future__ import annotations

from collections.abc import Sequence

from keyserver._domain.errors import PROBLEM_STATUS
from keyserver._domain.i18n import N_, Message, problem_lead

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_DENIED = 4
EXIT_NOT_FOUND = 5
EXIT_REFUSED = 6
EXIT_UNAVAILABLE = 7
EXIT_ABORTED = 8
EXIT_INTERRUPTED = 130

# (code, kind for --json, meaning for people)
EXIT_CODE_TABLE: tuple[tuple[int, str, str], ...] = (
    (EXIT_OK, "ok", N_("success").msgid),
    (
        EXIT_FAILURE,
        "failure",
        N_("the command ran but found a problem (audit verify: broken chain)").msgid,
    ),
    (
        EXIT_USAGE,
        "usage",
        N_("usage error (bad arguments; destructive command without --yes)").msgid,
    ),
    (
        EXIT_CONFIG,
        "config",
        N_("configuration error (data directory, master key, TOML, token)").msgid,
    ),
    (EXIT_DENIED, "denied", N_("unauthenticated, forbidden or not allowed").msgid),
    (EXIT_NOT_FOUND, "not-found", N_("not found (container, principal, token, medium)").msgid),
    (
        EXIT_REFUSED,
        "refused",
        N_(
            "refused by state (pending, suspended, destroyed, expired, conflict) or invalid request"
        ).msgid,
    ),
    (EXIT_UNAVAILABLE, "unavailable", N_("server or database unavailable").msgid),
    (EXIT_ABORTED, "aborted", N_("aborted at the confirmation prompt; nothing was changed").msgid),
    (EXIT_INTERRUPTED, "interrupted", N_("interrupted (Ctrl-C)").msgid),
)
KIND = {code: kind for code, kind, _ in EXIT_CODE_TABLE}


def exit_codes_epilog() -> str:
    """The exit-code table as text for ``keyserver --help``."""
    lines = [N_("exit codes:").msgid]
    lines += [f"  {code:>3}  {meaning}" for code, _, meaning in EXIT_CODE_TABLE]
    return "\n".join(lines)


def exit_code_for_slug(slug: str) -> int:
    """Return the exit code for an RFC 9457 problem slug (unknown slugs: unavailable).

    spec §problems: the slug decides, never the title or the detail. Its HTTP status
    (the one slug -> status table, keyserver._domain.errors.PROBLEM_STATUS) gives the class:
    401/403 refused, 404 not found, other 4xx refused by state or invalid, 5xx unavailable.
    """
    status = PROBLEM_STATUS.get(slug, 503)
    if status in (401, 403):
        return EXIT_DENIED
    if status == 404:
        return EXIT_NOT_FOUND
    if 400 <= status < 500:
        return EXIT_REFUSED
    return EXIT_UNAVAILABLE


class CliError(Exception):
    """A failure the command reports as ``keyserver: error: ...`` and an exit code.

    Attributes:
        message: One sentence for a person, in English (logs, ``--json``, code that reads
            it); never contains secrets.
        hint: What to do about it (English), or None.
        shown_message: The same for people: a catalogue message, printed in the command's
            language by the error boundary.
        shown_hint: The hint for people, or None.
        exit_code: The process exit status.
    """

    def __init__(
        self,
        message: str | Message,
        *,
        hint: str | Message | None = None,
        exit_code: int = EXIT_FAILURE,
    ) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.hint = None if hint is None else str(hint)
        self.shown_message = message
        self.shown_hint = hint
        self.exit_code = exit_code


def suggestion_hint(names: Sequence[str]) -> Message:
    """The hint of a refusal with suggestions (spec §media): up to three names.

    Once, and only the names: the error line before it already says nothing was changed.
    """
    return N_("did you mean %(names)s?", names=", ".join(names[:3]))


def problem_error(
    slug: str,
    detail: str | Message,
    suggestions: Sequence[str] = (),
    hint: str | Message | None = None,
) -> CliError:
    """The error for a refusal of the key server (local or remote: said the same way).

    The lead sentence for people comes from the catalogue, the ``detail`` follows: the
    service's catalogue message locally, the server's text remotely (asked for in the
    command's language, spec §problems); the nearest names, if any, are the hint.
    """
    if suggestions:
        hint = suggestion_hint(suggestions)
    message = N_(
        "%(lead)s Detail: %(detail)s (%(slug)s)", lead=problem_lead(slug), detail=detail, slug=slug
    )
    return CliError(message, hint=hint, exit_code=exit_code_for_slug(slug))


def ca_bundle_refused(detail: str) -> CliError:
    """The CA bundle the official named cannot be used (pycontainer.client.transport's check).

    In the official's language, with the library's English as the ``detail`` (it names the
    file and the fault). It was the library's English alone, and for a damaged file a hint
    naming rwc's variable (RWC_CA_BUNDLE) instead of KEYSERVER_CA_BUNDLE. ``--json`` says
    the English of the same, like every other error of the command. Remote mode, its TLS
    failure and logfetch.py raise it.
    """
    return CliError(
        N_(
            "The CA bundle named with --ca-bundle (or KEYSERVER_CA_BUNDLE) cannot be used."
            " Detail: %(detail)s",
            detail=detail,
        ),
        hint=N_(
            "Name a PEM file of the CA certificates that signed the key server's certificate"
            " with --ca-bundle FILE (or KEYSERVER_CA_BUNDLE)."
        ),
        exit_code=EXIT_CONFIG,
    )
