"""Remote mode of the ``keyserver`` command: the HTTP protocol over ``requests``.

spec §auth: the bearer token comes from ``KEYSERVER_TOKEN`` (never from a flag, where it
would be visible in ``ps`` and shell history) and is never printed or logged.
spec §problems: refusals are RFC 9457 documents; the slug decides the exit code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from keyserver.cli.backend import Action, Json, Scope
from keyserver.cli.errors import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    CliError,
    exit_code_for_slug,
)
from keyserver.cli.messages import suggestion_hint

PROBLEM_PREFIX = "urn:rwc:problem:"
_SCOPE_PATH = {"container": "containers", "medium": "media", "issuer": "issuers"}


def _segment(value: str) -> str:
    """Percent-encode one path segment (media and names are free-form)."""
    return quote(value, safe="")


def check_server_url(url: str) -> str:
    """Validate a ``--server`` URL and return it without a trailing slash.

    spec §conventions: HTTPS, or plain HTTP only to a loopback host (a token sent in clear
    over a network is a stolen token).

    Raises:
        CliError: The URL is not usable.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise CliError(
            f"--server {url!r} is not an http(s) URL",
            hint="use e.g. --server https://keys.city.example",
            exit_code=EXIT_CONFIG,
        )
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise CliError(
            f"--server {url!r} uses plain http to a non-loopback host",
            hint="use https:// (plain http is allowed only for 127.0.0.1/::1/localhost)",
            exit_code=EXIT_CONFIG,
        )
    return url.rstrip("/")


class RemoteBackend:
    """The management operations over HTTP (spec §endpoints).

    Args:
        base_url: Server base URL (already checked with :func:`check_server_url`).
        token: Bearer token.
        timeout: Seconds for connect and read.
        verify: TLS verification: True, or a CA bundle path.
    """

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 30.0, verify: bool | str = True
    ) -> None:
        self._base = base_url
        self._timeout = timeout
        self._verify = verify
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Accept"] = "application/json, application/problem+json"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = self._base + path
        try:
            response = self._session.request(
                method,
                url,
                json=body,
                params=params,
                timeout=self._timeout,
                stream=stream,
                allow_redirects=False,
                # Per request: a session-level value would lose to REQUESTS_CA_BUNDLE.
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            raise CliError(
                f"TLS failure talking to {self._base}: {type(exc).__name__}",
                hint="check the server certificate (KEYSERVER_CA_BUNDLE names a CA file)",
                exit_code=EXIT_UNAVAILABLE,
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise CliError(
                f"cannot reach the key server at {self._base} ({type(exc).__name__})",
                hint="check --server / KEYSERVER_SERVER and that the server is running",
                exit_code=EXIT_UNAVAILABLE,
            ) from exc
        if response.status_code >= 400:
            raise self._problem(response)
        return response

    def _problem(self, response: requests.Response) -> CliError:
        """Turn an error response into a CliError (spec §problems)."""
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not str(doc.get("type", "")).startswith(PROBLEM_PREFIX):
            return CliError(
                f"the key server answered HTTP {response.status_code} without a problem document",
                exit_code=EXIT_UNAVAILABLE,
            )
        slug = str(doc["type"])[len(PROBLEM_PREFIX) :]
        detail = str(doc.get("detail") or doc.get("title") or slug)
        hint = None
        if slug == "unauthenticated":
            hint = "KEYSERVER_TOKEN is missing, wrong, expired or revoked"
        elif slug == "forbidden":
            hint = "this principal lacks the role the command needs (see `keyserver whoami`)"
        elif isinstance(doc.get("suggestions"), list) and doc["suggestions"]:
            hint = suggestion_hint([str(n) for n in doc["suggestions"]])
        elif doc.get("contact"):
            hint = f"contact: {doc['contact']}"
        return CliError(f"{detail} ({slug})", hint=hint, exit_code=exit_code_for_slug(slug))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(
                f"the key server sent a response that is not JSON ({path})",
                exit_code=EXIT_UNAVAILABLE,
            ) from exc

    def _items(self, path: str, key: str) -> list[Json]:
        doc = self._json("GET", path)
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            raise CliError(
                f"the key server sent an unexpected response ({path})",
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

    def media_list(self, after: str | None, limit: int) -> Json:
        """GET /v1/media."""
        params: dict[str, Any] = {"limit": limit}
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
    ) -> Json:
        """POST /v1/media/{medium}/loss-report."""
        body = {
            "reason": reason,
            "public_reason": public_reason,
            "now": now,
            "waiting_period_seconds": waiting_period_seconds,
            "lost_at": lost_at,
        }
        path = f"/v1/media/{_segment(medium)}/loss-report"
        return dict(self._json("POST", path, body=body))

    def status(self, container_id: str) -> Json:
        """GET /v1/containers/{id}."""
        return dict(self._json("GET", f"/v1/containers/{_segment(container_id)}"))

    def search(self, filters: dict[str, str], limit: int, after: str | None) -> Json:
        """GET /v1/containers."""
        params: dict[str, Any] = {**filters, "limit": limit}
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

    def audit_list(self, filters: dict[str, str], after_seq: int | None, limit: int) -> Json:
        """GET /v1/audit."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in filters.items():
            # The server names the acting-principal filter ``actor_name``.
            params["actor_name" if key == "actor" else key] = value
        if after_seq is not None:
            params["after_seq"] = after_seq
        return dict(self._json("GET", "/v1/audit", params=params))

    def audit_export(self) -> Iterator[str]:
        """GET /v1/audit/export, streamed line by line."""
        response = self._request("GET", "/v1/audit/export", stream=True)
        try:
            for raw in response.iter_lines(decode_unicode=False):
                if raw:
                    try:
                        line = raw.decode("utf-8")
                        json.loads(line)  # spec §audit: each line is one JSON entry
                    except ValueError as exc:
                        raise CliError(
                            "the key server sent an audit export line that is not JSON",
                            exit_code=EXIT_UNAVAILABLE,
                        ) from exc
                    yield line
        finally:
            response.close()

    def audit_verify(self) -> Json:
        """GET /v1/audit/verify."""
        return dict(self._json("GET", "/v1/audit/verify"))
