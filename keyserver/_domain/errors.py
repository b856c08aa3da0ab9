"""The key server's one exception hierarchy.

Every refusal the server can express is a :class:`KeyServerError` carrying an RFC 9457
problem ``slug`` (``type = "urn:rwc:problem:<slug>"``), an HTTP ``status`` and a ``title``.
The HTTP layer maps them with ONE handler (keyserver/_http/problems.py); the CLI prints them.

spec §problems: slugs and statuses are fixed by the protocol.
"""

from __future__ import annotations

from typing import Any, ClassVar

from keyserver._domain.i18n import Message

PROBLEM_TYPE_PREFIX = "urn:rwc:problem:"


class KeyServerError(Exception):
    """Base of all refusals; maps to one RFC 9457 problem document.

    Attributes:
        detail: A sentence for a person, in English; never contains secrets.
        message: The same sentence as a catalogue message (keyserver/_domain/i18n.py), or
            None for a detail that is not in the catalogue.
        extensions: Extra problem members (e.g. ``revoked_at``, ``reason``, ``contact``).
    """

    slug: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | Message, **extensions: Any) -> None:
        # The problem document keeps the English text whatever the detail was given as:
        # API clients, scripts and the audit log read one stable language; the console
        # shows ``message`` in its reader's language, and so does a problem answered to a
        # client that asks for it with Accept-Language (keyserver/_http/problems.py).
        super().__init__(str(detail))
        self.detail = str(detail)
        self.message = detail if isinstance(detail, Message) else None
        self.extensions: dict[str, Any] = extensions

    def problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document for this error."""
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        for key, value in self.extensions.items():
            doc.setdefault(key, value)
        return doc


class InvalidRequestError(KeyServerError):
    """The request is malformed (syntax, types, encodings, group elements)."""

    slug = "invalid-request"
    status = 400
    title = "Invalid request"


class InvalidReceiptError(KeyServerError):
    """A receipt does not verify (unknown or expired challenge, wrong MAC)."""

    slug = "invalid-receipt"
    status = 400
    title = "Invalid receipt"


class UnauthenticatedError(KeyServerError):
    """No, malformed, unknown, expired or revoked bearer token."""

    slug = "unauthenticated"
    status = 401
    title = "Authentication required"


class ForbiddenError(KeyServerError):
    """The principal lacks the role the route needs."""

    slug = "forbidden"
    status = 403
    title = "Forbidden"


class NotAllowedError(KeyServerError):
    """The principal has the role but is not on the container's policy."""

    slug = "not-allowed"
    status = 403
    title = "Not allowed by the container policy"


class NotFoundError(KeyServerError):
    """Unknown container, principal, token or route.

    Attributes:
        suggests: What the names in the ``suggestions`` member are (``medium``,
            ``principal``, ``container`` or ``token``), so that the console links each to
            its own kind of page; not a problem member (the API document is unchanged).
    """

    slug = "not-found"
    status = 404
    title = "Not found"

    def __init__(
        self, detail: str | Message, *, suggests: str | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail, **extensions)
        self.suggests = suggests


class MethodNotAllowedError(KeyServerError):
    """The route exists but not with this HTTP method."""

    slug = "method-not-allowed"
    status = 405
    title = "Method not allowed"


class PendingError(KeyServerError):
    """The container is still pending (not committed by its writer)."""

    slug = "pending"
    status = 409
    title = "Container is pending"


class ConflictError(KeyServerError):
    """The request conflicts with the current state (duplicate name, replayed challenge)."""

    slug = "conflict"
    status = 409
    title = "Conflict"


class HeaderMismatchError(KeyServerError):
    """The reader's header digest differs from the committed one: an altered copy.

    spec §evaluate: refused before anything is counted (no challenge, ``unconfirmed``
    unchanged) and audited, so altering a medium cannot burn a reader's attempt budget.
    """

    slug = "header-mismatch"
    status = 409
    title = "Container header does not match"


class RowIntegrityError(KeyServerError):
    """A container's stored record fails its row MAC, or is older than its audit trail.

    spec §row-integrity: the row was edited in the database or copied from a backup; it is
    refused for every use (evaluate, commit, receipt, restore) until an official has looked
    (destroying it is never refused), and each refusal is audited.
    """

    slug = "row-integrity"
    status = 409
    title = "Container record failed its integrity check"


class RestorePendingError(KeyServerError):
    """A restored database still lacks destroys or suspensions recorded after its backup.

    spec §backup: evaluations are refused (and ``/readyz`` fails) until ``keyserver restore
    --replay`` re-applied them from an audit export, so a backup cannot bring a key back.
    """

    slug = "restore-pending"
    status = 503
    title = "Restored database awaits replay"


class DestroyedError(KeyServerError):
    """The container's key was destroyed (crypto-erased); irreversible."""

    slug = "destroyed"
    status = 410
    title = "Container key destroyed"


class ExpiredError(KeyServerError):
    """The container is past its not_after (or a pending container past its TTL)."""

    slug = "expired"
    status = 410
    title = "Container expired"


class PayloadTooLargeError(KeyServerError):
    """The request body exceeds ``max_body_bytes``."""

    slug = "payload-too-large"
    status = 413
    title = "Payload too large"


class UnsupportedMediaTypeError(KeyServerError):
    """The request body is not ``application/json``."""

    slug = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class SuspendedError(KeyServerError):
    """The container is suspended; an official may restore it."""

    slug = "suspended"
    status = 423
    title = "Container suspended"


class AttemptsExhaustedError(KeyServerError):
    """Too many unconfirmed evaluations by one principal, or on one medium, in the window.

    spec §receipt: a rate limit across containers (the per-container budget suspends the
    container instead); it lifts by itself as the window slides past old attempts.
    """

    slug = "attempts-exhausted"
    status = 429
    title = "Too many unconfirmed attempts"


class UnavailableError(KeyServerError):
    """The database (or another dependency) is unavailable; nothing was released."""

    slug = "unavailable"
    status = 503
    title = "Service unavailable"


class InternalError(KeyServerError):
    """Last resort: an unexpected failure (details only in the server log)."""


def _subclasses(cls: type[KeyServerError]) -> list[type[KeyServerError]]:
    found: list[type[KeyServerError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


# spec §problems: slug -> HTTP status, the one table (read off the classes above, so a new
# refusal class is in it by construction). The OpenAPI document and the CLI's exit codes
# are derived from it.
_CLASSES: list[type[KeyServerError]] = [KeyServerError, *_subclasses(KeyServerError)]
PROBLEM_STATUS: dict[str, int] = {cls.slug: cls.status for cls in _CLASSES}
