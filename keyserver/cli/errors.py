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

from keyserver.domain.errors import PROBLEM_STATUS

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


def exit_code_for_slug(slug: str) -> int:
    """Return the exit code for an RFC 9457 problem slug (unknown slugs: unavailable).

    spec §problems: the slug decides, never the title or the detail. Its HTTP status
    (the one slug -> status table, keyserver.domain.errors.PROBLEM_STATUS) gives the class:
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
