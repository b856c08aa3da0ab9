"""The key-server URL grammar of a slot (spec [F-URL]), exactly and without a URL library.

General URL parsers (urllib, WHATWG) accept and repair far more than the spec allows, and
two of them disagree on inputs such as ``http://0x7f.0.0.1/`` or ``https://a%2eb/``. The
spec therefore fixes one small grammar (format.md §slot-server-oprf) and this module is it:
ASCII only, ``scheme "://" host [":" port] path``, no userinfo, query or fragment. The client
(pycontainer/client/server_url.py) and the header codec both use it, so one policy decides.

I/O-free; raises :class:`UrlError` with a reason in words.

Each piece of the grammar is a small predicate over ASCII text (the URL is checked to be
ASCII first), its regular expression beside it as the definition; tests/cli/test_server_url.py
checks every predicate against its expression over all short strings of the characters
that matter. Not ``re``: compiling the seven expressions cost every ``rwc`` run that reads
a header or names a server ~3.4 M instructions, sre's compiler being Python (issue 15,
bench/profiles/startup.md), for checks that ``str`` methods make in C.
"""

from pycontainer._record import Record
from pycontainer.format import primitives as p

_DIGITS = "0123456789"
_HEX = "0123456789ABCDEFabcdef"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# RFC 3986 pchar without pct-encoded: unreserved / sub-delims / ":" / "@".
_PCHAR = _ALNUM + "-._~!$&'()*+,;=:@"
_DNS_NAME_MAX = 253


def _only(text: str, chars: str) -> bool:
    """True if every character of ``text`` is one of ``chars`` (also for empty ``text``)."""
    return not text.strip(chars)


def _is_port(text: str) -> bool:
    """Whether ``text`` is ``[1-9][0-9]{0,4}``."""
    return 1 <= len(text) <= 5 and _only(text, _DIGITS) and text[0] != "0"


def _is_dec_octet(text: str) -> bool:
    """Whether ``text`` is ``0|[1-9][0-9]{0,2}``."""
    return 1 <= len(text) <= 3 and _only(text, _DIGITS) and (text == "0" or text[0] != "0")


def _is_numeric_label(text: str) -> bool:
    """Whether ``text`` is ``[0-9]+|0[xX][0-9A-Fa-f]*``."""
    if text[:2] in ("0x", "0X"):
        return _only(text[2:], _HEX)
    return text != "" and _only(text, _DIGITS)


def _is_label(text: str) -> bool:
    """Whether ``text`` is ``[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?``."""
    return 1 <= len(text) <= 63 and _only(text, _ALNUM + "-") and text[0] != "-" and text[-1] != "-"


def _is_ipv6_chars(text: str) -> bool:
    """Whether ``text`` is ``[0-9A-Fa-f:.]+``."""
    return text != "" and _only(text, _HEX + ":.")


def _is_path(text: str) -> bool:
    """``(?:/(?:[pchar]|%[0-9A-Fa-f]{2})*)*``, pchar as in ``_PCHAR``."""
    if text and text[0] != "/":
        return False
    # Between the percent signs: pchar and "/"; right after each one: two hex digits.
    first, *escaped = text.split("%")
    return _only(first, _PCHAR + "/") and all(
        len(part) >= 2 and _only(part[:2], _HEX) and _only(part[2:], _PCHAR + "/")
        for part in escaped
    )


def _scheme_end(url: str) -> int | None:
    """Where ``(?i:https?)://`` ends at the start of an ASCII ``url``; None without it."""
    start = url[:8].lower()
    if start.startswith("https://"):
        return 8
    if start.startswith("http://"):
        return 7
    return None


class UrlError(ValueError):
    """The URL breaks the slot URL grammar; ``str()`` says which part."""


# A record (pycontainer/_record.py), not a frozen dataclass or a NamedTuple: every `rwc cat`
# defines it, and those cost ~3.7 M and ~0.6 M instructions to define against ~0.1 M (issue 15).
class ServerUrl(Record):
    """A URL that passed the grammar.

    Attributes:
        scheme: ``https`` or ``http`` (lower case).
        host: The host, lower case; an IPv6 literal without its brackets.
        port: The port, or None when absent.
        path: The path (possibly empty), as written.
        loopback: True when the host is a loopback host (spec [F-URL]).
    """

    scheme: str
    host: str
    port: int | None
    path: str
    loopback: bool

    def base(self) -> str:
        """The normal form: lower-case scheme and host, the path without one trailing '/'.

        spec §slot-server-oprf: an endpoint URL is this base followed by the endpoint path.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        path = self.path[:-1] if self.path.endswith("/") else self.path
        return f"{self.scheme}://{host}{port}{path}"


def _ipv4_loopback(host: str) -> bool | None:
    """For a dotted-quad IPv4 address: whether it is in 127.0.0.0/8; None for any other host."""
    parts = host.split(".")
    if len(parts) != 4 or not all(_is_dec_octet(x) for x in parts):
        return None
    if any(int(x) > 255 for x in parts):
        return None
    # Four decimal octets in their one spelling (no leading zeros, each <= 255): 127.0.0.0/8
    # is the first octet being 127. Not ipaddress: importing it costs ~5 M instructions of
    # every small `rwc cat` (issue 15), for what the grammar has already decided.
    return parts[0] == "127"


def _host(authority_host: str) -> tuple[str, bool]:
    """Check a host; return (lower-case host without brackets, loopback)."""
    if authority_host.startswith("["):
        if not authority_host.endswith("]"):
            raise UrlError("an IPv6 literal is not closed with ']'")
        text = authority_host[1:-1]
        # No zone id ("%25eth0") and no IPvFuture: only the RFC 4291 §2.2 text forms.
        if not _is_ipv6_chars(text):
            raise UrlError("the IPv6 literal has characters outside RFC 4291 text form")
        import ipaddress  # noqa: PLC0415 - IPv6 literals only (see _ipv4_loopback)

        try:
            addr6 = ipaddress.IPv6Address(text)
        except ValueError:
            raise UrlError("the IPv6 literal is not a valid address") from None
        # Only ::1 itself, in any spelling; the IPv4-mapped ::ffff:127.0.0.1 is not loopback.
        return text.lower(), addr6 == ipaddress.IPv6Address("::1")
    if not authority_host:
        raise UrlError("the host is empty")
    loopback4 = _ipv4_loopback(authority_host)
    if loopback4 is not None:
        return authority_host, loopback4
    labels = authority_host.split(".")
    # A trailing dot ("localhost.") gives an empty last label: refused, one spelling only.
    if len(authority_host) > _DNS_NAME_MAX or not all(_is_label(x) for x in labels):
        raise UrlError("the host is not a DNS name, an IPv4 address or a bracketed IPv6 address")
    # "127.1", "0x7f.0.0.1", "1.2.3.256": WHATWG parsers read these as IPv4 numbers and
    # others as names; the spec refuses a name whose last label looks like a number.
    if _is_numeric_label(labels[-1]):
        raise UrlError("the host looks like a number but is not a dotted-quad IPv4 address")
    host = authority_host.lower()
    return host, host == "localhost"


def parse_server_url(url: str) -> ServerUrl:
    """Parse a key-server URL by the grammar of spec [F-URL].

    Raises:
        UrlError: It breaks the grammar (the message says where).
    """
    try:
        raw = url.encode("ascii")
    except UnicodeEncodeError:
        # spec [F-URL]: ASCII only; so C1 controls and non-ASCII white space are refused too.
        raise UrlError("the URL contains a non-ASCII character") from None
    if not p.URL_MIN <= len(raw) <= p.URL_MAX:
        raise UrlError("the URL is empty or longer than 2048 bytes")
    if any(b < 0x21 or b == 0x7F for b in raw):
        raise UrlError("the URL contains a space or a control character")
    end = _scheme_end(url)
    if end is None:
        raise UrlError("the URL does not start with https:// or http://")
    scheme = url[: end - 3].lower()
    rest = url[end:]
    if "?" in rest or "#" in rest:
        raise UrlError("the URL has a query or a fragment")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        # Credentials never belong in a header that travels on a USB stick.
        raise UrlError("the URL contains credentials (userinfo)")
    port: int | None = None
    host_part = authority
    colon = authority.rfind(":")
    if colon >= 0 and "]" not in authority[colon:]:
        host_part, port_text = authority[:colon], authority[colon + 1 :]
        # No empty port, no leading zeros, no port 0: one spelling per port.
        if not _is_port(port_text) or int(port_text) > 65535:
            raise UrlError("the port is not a number from 1 to 65535 without leading zeros")
        port = int(port_text)
    host, loopback = _host(host_part)
    if not _is_path(path):
        raise UrlError("the path has a character outside RFC 3986 or a bad percent escape")
    # spec [F-URL]: plain http only towards this machine (tests, local demo).
    if scheme == "http" and not loopback:
        raise UrlError("http:// is allowed only for a loopback host")
    return ServerUrl(scheme, host, port, path, loopback)
