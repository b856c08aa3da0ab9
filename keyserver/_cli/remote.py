"""Remote mode of the ``keyserver`` command: the HTTP protocol over ``requests``.

spec §auth: the bearer token comes from ``KEYSERVER_TOKEN`` (never from a flag, where it
would be visible in ``ps`` and shell history) and is never printed or logged.
spec §problems: refusals are RFC 9457 documents; the slug decides the exit code.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests

from keyserver._cli.backend import LOG_KEY_PATHS, Action, Json, Scope
from keyserver._cli.errors import (
    EXIT_CONFIG,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    CliError,
    ca_bundle_refused,
    problem_error,
)
from keyserver._cli.tls_failure import tls_failure
from keyserver._domain.i18n import N_, Message
from keyserver._domain.settings import DISPLAY_ZONE_HEADER
from pycontainer.client.problems import clean_text
from pycontainer.client.server_url import ServerUrlError, normalize_server_url
from pycontainer.client.transport import (
    BearerAuth,
    CaBundleError,
    iter_lines_limited,
    open_response,
    problem_slug,
    read_limited,
    trust_store,
    unusable_bundle,
)
from pycontainer.errors import ContainerError, KeyServerProtocolError

_SCOPE_PATH = {"container": "containers", "medium": "media", "issuer": "issuers"}
CA_BUNDLE_OPTION = "--ca-bundle (or KEYSERVER_CA_BUNDLE)"


def _page(limit: int | None) -> dict[str, Any]:
    """A listing's ``limit`` parameter: none when ``--limit`` was not given.

    spec §endpoints: the server then answers its default page, never more than its own
    ``max_list_limit`` (keyserver._domain.paging.page_limit), which only it knows.
    """
    return {} if limit is None else {"limit": limit}


def _segment(value: str) -> str:
    """Percent-encode one path segment (media and names are free-form)."""
    return quote(value, safe="")


def check_server_url(url: str) -> str:
    """Validate a ``--server`` URL with rwc's policy and return its normal form.

    spec §conventions: HTTPS, or plain HTTP only to a loopback ADDRESS (a token sent in
    clear over a network is a stolen token). One policy for both commands:
    pycontainer.client.server_url (a host name such as ``127.attacker.example`` is not
    loopback; credentials, queries and fragments are refused).

    Raises:
        CliError: The URL is not usable (configuration error).
    """
    try:
        return normalize_server_url(url)
    except ServerUrlError as exc:
        raise CliError(
            N_("--server: %(message)s", message=exc.message), hint=exc.hint, exit_code=EXIT_CONFIG
        ) from None


def _broken(exc: Exception) -> CliError:
    return CliError(
        N_("the connection to the key server broke (%(error)s)", error=type(exc).__name__),
        exit_code=EXIT_UNAVAILABLE,
    )


class RemoteBackend:
    """The management operations over HTTP (spec §endpoints).

    Transport rules (trust store, no redirects, size limits, sanitised server text) are
    pycontainer.client.transport's, the same as rwc's.

    Args:
        base_url: Server base URL (already checked with :func:`check_server_url`).
        token: Bearer token.
        timeout: Seconds for connect and read.
        ca_bundle: PEM file of CA certificates to trust (``--ca-bundle`` /
            ``KEYSERVER_CA_BUNDLE``), or None for the certifi store; never the
            environment's REQUESTS_CA_BUNDLE.
        language: The language of the command's texts (``ja`` or ``en``), asked of the
            server for the ``detail`` of its refusals (spec §problems).
        on_zone: Called with the ``display_timezone`` the server states on its answers
            (spec §cli), for the times shown to people.

    Raises:
        CliError: The CA bundle does not exist or the token is malformed.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        ca_bundle: str | None = None,
        language: str = "en",
        on_zone: Callable[[str], None] | None = None,
    ) -> None:
        self._base = base_url
        self._on_zone = on_zone
        self._timeout = (timeout, timeout)
        try:
            self._verify = trust_store(ca_bundle, option=CA_BUNDLE_OPTION)
            self._auth = BearerAuth(token)
        except CaBundleError as exc:
            raise ca_bundle_refused(exc.message) from None
        except ContainerError as exc:  # the token's characters
            raise CliError(exc.message, hint=exc.hint, exit_code=EXIT_CONFIG) from None
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json, application/problem+json"
        # A refusal's detail in the official's language, after the lead sentence said in
        # it (spec §problems); the server answers English for what it cannot translate.
        self._session.headers["Accept-Language"] = language

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- transport ---------------------------------------------------------------------------

    def _open(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Send one request; an error answer becomes a CliError. The caller closes it."""
        try:
            response = open_response(
                self._session,
                method,
                self._base + path,
                body=body,
                params=params,
                auth=self._auth,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            raise self._tls_failure(exc) from None
        except requests.exceptions.ProxyError:
            # The proxy refused the tunnel (407: credentials wanted or refused; its policy)
            # or could not be reached. http.client says which only in words, so one
            # sentence for both; never "check that the server is running".
            raise CliError(
                N_(
                    "the proxy (HTTPS_PROXY) did not connect this computer to the key server "
                    "at %(server)s",
                    server=self._base,
                ),
                hint=N_(
                    "check the proxy setting in HTTPS_PROXY (with the proxy's user name and "
                    "password if it asks for them: http://USER:PASSWORD@PROXY:PORT), or ask "
                    "your IT staff"
                ),
                exit_code=EXIT_UNAVAILABLE,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise CliError(
                N_(
                    "cannot reach the key server at %(server)s (%(error)s)",
                    server=self._base,
                    error=type(exc).__name__,
                ),
                hint=N_("check --server / KEYSERVER_SERVER and that the server is running"),
                exit_code=EXIT_UNAVAILABLE,
            ) from None
        if response.status_code >= 300:
            try:
                raise self._problem(response.status_code, self._read(response))
            finally:
                response.close()
        zone = response.headers.get(DISPLAY_ZONE_HEADER)
        if zone and self._on_zone is not None:
            self._on_zone(zone)
        return response

    def _tls_failure(self, exc: Exception) -> CliError:
        """The TLS failure, or the trust store's when OpenSSL could not load it.

        requests loads the bundle only when it connects, so a damaged one surfaced as a
        handshake failure blamed on the server. Checked only now that TLS failed (no cost
        on success); said as rwc says it (transport.unusable_bundle), a local error.
        """
        try:
            ssl.create_default_context(cafile=self._verify)
        except OSError as load_exc:  # ssl.SSLError too
            return ca_bundle_refused(unusable_bundle(self._verify, load_exc).message)
        return tls_failure(self._base, exc)

    @staticmethod
    def _read(response: requests.Response) -> bytes:
        try:
            return read_limited(response)
        except KeyServerProtocolError as exc:
            raise CliError(exc.message, exit_code=EXIT_UNAVAILABLE) from None
        except requests.exceptions.RequestException as exc:
            raise _broken(exc) from None

    def _problem(self, status: int, body: bytes) -> CliError:
        """Turn an error response into a CliError (spec §problems)."""
        if 300 <= status < 400:
            # Redirects are not followed: the token goes to the named server only.
            return CliError(
                N_("the key server answered with a redirect (HTTP %(status)s)", status=status),
                hint=N_("give the final URL of the key server with --server"),
                exit_code=EXIT_UNAVAILABLE,
            )
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            doc = None
        slug = problem_slug(doc)
        if slug is None or not isinstance(doc, dict):
            return CliError(
                N_(
                    "the key server answered HTTP %(status)s without a problem document",
                    status=status,
                ),
                exit_code=EXIT_UNAVAILABLE,
            )
        # Server text is shown only sanitised (no terminal escape sequences).
        slug = clean_text(slug, 64) or "?"
        detail = clean_text(doc.get("detail")) or clean_text(doc.get("title")) or slug
        hint: str | Message | None = None
        if slug == "unauthenticated":
            hint = N_("KEYSERVER_TOKEN is missing, wrong, expired or revoked")
        elif slug == "forbidden":
            hint = N_("this principal lacks the role the command needs (see `keyserver whoami`)")
        elif clean_text(doc.get("contact")):
            hint = f"contact: {clean_text(doc.get('contact'))}"
        suggestions = doc.get("suggestions")
        names = (
            [clean_text(str(n)) or "" for n in suggestions] if isinstance(suggestions, list) else []
        )
        return problem_error(slug, detail, names, hint=hint)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._open(method, path, **kwargs)
        try:
            body = self._read(response)
        finally:
            response.close()
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CliError(
                N_("the key server sent a response that is not JSON (%(path)s)", path=path),
                exit_code=EXIT_UNAVAILABLE,
            ) from exc

    def _items(self, path: str, key: str) -> list[Json]:
        doc = self._json("GET", path)
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            raise CliError(
                N_("the key server sent an unexpected response (%(path)s)", path=path),
                exit_code=EXIT_UNAVAILABLE,
            )
        return list(doc[key])

    # -- operations --------------------------------------------------------------------------

    def whoami(self) -> Json:
        """GET /v1/whoami."""
        return dict(self._json("GET", "/v1/whoami"))

    def principal_add(
        self, name: str, roles: list[str], groups: list[str], organisation: str | None
    ) -> Json:
        """POST /v1/principals."""
        body = {"name": name, "roles": roles, "groups": groups, "organisation": organisation}
        return dict(self._json("POST", "/v1/principals", body=body))

    def principal_list(self) -> list[Json]:
        """GET /v1/principals."""
        return self._items("/v1/principals", "principals")

    def token_create(self, name: str, expires_at: str | None) -> Json:
        """POST /v1/principals/{name}/tokens."""
        path = f"/v1/principals/{_segment(name)}/tokens"
        return dict(self._json("POST", path, body={"expires_at": expires_at}))

    def token_list(self) -> list[Json]:
        """GET /v1/tokens."""
        return self._items("/v1/tokens", "tokens")

    def token_revoke(self, token_id: str) -> Json:
        """POST /v1/tokens/{token_id}/revoke."""
        return dict(self._json("POST", f"/v1/tokens/{_segment(token_id)}/revoke", body={}))

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
        """POST /v1/{containers|media|issuers}/{target}/{action}."""
        path = f"/v1/{_SCOPE_PATH[scope]}/{_segment(target)}/{action}"
        body: Json = {"reason": reason, "public_reason": public_reason}
        if cause is not None:
            body["cause"] = cause
        return dict(self._json("POST", path, body=body))

    def reset_budget(self, container_id: str, reason: str) -> Json:
        """POST /v1/containers/{id}/reset-budget."""
        path = f"/v1/containers/{_segment(container_id)}/reset-budget"
        return dict(self._json("POST", path, body={"reason": reason}))

    def media_list(self, after: str | None, limit: int | None) -> Json:
        """GET /v1/media."""
        params: dict[str, Any] = _page(limit)
        if after:
            params["after"] = after
        return dict(self._json("GET", "/v1/media", params=params))

    def medium_info(self, medium: str) -> Json:
        """GET /v1/media/{medium}."""
        return dict(self._json("GET", f"/v1/media/{_segment(medium)}"))

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
        """POST /v1/media/{medium}/loss-report."""
        body = {
            "reason": reason,
            "public_reason": public_reason,
            "now": now,
            "waiting_period_seconds": waiting_period_seconds,
            "lost_at": lost_at,
            "told_at": told_at,
            "replace_earlier": replace_earlier,
        }
        path = f"/v1/media/{_segment(medium)}/loss-report"
        return dict(self._json("POST", path, body=body))

    def status(self, container_id: str) -> Json:
        """GET /v1/containers/{id}."""
        return dict(self._json("GET", f"/v1/containers/{_segment(container_id)}"))

    def search(self, filters: dict[str, str], limit: int | None, after: str | None) -> Json:
        """GET /v1/containers."""
        params: dict[str, Any] = {**filters, **_page(limit)}
        if after:
            params["after"] = after
        return dict(self._json("GET", "/v1/containers", params=params))

    def medium_report(self, medium: str, *, since: str | None = None) -> Json:
        """GET /v1/media/{medium}/report."""
        params = {"since": since} if since else None
        path = f"/v1/media/{_segment(medium)}/report"
        return dict(self._json("GET", path, params=params))

    def signed_report(self, kind: str, medium: str) -> Json:
        """GET /v1/media/{medium}/report/signed or .../destruction-certificate."""
        tail = "report/signed" if kind == "medium-report" else "destruction-certificate"
        return dict(self._json("GET", f"/v1/media/{_segment(medium)}/{tail}"))

    def audit_list(self, filters: dict[str, str], after_seq: int | None, limit: int | None) -> Json:
        """GET /v1/audit."""
        params: dict[str, Any] = _page(limit)
        for key, value in filters.items():
            # The server names the acting-principal filter ``actor_name``.
            params["actor_name" if key == "actor" else key] = value
        if after_seq is not None:
            params["after_seq"] = after_seq
        return dict(self._json("GET", "/v1/audit", params=params))

    def audit_export(self) -> Iterator[str]:
        """GET /v1/audit/export, streamed line by line."""
        response = self._open("GET", "/v1/audit/export")
        try:
            for raw in iter_lines_limited(response):
                try:
                    line = raw.decode("utf-8")
                    json.loads(line)  # spec §audit: each line is one JSON entry
                except ValueError as exc:
                    raise CliError(
                        N_("the key server sent an audit export line that is not JSON"),
                        exit_code=EXIT_UNAVAILABLE,
                    ) from exc
                yield line
        except KeyServerProtocolError as exc:
            raise CliError(exc.message, exit_code=EXIT_UNAVAILABLE) from None
        except requests.exceptions.RequestException as exc:
            raise _broken(exc) from None
        finally:
            response.close()

    def audit_verify(
        self,
        expected_head: tuple[int, bytes] | None,
        *,
        start: tuple[int, bytes] | None = None,
        limit: int | None = None,
    ) -> Json:
        """GET /v1/audit/verify[?expect_head=SEQ:HASH][&from_head=SEQ:HASH][&limit=N]."""
        params: dict[str, Any] = {}
        for name, head in (("expect_head", expected_head), ("from_head", start)):
            if head is not None:
                params[name] = f"{head[0]}:{head[1].hex()}"
        if limit is not None:
            params["limit"] = limit
        return dict(self._json("GET", "/v1/audit/verify", params=params or None))

    def approvals_list(self, state: str | None, after: int | None, limit: int | None) -> Json:
        """GET /v1/approvals."""
        params: dict[str, Any] = _page(limit)
        if state is not None:
            params["state"] = state
        if after is not None:
            params["after"] = after
        return dict(self._json("GET", "/v1/approvals", params=params))

    def approval_show(self, approval_id: int) -> Json:
        """GET /v1/approvals/{id}."""
        return dict(self._json("GET", f"/v1/approvals/{approval_id}"))

    def approval_approve(self, approval_id: int) -> Json:
        """POST /v1/approvals/{id}/approve."""
        return dict(self._json("POST", f"/v1/approvals/{approval_id}/approve"))

    def approval_reject(self, approval_id: int, reason: str) -> Json:
        """POST /v1/approvals/{id}/reject."""
        path = f"/v1/approvals/{approval_id}/reject"
        return dict(self._json("POST", path, body={"reason": reason}))

    def log_info(self) -> Json:
        """GET /v1/tlog (no authentication needed)."""
        return dict(self._json("GET", "/v1/tlog"))

    def latest_checkpoint(self) -> str | None:
        """GET /v1/tlog/checkpoint: the note (text/plain), None before the first one."""
        try:
            response = self._open("GET", "/v1/tlog/checkpoint")
        except CliError as exc:
            if exc.exit_code == EXIT_NOT_FOUND:
                return None
            raise
        try:
            body = self._read(response)
        finally:
            response.close()
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(
                N_("the key server sent a checkpoint that is not UTF-8"), exit_code=EXIT_UNAVAILABLE
            ) from exc

    def published_at(self) -> list[str]:
        """The URLs of this server where anyone fetches the log's key (spec §transparency)."""
        return [self._base + path for path in LOG_KEY_PATHS]
