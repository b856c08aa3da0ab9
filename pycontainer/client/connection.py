"""One keep-alive HTTP/1.1 connection to a key server, over the standard library.

An `rwc` run makes two to four small requests (evaluate and receipt; access before a
password prompt; register and commit when sealing). ``requests`` with urllib3,
charset_normalizer and idna costs more to import than the whole start-up budget of a small
``rwc cat`` (issue 15, bench/README.md), and ``http.client`` does what these calls need.
The rules are pycontainer.client.transport's, as for ``keyserver --server``:

* TLS is verified against the named trust store (:func:`transport.trust_store`), host
  name included; there is no way to switch it off.
* Redirects are never followed (http.client does not follow them; the caller refuses 3xx).
* A connect timeout (TCP, proxy tunnel and TLS handshake) and a read timeout; an answer
  larger than the limit is refused without reading it all.
* Proxies from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), which
  requests honoured too: a city network may reach the key server only through one. A
  CONNECT tunnel through an ``http://`` proxy, so the TLS session is end to end with the
  key server. Never for a loopback server (a proxy would connect to *its own* loopback and
  a plain ``http://`` request would hand it the token).
* A connection the server closed while idle (keep-alive timeout, e.g. while the reader
  typed the password) is noticed before it is reused: a request is never sent on a dead
  socket, where a POST would look lost and could not be repeated.

Errors say whether anything can have reached the server (:class:`ConnectFailedError`: no, the
connection was never established) or not known (:class:`ExchangeFailedError`); the client's
retry rules depend on it (pycontainer.client.keyserver).

Spec anchors: spec/protocol.md §transport.
"""

# No `from __future__ import annotations` here: it makes a NamedTuple's field types strings,
# which typing compiles, and the process's first compile() costs ~10 M instructions of a
# small `rwc cat` (issue 15, bench/profiles/startup.md; tests/cli/test_lazy_imports.py).

import base64
import http.client
import select
import socket
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from pycontainer.client.transport import answer_too_large, unusable_bundle

if TYPE_CHECKING:
    import ssl

    from pycontainer.client.tls import PendingContext
    from pycontainer.format.url import ServerUrl


# What failed, in the words the errors carry (``why``); `rwc` says each in the reader's
# language (pycontainer/cli/texts.py ``why_*``, pycontainer/cli/refusals.py).
TIMED_OUT = "timed out"
CONNECTION_FAILED = "connection failed"
CONNECTION_LOST = "connection lost"
CERT_NAME_MISMATCH = "the server's certificate does not match its name"
CERT_UNTRUSTED = "the server's certificate is not trusted"
TLS_HANDSHAKE_FAILED = "TLS handshake error"


class ConnectFailedError(Exception):
    """The connection (TCP, proxy tunnel or TLS) could not be established: nothing was sent.

    Attributes:
        why: What failed, in words ("timed out", "connection failed").
        tls: The TLS handshake failed (not transient: not worth a retry).
    """

    def __init__(self, why: str, *, tls: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.tls = tls


class ExchangeFailedError(Exception):
    """The request may have reached the server, but no complete answer came back.

    Attributes:
        why: "timed out" or "connection lost".
    """

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Answer(NamedTuple):
    """A complete answer: status, media type header, body (at most the limit), language.

    A NamedTuple for its creation cost at import (pycontainer.client.wire, issue 15).
    """

    status: int
    content_type: str
    body: bytes
    # Content-Language: which language a problem's detail is in (spec §problems), "" if none.
    content_language: str = ""


class _Proxy(NamedTuple):
    host: str
    port: int
    headers: dict[str, str]


def proxy_for(host: str) -> _Proxy | None:
    """The environment's proxy for an https request to ``host``, or None (NO_PROXY, none set).

    The same variables requests read: ``https_proxy``/``HTTPS_PROXY``, else ``all_proxy``,
    and ``no_proxy``. Only ``http://`` proxies (CONNECT); credentials in the proxy URL are
    sent to the proxy only (Proxy-Authorization), never to the key server.

    Raises:
        ConnectFailedError: The proxy setting is not an http:// URL this client can use.
    """
    import urllib.request  # noqa: PLC0415 - only for a remote server (loaded with its TLS)

    proxies = urllib.request.getproxies()
    url = proxies.get("https") or proxies.get("all")
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectFailedError(f"the proxy {parts.scheme}://{parts.hostname} is not supported")
    headers = {}
    if parts.username is not None:
        cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(cred).decode("ascii")
    return _Proxy(parts.hostname, parts.port or 80, headers)


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    if "mismatch" in text or "doesn't match" in text or "not valid for" in text:
        return CERT_NAME_MISMATCH
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return CERT_UNTRUSTED
    return TLS_HANDSHAKE_FAILED


class Connection:
    """A keep-alive connection to one key server; reconnects when needed. Not thread-safe."""

    def __init__(
        self,
        url: "ServerUrl",
        *,
        trust_store: str | None,
        pending: "PendingContext | None" = None,
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int,
    ) -> None:
        """Prepare the connection (nothing is opened before the first request).

        Args:
            url: The key server's parsed base URL (already checked by the URL policy).
            trust_store: The PEM file TLS trusts (transport.trust_store); None only for a
                plain http:// URL, which never reaches TLS.
            pending: The TLS context already being built (pycontainer.client.tls.start);
                used only if it was started for ``trust_store``, else built on first use.
            connect_timeout: Seconds for TCP, the proxy tunnel and the TLS handshake.
            read_timeout: Seconds for each read of the answer.
            max_response_bytes: Largest answer body accepted.
        """
        self._url = url
        self._trust_store = trust_store
        self._pending = pending
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._limit = max_response_bytes
        self._conn: http.client.HTTPConnection | None = None
        self._context: ssl.SSLContext | None = None

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _tls(self) -> "ssl.SSLContext":
        if self._context is None:
            store = self._trust_store
            if store is None:  # a caller's bug, never a reason to trust anyone
                raise ConnectFailedError("no trust store for a TLS connection", tls=True)
            pending, self._pending = self._pending, None
            # Security: a context started for another file is never used (the user's
            # --ca-bundle decides whom the token goes to); its thread's work is dropped.
            # Either way the context is tls.build_context's: verification on, host names
            # checked, the named store only. An error of the thread's build is raised here,
            # where building it here would have raised it (the handshake's error path).
            try:
                if pending is not None and pending.trust_store == store:
                    self._context = pending.get()
                else:
                    # Imported for https only: a loopback http:// run never loads the module.
                    from pycontainer.client.tls import build_context  # noqa: PLC0415

                    self._context = build_context(store)
            except OSError as exc:  # ssl.SSLError too
                # The trust store, not the network: a local error, said at once and never
                # retried as a connection's (transport.trust_store checked what it could).
                raise unusable_bundle(store, exc) from None
        return self._context

    def _open(self) -> http.client.HTTPConnection:
        u = self._url
        timeout = self._connect_timeout
        conn: http.client.HTTPConnection
        try:
            if u.scheme == "https":
                port = u.port or 443
                proxy = None if u.loopback else proxy_for(u.host)
                if proxy is None:
                    conn = http.client.HTTPSConnection(
                        u.host, port, timeout=timeout, context=self._tls()
                    )
                else:
                    conn = http.client.HTTPSConnection(
                        proxy.host, proxy.port, timeout=timeout, context=self._tls()
                    )
                    conn.set_tunnel(u.host, port, headers=proxy.headers)
            else:  # plain http: loopback only (the URL policy), so never through a proxy
                conn = http.client.HTTPConnection(u.host, u.port or 80, timeout=timeout)
            conn.connect()
        except ConnectFailedError:
            raise
        except TimeoutError:
            raise ConnectFailedError(TIMED_OUT) from None
        except OSError as exc:
            if _is_tls_error(exc):
                raise ConnectFailedError(_tls_reason(exc), tls=True) from None
            raise ConnectFailedError(CONNECTION_FAILED) from None
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        return conn

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and (conn.sock is None or not _idle_and_open(conn.sock)):
            self.close()  # closed by the server while idle, or by the last answer
            conn = None
        if conn is None:
            conn = self._conn = self._open()
        return conn

    def exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> Answer:
        """Send one request and read its whole answer (at most the limit).

        Args:
            method: GET or POST.
            path: The path below the base URL, starting with "/".
            body: The request body (JSON bytes) or None.
            headers: Request headers (Host, Content-Length are added).

        Raises:
            ConnectFailedError: Nothing was sent.
            ExchangeFailedError: The request may have reached the server; no complete answer.
            KeyServerProtocolError: The answer is larger than the limit.
        """
        conn = self._connection()
        try:
            conn.request(method, self._url.path + path, body=body, headers=headers)
            resp = conn.getresponse()
            answer = Answer(
                resp.status,
                resp.getheader("Content-Type") or "",
                self._read(resp),
                resp.getheader("Content-Language") or "",
            )
            if not resp.isclosed():
                self.close()  # the answer was not consumed to its end: not reusable
        except TimeoutError:
            self.close()
            raise ExchangeFailedError(TIMED_OUT) from None
        except (http.client.HTTPException, OSError):
            self.close()
            raise ExchangeFailedError(CONNECTION_LOST) from None
        except BaseException:
            self.close()
            raise
        return answer

    def _read(self, resp: http.client.HTTPResponse) -> bytes:
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._limit:
            raise answer_too_large()
        data = resp.read(self._limit + 1)
        if len(data) > self._limit:
            raise answer_too_large()
        return data


def _is_tls_error(exc: OSError) -> bool:
    import ssl  # noqa: PLC0415 - loaded already whenever a TLS error is possible

    return isinstance(exc, (ssl.SSLError, ssl.CertificateError))


def _idle_and_open(sock: socket.socket) -> bool:
    """True if a kept-alive socket is still open: nothing to read (EOF would be readable)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
