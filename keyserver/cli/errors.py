"""Exit codes of the ``keyserver`` command and the one error type it raises.

Exit codes (documented in ``keyserver --help`` and spec/protocol.md §cli):

====  ===========================================================================
0     success
1     the command ran but found a problem (``audit verify`` found a broken chain)
2     usage error: bad arguments, a destructive command without ``--yes`` off a TTY
3     configuration error: no data directory, missing/unsafe master key, bad TOML,
      missing token, data directory already initialised
4     refused: unauthenticated, forbidden, not allowed
5     not found (container, principal, token, medium)
6     refused by the container's state (pending, conflict, suspended, destroyed,
      expired) or the request was invalid
7     unavailable: the server or the database cannot be reached, or answered 5xx
8     aborted: the confirmation prompt was declined
130   interrupted (Ctrl-C)
====  ===========================================================================
"""

from __future__ import annotations

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

# spec §problems: the problem slug decides the exit code, never the title or the detail.
_SLUG_EXIT = {
    "unauthenticated": EXIT_DENIED,
    "forbidden": EXIT_DENIED,
    "not-allowed": EXIT_DENIED,
    "not-found": EXIT_NOT_FOUND,
    "invalid-request": EXIT_REFUSED,
    "invalid-receipt": EXIT_REFUSED,
    "method-not-allowed": EXIT_REFUSED,
    "pending": EXIT_REFUSED,
    "conflict": EXIT_REFUSED,
    "destroyed": EXIT_REFUSED,
    "expired": EXIT_REFUSED,
    "suspended": EXIT_REFUSED,
    "attempts-exhausted": EXIT_REFUSED,
    "payload-too-large": EXIT_REFUSED,
    "unsupported-media-type": EXIT_REFUSED,
    "unavailable": EXIT_UNAVAILABLE,
    "internal": EXIT_UNAVAILABLE,
}


def exit_code_for_slug(slug: str) -> int:
    """Return the exit code for an RFC 9457 problem slug (unknown slugs: unavailable)."""
    return _SLUG_EXIT.get(slug, EXIT_UNAVAILABLE)


class CliError(Exception):
    """A failure the command reports as ``keyserver: error: ...`` and an exit code.

    Attributes:
        message: One sentence for a person; never contains secrets.
        hint: What to do about it, or None.
        exit_code: The process exit status.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, exit_code: int = EXIT_FAILURE
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
