"""Key-server URL rules shared by the client, the token store and the CLI.

A key-server URL is where the reader's blinded element goes, so it must be authenticated:
``https://`` always, ``http://`` only for loopback hosts (a test server or a local tunnel).
URLs are normalised (scheme and host lower-case, no trailing slash) so that the same server
is always named the same way in the token store.

Spec anchors: spec/format.md §slot-server-oprf (url rules), spec/protocol.md §transport.
"""

from __future__ import annotations

from pycontainer.errors import ContainerError
from pycontainer.format.url import UrlError, parse_server_url


class ServerUrlError(ContainerError):
    """A key-server URL was refused (bad syntax, or plain http:// to a non-loopback host)."""


def is_loopback_host(host: str) -> bool:
    """Return True for ``localhost``, 127.0.0.0/8 and ::1 (spec [F-URL]).

    Args:
        host: A host name or IP literal, without brackets.
    """
    literal = f"[{host}]" if ":" in host else host
    try:
        return parse_server_url(f"https://{literal}/").loopback
    except UrlError:
        return False


def normalize_server_url(url: str) -> str:
    """Check a key-server base URL and return its normal form.

    The grammar is the slot URL grammar of spec [F-URL] (pycontainer/format/url.py): one
    policy for what a header may hold and what a user may type.

    Args:
        url: ``https://host[:port][/prefix]`` (or ``http://`` for a loopback host).

    Returns:
        The URL with a lower-case scheme and host and without a trailing slash.

    Raises:
        ServerUrlError: The URL is malformed, carries credentials, a query or a fragment, or
            uses plain http:// for a host that is not loopback.
    """
    hint = "give the key server as https://HOST[:PORT][/PATH]"
    try:
        parsed = parse_server_url(url)
    except UrlError as exc:
        # spec [F-URL]: plain http only to loopback. Anywhere else an attacker on the path
        # could read the bearer token and answer in the server's place.
        if "http://" in str(exc):
            raise ServerUrlError(
                f"refusing plain http:// to {url!r}: the key server must use https://",
                hint="http:// is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost)",
            ) from None
        raise ServerUrlError(f"the key-server URL is refused: {exc}", hint=hint) from None
    return parsed.base()
