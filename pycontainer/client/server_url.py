"""Key-server URL rules shared by the client, the token store and the CLI.

A key-server URL is where the reader's blinded element goes, so it must be authenticated:
``https://`` always, ``http://`` only for loopback hosts (a test server or a local tunnel).
URLs are normalised (scheme and host lower-case, no trailing slash) so that the same server
is always named the same way in the token store.

Spec anchors: spec/format.md §slot-server-oprf (url rules), spec/protocol.md §transport.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from pycontainer.errors import ContainerError
from pycontainer.format.primitives import URL_MAX


class ServerUrlError(ContainerError):
    """A key-server URL was refused (bad syntax, or plain http:// to a non-loopback host)."""


def is_loopback_host(host: str) -> bool:
    """Return True for ``localhost``, 127.0.0.0/8 and ::1.

    Args:
        host: A host name or IP literal, without brackets.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_server_url(url: str) -> str:
    """Check a key-server base URL and return its normal form.

    Args:
        url: ``https://host[:port][/prefix]`` (or ``http://`` for a loopback host).

    Returns:
        The URL with a lower-case scheme and host and without a trailing slash.

    Raises:
        ServerUrlError: The URL is malformed, carries credentials, a query or a fragment, or
            uses plain http:// for a host that is not loopback.
    """
    hint = "give the key server as https://HOST[:PORT][/PATH]"
    if not url or len(url.encode("utf-8")) > URL_MAX:  # spec §slot-server-oprf: 1..2048 bytes
        raise ServerUrlError("the key-server URL is empty or too long", hint=hint)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ServerUrlError("the key-server URL contains spaces or control characters", hint=hint)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ServerUrlError(f"the key-server URL is malformed: {exc}", hint=hint) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ServerUrlError(f"not an http(s) URL: {url!r}", hint=hint)
    # Credentials in a URL end up in logs, shell history and the container header.
    if parts.username is not None or parts.password is not None:
        raise ServerUrlError("the key-server URL must not contain credentials", hint=hint)
    if parts.query or parts.fragment:
        raise ServerUrlError("the key-server URL must not have a query or fragment", hint=hint)
    # spec §slot-server-oprf: plain http only to loopback. Anywhere else an attacker on the
    # path could read the bearer token and answer in the server's place.
    if scheme == "http" and not is_loopback_host(host):
        raise ServerUrlError(
            f"refusing plain http:// to {host}: the key server must use https://",
            hint="http:// is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost)",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc.lower(), parts.path.rstrip("/"), "", ""))
