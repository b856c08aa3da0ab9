"""Local mode of the ``keyserver`` command: the service layer on a data directory.

spec/protocol.md §cli: whoever can read the data directory holds the database and the
master key, so role checks would protect nothing; the service layer skips them for a
local actor (:class:`keyserver._domain.lifecycle.Actor` ``local=True``) but audits every action
under the acting name: ``--as NAME``, by default ``operator@<hostname>``. Local actors
cannot evaluate (no key is ever released without a token-authenticated principal).

The commands that run on the server's host (``init``, ``migrate``, ``serve``, ``sweep``) are
in :mod:`keyserver._cli.host`.
"""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, ProgrammingError, SQLAlchemyError

from keyserver._cli.backend import LOG_KEY_PATHS, Action, Json, Scope
from keyserver._cli.errors import (
    EXIT_CONFIG,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    CliError,
    problem_error,
)
from keyserver._domain.durations import waiting_period_of
from keyserver._domain.errors import KeyServerError
from keyserver._domain.i18n import N_
from keyserver._domain.keys import SealedDataError
from keyserver._domain.lifecycle import Actor
from keyserver._domain.settings import ConfigError, Settings
from keyserver._domain.validation import parse_time
from keyserver._service import KeyService

T = TypeVar("T")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_actor_name() -> str:
    """``operator@<hostname>``: the audited name of local actions without ``--as``."""
    host = _NAME_UNSAFE.sub("-", socket.gethostname()) or "localhost"
    return f"operator@{host}"[:64]


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file of ``settings``, or None for another database."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None


def guard(fn: Callable[[], T]) -> T:
    """Run a service call, turning its failures into CliError (spec §problems)."""
    try:
        return fn()
    except KeyServerError as exc:
        contact = exc.extensions.get("contact")
        suggestions = exc.extensions.get("suggestions")
        raise problem_error(
            exc.slug,
            # In the command's language where the catalogue has it, as remote mode shows.
            exc.message or exc.detail,
            [str(n) for n in suggestions] if isinstance(suggestions, list) else [],
            hint=f"contact: {contact}" if isinstance(contact, str) and contact else None,
        ) from exc
    except ConfigError as exc:
        raise CliError(
            N_("configuration: %(error)s", error=str(exc)), exit_code=EXIT_CONFIG
        ) from exc
    except SealedDataError as exc:
        raise CliError(
            N_("stored key material does not open with this master key"),
            hint=N_("is KEYSERVER_MASTER_KEY_FILE the master key of this database?"),
            exit_code=EXIT_CONFIG,
        ) from exc
    except ProgrammingError as exc:
        # PostgreSQL answers, but the tables are missing or old (UndefinedTable, ...).
        raise CliError(
            N_(
                "the database has no current key-server schema (%(error)s)",
                error=type(exc.orig).__name__,
            ),
            hint=N_("run `keyserver init` for a new database or `keyserver migrate` to upgrade"),
            exit_code=EXIT_CONFIG,
        ) from exc
    except DBAPIError as exc:
        # Class name only: driver messages can contain connection strings.
        raise CliError(
            N_("the database is unavailable (%(error)s)", error=type(exc.orig).__name__),
            hint=N_("check --data-dir / --database-url and that the database server runs"),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc
    except SQLAlchemyError as exc:
        raise CliError(
            N_("database error (%(error)s)", error=type(exc).__name__),
            hint=N_("is the schema current? run `keyserver migrate`"),
            exit_code=EXIT_UNAVAILABLE,
        ) from exc


def check_master_key_file(settings: Settings) -> None:
    """Refuse a master key file that others may read (spec §keys-at-rest).

    Raises:
        CliError: The file is missing, not a regular file, or group/world accessible.
    """
    path = settings.master_key_file
    if settings.master_key_b64 is not None or path is None:
        return
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise CliError(
            N_("master key file %(path)s does not exist", path=path),
            hint=N_("run `keyserver init --data-dir DIR` first, or set KEYSERVER_MASTER_KEY_FILE"),
            exit_code=EXIT_CONFIG,
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise CliError(
            N_("master key %(path)s is not a regular file", path=path), exit_code=EXIT_CONFIG
        )
    if st.st_mode & 0o077:
        raise CliError(
            N_("master key file %(path)s is accessible to group or others", path=path),
            hint=N_("chmod 600 %(path)s", path=path),
            exit_code=EXIT_CONFIG,
        )


def open_service(settings: Settings, *, check_key: bool = True) -> KeyService:
    """Open the service on an existing, initialised database.

    Args:
        settings: The server settings.
        check_key: Refuse a master key that did not write this database's audit chain
            (it would append entries the right key cannot verify). ``audit`` commands pass
            False: they only read, and ``audit verify`` must be able to report a bad chain.

    Raises:
        CliError: Not initialised, unsafe or wrong master key, or the database is
            unavailable.
    """
    sqlite = sqlite_path(settings)
    if sqlite is not None and not sqlite.is_file():
        # Opening would silently create an empty database file.
        raise CliError(
            N_("no key-server database at %(path)s", path=str(sqlite)),
            hint=N_("run `keyserver init --data-dir DIR` first"),
            exit_code=EXIT_CONFIG,
        )
    check_master_key_file(settings)
    service = guard(lambda: KeyService(settings))
    if check_key:
        try:
            guard(service.check_master_key)
        except CliError as exc:
            service.close()
            hint = exc.shown_hint or N_("is this the master key of this database?")
            raise CliError(exc.shown_message, hint=hint, exit_code=exc.exit_code) from exc
    return service


class LocalBackend:
    """The management operations through :class:`KeyService` as a local actor."""

    def __init__(self, service: KeyService, actor: Actor) -> None:
        self._service = service
        self._actor = actor

    @classmethod
    def open(
        cls, settings: Settings, *, acting: str | None, check_key: bool = True
    ) -> LocalBackend:
        """Open the data directory; act as ``acting`` (default ``operator@<hostname>``)."""
        service = open_service(settings, check_key=check_key)
        try:
            actor = guard(lambda: service.local_actor(acting or default_actor_name()))
        except CliError:
            service.close()
            raise
        return cls(service, actor)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._service.close()

    def whoami(self) -> Json:
        """The local actor (all roles; see the module docstring)."""
        doc = guard(lambda: self._service.whoami(self._actor))
        return {**doc, "local": True}

    def principal_add(
        self, name: str, roles: list[str], groups: list[str], organisation: str | None
    ) -> Json:
        """Create a principal and its first token."""
        return guard(
            lambda: self._service.add_principal(
                self._actor, name, roles, organisation=organisation, groups=groups
            )
        )

    def principal_list(self) -> list[Json]:
        """List principals."""
        return list(guard(lambda: self._service.list_principals(self._actor))["principals"])

    def token_create(self, name: str, expires_at: str | None) -> Json:
        """Issue another token."""

        def call() -> Json:
            when = parse_time(expires_at, "expires_at") if expires_at else None
            return self._service.issue_token(self._actor, name, when)

        return guard(call)

    def token_list(self) -> list[Json]:
        """List tokens."""
        return list(guard(lambda: self._service.list_tokens(self._actor))["tokens"])

    def token_revoke(self, token_id: str) -> Json:
        """Revoke a token."""
        return guard(lambda: self._service.revoke_token(self._actor, token_id))

    def act(
        self,
        action: Action,
        scope: Scope,
        target: str,
        reason: str,
        public_reason: str | None,
        *,
        cause: str | None = None,
    ) -> Json:
        """Suspend, restore or destroy."""
        return guard(
            lambda: self._service.change_state(
                self._actor, action, scope, target, reason, public_reason, cause=cause
            )
        )

    def reset_budget(self, container_id: str, reason: str) -> Json:
        """Reset an active container's attempt count."""
        return guard(lambda: self._service.reset_budget(self._actor, container_id, reason))

    def media_list(self, after: str | None, limit: int | None) -> Json:
        """List media."""
        return guard(lambda: self._service.media_list(self._actor, after=after, limit=limit))

    def medium_info(self, medium: str) -> Json:
        """One medium."""
        return guard(lambda: self._service.medium_info(self._actor, medium))

    def report_loss(
        self,
        medium: str,
        reason: str,
        public_reason: str | None,
        *,
        now: bool,
        waiting_period_seconds: int | None,
        lost_at: str | None = None,
        told_at: str | None = None,
        replace_earlier: bool = False,
    ) -> Json:
        """Report a medium lost."""
        wait = waiting_period_of(waiting_period_seconds)  # as the API does; the range: service's

        def call() -> Json:
            lost = parse_time(lost_at, "lost_at") if lost_at else None
            told = parse_time(told_at, "told_at") if told_at else None
            return self._service.report_loss(
                self._actor,
                medium,
                reason,
                public_reason,
                now,
                wait,
                lost_at=lost,
                told_at=told,
                replace_earlier=replace_earlier,
            )

        return guard(call)

    def status(self, container_id: str) -> Json:
        """A container's status."""
        return guard(lambda: self._service.status(self._actor, container_id))

    def search(self, filters: dict[str, str], limit: int | None, after: str | None) -> Json:
        """Search containers."""
        return guard(
            lambda: self._service.search(
                self._actor,
                label=filters.get("label"),
                medium=filters.get("medium"),
                issuer=filters.get("issuer"),
                state=filters.get("state"),
                limit=limit,
                after=after,
            )
        )

    def medium_report(self, medium: str, *, since: str | None = None) -> Json:
        """The medium report."""

        def call() -> Json:
            at = parse_time(since, "since") if since else None
            return self._service.medium_report(self._actor, medium, at)

        return guard(call)

    def signed_report(self, kind: str, medium: str) -> Json:
        """A signed report, made and signed here with the log key."""
        return guard(lambda: self._service.signed_report(self._actor, kind, medium))

    def audit_list(self, filters: dict[str, str], after_seq: int | None, limit: int | None) -> Json:
        """Audit entries."""
        return guard(
            lambda: self._service.audit_list(
                self._actor,
                container=filters.get("container"),
                action=filters.get("action"),
                actor_name=filters.get("actor"),
                after_seq=after_seq or 0,
                limit=limit,
            )
        )

    def audit_export(self) -> Iterator[str]:
        """The chain as JSON Lines."""
        lines = guard(lambda: self._service.audit_export(self._actor))
        while True:
            line = guard(lambda: next(lines, None))
            if line is None:
                return
            yield line.rstrip("\n")

    def audit_verify(
        self,
        expected_head: tuple[int, bytes] | None,
        *,
        start: tuple[int, bytes] | None = None,
        limit: int | None = None,
    ) -> Json:
        """Verify the chain (from ``start``; and a recorded head)."""
        return guard(
            lambda: self._service.audit_verify(self._actor, expected_head, start=start, limit=limit)
        )

    def approvals_list(self, state: str | None, after: int | None, limit: int | None) -> Json:
        """Requests by number."""
        return guard(
            lambda: self._service.list_approvals(self._actor, state=state, after=after, limit=limit)
        )

    def approval_show(self, approval_id: int) -> Json:
        """One request."""
        return guard(lambda: self._service.get_approval(self._actor, approval_id))

    def approval_approve(self, approval_id: int) -> Json:
        """Approve as the local operator (a different name from any requester)."""
        return guard(lambda: self._service.approve(self._actor, approval_id))

    def approval_reject(self, approval_id: int, reason: str) -> Json:
        """Reject."""
        return guard(lambda: self._service.reject(self._actor, approval_id, reason))

    def log_info(self) -> Json:
        """The log's origin, public key and witnesses (not-found without a log key)."""
        return guard(self._service.log_info)

    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint note, None before the first one."""
        try:
            return guard(self._service.latest_checkpoint)
        except CliError as exc:
            if exc.exit_code == EXIT_NOT_FOUND:
                return None
            raise

    def published_at(self) -> list[str]:
        """The paths on the server's URL (a data directory does not know that URL)."""
        return list(LOG_KEY_PATHS)
