"""HTTP/1.1 on a connected socket: one request written, one answer read (httptools parses).

pycontainer.client.connection opens the socket (TCP, proxy tunnel, TLS) and decides when it
is reused; this module only speaks the protocol on it (RFC 9112), under these rules:

* Requests are formatted strictly: a method of letters, a target and every header name
  and value checked before anything is sent (:func:`format_request`); a CR, LF or NUL
  anywhere is refused (``ValueError``, a caller's bug: the client checks the token, the
  language and the URL before), so no value can split or fold the request. ``Host``
  follows RFC 9112 §3.2 (IPv6 literal in brackets, the port only when not the
  scheme's default), ``Content-Length`` is ours (a POST says 0 when it has no body), and
  a caller cannot add a second of either, nor ``Transfer-Encoding`` or ``Connection``:
  one framing per request.
* Answers are parsed by llhttp through ``httptools.HttpResponseParser`` (the parser
  uvicorn uses; no HTTP parsing of our own), in its strict mode: a malformed status
  line, a bad chunk size, two Content-Lengths or Content-Length beside
  Transfer-Encoding are errors, not guesses. Content-Length and chunked bodies are read
  to their end; a body without either is read to the end of the connection (RFC 9112
  §6.3, as http.client did), and that connection is not reused.
* Limits, each refused as "the key server's answer is too large"
  (pycontainer.client.transport): the status line and headers of one answer are at most
  :data:`MAX_HEAD_BYTES` bytes and :data:`MAX_HEADERS` fields (trailers counted); the
  body at most the caller's limit, refused at once when Content-Length declares more,
  else as soon as more has arrived: never read in full.
* Interim 1xx answers are skipped (RFC 9110 §15.2), within the same head limit; 101 is
  refused (no upgrade was asked for).
* A connection is reusable only if the answer allows keep-alive (llhttp's verdict: HTTP/1.1
  without ``Connection: close``) and nothing followed the answer on it.

Spec anchors: spec/protocol.md §transport.
"""

# No `from __future__ import annotations` here (the client's modules on the read path do
# without it: bench/profiles/startup.md, "The first compile()").

import socket

import httptools

from pycontainer.client.transport import answer_too_large

# Status line and header fields of one answer, 1xx answers before it included. http.client
# allowed 100 fields of 64 KiB each; the key server sends ~6 short ones.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
_RECV = 65536

# RFC 9110 §5.6.2 tchar: what a header name may be made of.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Framing and connection headers are this module's (one framing per request).
_OURS = frozenset(("host", "content-length", "transfer-encoding", "connection"))


class BrokenAnswerError(Exception):
    """The answer is not HTTP/1.x, breaks its framing, or ended before it was complete."""


def format_request(
    method: str, target: str, host: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    """The bytes of one request, every part checked first.

    Args:
        method: An upper-case method (GET, POST, CONNECT).
        target: The origin-form target ("/v1/...") or, for CONNECT, "host:port".
        host: The Host header's value (:func:`host_header`).
        headers: The caller's header fields (not Host, Content-Length, Transfer-Encoding,
            Connection).
        body: The body, or None.

    Raises:
        ValueError: A part holds a character it cannot have (CR, LF, NUL, ...).
    """
    if not (method.isascii() and method.isalpha() and method.isupper()):
        raise ValueError("the request method is not an upper-case token")
    # Security: visible ASCII only, so no space, CR, LF or NUL can end the request line.
    if not target or not all("!" <= c <= "~" for c in target):
        raise ValueError("the request target holds a character it cannot have")
    lines = [f"{method} {target} HTTP/1.1", "Host: " + _checked_value(host)]
    for name, value in headers.items():
        if not name or not all(c in _TCHAR for c in name):
            raise ValueError("a request header name is not a token")
        if name.lower() in _OURS:
            raise ValueError(f"the {name} header is set by the HTTP client itself")
        lines.append(f"{name}: {_checked_value(value)}")
    if body is not None or method == "POST":  # RFC 9110 §8.6: a POST says its length
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head + body if body else head


def _checked_value(value: str) -> str:
    # Security: RFC 9110 §5.5 field-value, restricted to ASCII: visible characters, space
    # and tab inside, none at either end; so no CR, LF or NUL can split or fold a header.
    if value != value.strip(" \t") or not all(c == "\t" or " " <= c <= "~" for c in value):
        raise ValueError("a request header value holds a character it cannot have")
    return value


def host_header(host: str, port: int | None, default_port: int) -> str:
    """The Host header (or CONNECT target) for ``host``: RFC 9112 §3.2, RFC 3986 §3.2.2.

    An IPv6 literal goes in brackets; the port is left out when it is the scheme's default.
    """
    name = f"[{host}]" if ":" in host else host
    return name if port is None or port == default_port else f"{name}:{port}"


class Reply:
    """One answer as it is parsed: the httptools protocol object, then the result.

    A plain class with ``__slots__``: its creation costs nothing at import (issue 15).

    Attributes:
        status: The status code.
        headers: Header fields by lower-case name (ISO-8859-1, as RFC 9110 §5.5 allows),
            repeated fields joined with ", " (as http.client's ``getheader``).
        body: The body (at most the limit).
        trailing: Bytes followed the answer on the connection (or, on a CONNECT
            tunnel, its head): nothing may use the connection after it.
        reusable: The connection may carry another request.
    """

    __slots__ = (
        "_head_bytes",
        "_head_only",
        "_limit",
        "_parser",
        "_parts",
        "_size",
        "_too_large",
        "complete",
        "fields",
        "framed",
        "head_done",
        "headers",
        "keep_alive",
        "status",
        "trailing",
    )

    def __init__(self, limit: int, head_only: bool) -> None:
        self._limit = limit
        self._head_only = head_only
        self._parser = httptools.HttpResponseParser(self)
        self.trailing = self._too_large = self.complete = self.keep_alive = False
        # The head's fields and bytes, interim answers' included (never reset).
        self.fields = self._head_bytes = 0
        self._begin()

    def _begin(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = self.framed = False
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def body(self) -> bytes:
        """The body read (at most the limit)."""
        return b"".join(self._parts)

    @property
    def reusable(self) -> bool:
        """The connection may carry another request (see the class docstring)."""
        return self.complete and self.keep_alive and not self.trailing

    def header(self, name: str) -> str:
        """The field ``name`` (lower case), or "" if the answer has none."""
        return self.headers.get(name, "")

    def feed(self, data: bytes) -> None:
        """Parse ``data``, the next bytes from the connection.

        Raises:
            KeyServerProtocolError: Over a limit (transport.answer_too_large).
            BrokenAnswerError: Not a valid answer.
        """
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise BrokenAnswerError("the answer switches protocols (HTTP 101)") from None
        except httptools.HttpParserCallbackError as exc:
            if self._too_large:
                raise answer_too_large() from None
            if isinstance(exc.__context__, BrokenAnswerError):  # a callback's (below)
                raise exc.__context__ from None
            if not self.trailing:
                raise BrokenAnswerError("malformed answer") from None
        except httptools.HttpParserError as exc:
            if self.complete:  # bytes after a complete answer: it stands, the socket does not
                self.trailing = True
                return
            raise BrokenAnswerError(f"malformed answer: {exc}") from None

    # --- httptools' callbacks (llhttp calls them during feed_data) ---------------------

    def on_message_begin(self) -> None:
        """An answer begins (llhttp)."""
        if self.complete or (self._head_only and self.head_done):
            # Data after the answer (or, on a CONNECT tunnel, before the TLS handshake that
            # must come first): the answer stands, the connection is not used again.
            self.trailing = True
            raise _Stop

    def on_status(self, reason: bytes) -> None:
        """The status line's reason phrase."""
        self._count(len(reason) + len("HTTP/1.1 200 \r\n"))

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header field, whole (httptools joins its pieces)."""
        self.fields += 1
        self._count(len(name) + len(value) + len(": \r\n"))
        if self.fields > MAX_HEADERS:
            self._too_large = True
            raise _Stop
        if self.head_done:  # a trailer field (chunked): counted, never used
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text
        if key in ("content-length", "transfer-encoding"):
            self.framed = True

    def _count(self, size: int) -> None:
        # The head as parsed: read_answer bounds the bytes received before it is complete,
        # this the head that completed within the last bytes received (or after 1xx ones).
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._too_large = True
            raise _Stop

    def on_headers_complete(self) -> None:
        """The status line and header fields are parsed."""
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise BrokenAnswerError(f"not an HTTP/1.x answer (HTTP/{version})")
        self.status = self._parser.get_status_code()
        self.head_done = True
        declared = self.headers.get("content-length", "")
        # Refused on the declaration, before any of the body is read (llhttp has checked
        # it is one decimal number).
        if not self._head_only and declared.isdigit() and int(declared) > self._limit:
            self._too_large = True
            raise _Stop

    def on_body(self, data: bytes) -> None:
        """A piece of the body (chunked: de-chunked by llhttp)."""
        if self._head_only:  # a 2xx answer to CONNECT has no body (RFC 9110 §9.3.6)
            self.trailing = True
            raise _Stop
        self._size += len(data)
        if self._size > self._limit:
            self._too_large = True
            raise _Stop
        self._parts.append(data)

    def on_message_complete(self) -> None:
        """The answer is complete (its body to its declared end)."""
        if 100 <= self.status < 200:  # interim (RFC 9110 §15.2): the answer follows
            fields = self.fields
            self._begin()
            self.fields = fields  # the interim answers' fields count towards the limit
            return
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True


class _Stop(Exception):  # noqa: N818 - not an error: a callback ends the parse
    """Raised by a callback to stop llhttp; the reason is on the :class:`Reply`."""


def read_answer(sock: socket.socket, limit: int, *, head_only: bool = False) -> "Reply":
    """Read one answer from ``sock`` (after a request was sent on it).

    Args:
        sock: The connected socket, with its read timeout set.
        limit: Largest body accepted.
        head_only: Stop after the status line and headers (the answer to CONNECT: the TLS
            handshake follows on the same socket, so nothing may be read beyond them).

    Raises:
        KeyServerProtocolError: Over a limit (the head, the fields or the body).
        BrokenAnswerError: Not a valid answer, or the connection ended before it did.
        TimeoutError: A read timed out.
        OSError: The connection failed.
    """
    answer = Reply(limit, head_only)
    received = 0
    while not (answer.complete or (head_only and answer.head_done)):
        data = sock.recv(_RECV)
        if not data:
            _ended(answer)
            break
        received += len(data)
        answer.feed(data)
        # httptools gathers a field's pieces before it calls on_header: a head that never
        # ends is bounded here, by the bytes received while it lasts.
        if not answer.head_done and received > MAX_HEAD_BYTES:
            raise answer_too_large()
    return answer


def _ended(answer: Reply) -> None:
    """The server closed the connection: the answer's end if its body runs to the close."""
    # (An answer that has no body, 204 or 304, llhttp has already completed.)
    if answer.head_done and not answer.framed:
        answer.complete = True  # RFC 9112 §6.3 item 8: the body was read to the close
        answer.keep_alive = False
        return
    raise BrokenAnswerError("the connection ended before the answer did")
