"""The console's browser security: cookies, CSRF tokens, origin check, response headers.

Decisions (each one a defence a security engineer will look for):
- The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
  site's page sends it), ``Secure`` with the ``__Host-`` prefix over TLS, and holds only a
  random id; the server keeps the session (keyserver/_service/console.py).
- Every form carries a CSRF token: for a signed-in session an HMAC of the session id (it
  needs no storage and dies with the session); for the sign-in form a double-submit value
  (cookie and field must match), so a foreign page cannot sign a browser in as someone
  else. POSTs with an ``Origin`` header from another origin are refused as well.
- A strict Content-Security-Policy: only this server's own scripts, styles and images, and
  requests to this server alone; no inline script, no third-party origin (city networks
  are often closed), no framing.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from keyserver._domain.encoding import b64e

PREFIX = "/console"
LANG_COOKIE = "rwc_lang"
_SESSION_COOKIE = "rwc_console"
_PRE_COOKIE = "rwc_console_signin"
_CSRF_LABEL = b"rwc console csrf v1"

# connect-src 'self': the console's own script may ask this server, and only it (the loss
# form's echo, GET /console/loss-time: issue 12, console43); under default-src 'none' it
# could ask nothing. Same origin only, as every script, style and image.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Set on every /console response by keyserver._http.headers.PathHeaders.
HEADERS = [
    (b"content-security-policy", CSP.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Nothing of a console URL (media names, container ids) goes to another origin. Not
    # no-referrer: under it browsers send ``Origin: null`` on same-origin form posts,
    # and the origin check below needs the real one.
    (b"referrer-policy", b"same-origin"),
    # Pages show tokens (once), reasons and audit entries: never kept by a cache.
    (b"cache-control", b"no-store"),
]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def session_cookie_name_plain() -> str:
    """The session cookie's name over plain HTTP (loopback, tests)."""
    return _SESSION_COOKIE


def session_cookie_name(request: Request) -> str:
    """``__Host-rwc_console`` over TLS (browser-enforced Secure, host-only, Path=/)."""
    return "__Host-" + _SESSION_COOKIE if _secure(request) else _SESSION_COOKIE


def pre_cookie_name(request: Request) -> str:
    """Cookie of the sign-in form's double-submit CSRF value."""
    return "__Host-" + _PRE_COOKIE if _secure(request) else _PRE_COOKIE


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set a console cookie: HttpOnly, SameSite=Strict, Secure over TLS, Path=/."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Remove a console cookie (same attributes, so the browser matches it)."""
    response.delete_cookie(
        name, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )


def csrf_token(session_id: str) -> str:
    """The CSRF token of a signed-in session: HMAC-SHA256 keyed with the session id."""
    mac = hmac.new(session_id.encode("ascii"), _CSRF_LABEL, hashlib.sha256).digest()
    return b64e(mac)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a submitted CSRF value with the expected one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def same_origin(request: Request) -> bool:
    """False when a browser says the request comes from another origin.

    Browsers send ``Origin`` on every POST; a missing one (older clients) is left to the
    CSRF token, which every form carries anyway.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme == request.url.scheme and parts.netloc == host


def safe_next(path: str | None) -> str:
    """A console path to go back to; anything else (other sites, ``//host``) is dropped."""
    if (
        path
        and path.startswith(PREFIX + "/")
        and not path.startswith("//")
        and "\\" not in path
        and all(32 < ord(ch) < 127 for ch in path)
    ):
        return path
    return PREFIX + "/overview"
