"""One keep-alive HTTP/1.1 connection to a key server, over ``socket`` (and ``ssl``).

An `rwc` run makes two to four small requests (evaluate and receipt; access before a
password prompt; register and commit when sealing). ``requests`` with urllib3,
charset_normalizer and idna costs more to import than the whole start-up budget of a small
``rwc cat`` (issue 15, bench/README.md), and ``http.client`` imports ``ssl`` and the
``email`` package whatever the scheme (~35 M instructions of the ~250 M a small cat's
start-up takes: bench/profiles/startup.md, session 13). So the socket is ours (this
module: TCP, the proxy tunnel, TLS, reuse) and HTTP/1.1 on it is
pycontainer.client.http11's (strict requests; answers parsed by httptools' llhttp, never by
code of ours); a loopback ``http://`` run imports no ``ssl`` at all. The rules are
pycontainer.client.transport's, as for ``keyserver --server``:

* TLS is verified against the named trust store (:func:`transport.trust_store`), host
  name included; there is no way to switch it off.
* Redirects are never followed (nothing here follows one; the caller refuses 3xx).
* A connect timeout (TCP, proxy tunnel and TLS handshake) and a read timeout (each read
  of the answer); an answer larger than the limit is refused without reading it all
  (http11: its head and its body).
* Proxies from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), which
  requests honoured too: a city network may reach the key server only through one. A
  CONNECT tunnel through an ``http://`` proxy, so the TLS session is end to end with the
  key server. Never for a loopback server (a proxy would connect to *its own* loopback and
  a plain ``http://`` request would hand it the token).
* A connection the server closed while idle (keep-alive timeout, e.g. while the reader
  typed the password) is noticed before it is reused: a request is never sent on a dead
  socket, where a POST would look lost and could not be repeated. A connection is reused
  only after a complete answer that allowed it (http11: keep-alive, nothing after it).

Errors say whether anything can have reached the server (:class:`ConnectFailedError`: no, the
connection was never established) or not known (:class:`ExchangeFailedError`); the client's
retry rules depend on it (pycontainer.client.keyserver).

Spec anchors: spec/protocol.md §transport.
"""

import contextlib
import select
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pycontainer._record import Record
from pycontainer.client.http11 import BrokenAnswerError, format_request, host_header, read_answer
from pycontainer.client.transport import unusable_bundle
from pycontainer.errors import KeyServerProtocolError

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
CERT_EXPIRED = "the server's certificate has expired"
CERT_NOT_YET_VALID = "the server's certificate is not valid yet"
CERT_SELF_SIGNED = "the server's certificate is self-signed"
CERT_REFUSED = "the server's certificate failed verification"
TLS_HANDSHAKE_FAILED = "TLS handshake error"
# The proxy answered CONNECT with a refusal (RFC 9110 §15.5.8: 407 asks for credentials).
PROXY_AUTH_REQUIRED = "the proxy asks for a user name and password"
PROXY_AUTH_REFUSED = "the proxy refused its user name and password"
PROXY_REFUSED = "the proxy refused the connection to the key server"

# What to do about each TLS failure (the library's English hint; `rwc` says the same in the
# reader's language: pycontainer/cli/texts.py ``refusal_tls_hint_*``, the English identical,
# tests/cli/test_texts.py). The advice differs: a name mismatch is a wrong address, not a
# missing CA; an expired certificate is often this computer's clock.
_STAFF = "the city's information security staff"
TLS_HINTS = {
    CERT_NAME_MISMATCH: "check the server address (--server URL or RWC_SERVER): use the host "
    f"name the city gave you, not an IP address or another name; if it is right, tell {_STAFF}",
    CERT_UNTRUSTED: "if your city runs its own certificate authority, pass its certificate "
    "with --ca-bundle FILE (or RWC_CA_BUNDLE)",
    CERT_EXPIRED: "check this computer's date and time; if they are right, the key server's "
    f"certificate must be renewed: tell {_STAFF}",
    CERT_NOT_YET_VALID: "check this computer's date and time (it may be behind); if they are "
    f"right, tell {_STAFF}",
    CERT_SELF_SIGNED: "do not trust this certificate on your own: it was not issued by a "
    f"certificate authority, and may not be the key server's; tell {_STAFF}",
    CERT_REFUSED: f"do not retry; tell {_STAFF}",
    TLS_HANDSHAKE_FAILED: "check the server URL and its port (--server URL or RWC_SERVER): "
    "the server there may not speak TLS",
}
# Likewise for a proxy's refusal (pycontainer/cli/texts.py ``refusal_unreachable_hint_*``).
PROXY_HINTS = {
    PROXY_AUTH_REQUIRED: "set the proxy's user name and password in HTTPS_PROXY "
    "(http://USER:PASSWORD@PROXY:PORT), or ask your IT staff",
    PROXY_AUTH_REFUSED: "check the proxy's user name and password in HTTPS_PROXY (a password "
    "may have changed), or ask your IT staff",
    PROXY_REFUSED: "ask your IT staff to let this computer reach the key server through the proxy",
}

# OpenSSL's certificate verification results (X509_V_ERR_*, openssl/x509_vfy.h), read from
# ssl.SSLCertVerificationError.verify_code: stable numbers, never OpenSSL's words.
_VERIFY_CODES = {
    2: CERT_UNTRUSTED,  # UNABLE_TO_GET_ISSUER_CERT
    9: CERT_NOT_YET_VALID,  # CERT_NOT_YET_VALID
    10: CERT_EXPIRED,  # CERT_HAS_EXPIRED
    18: CERT_SELF_SIGNED,  # DEPTH_ZERO_SELF_SIGNED_CERT (the server's own, no CA)
    19: CERT_SELF_SIGNED,  # SELF_SIGNED_CERT_IN_CHAIN (a root nobody here trusts, sent along)
    20: CERT_UNTRUSTED,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY (the CA is not in the store)
    21: CERT_UNTRUSTED,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    27: CERT_UNTRUSTED,  # CERT_UNTRUSTED
    62: CERT_NAME_MISMATCH,  # HOSTNAME_MISMATCH
    63: CERT_NAME_MISMATCH,  # EMAIL_MISMATCH
    64: CERT_NAME_MISMATCH,  # IP_ADDRESS_MISMATCH
}


class ConnectFailedError(Exception):
    """The connection (TCP, proxy tunnel or TLS) could not be established: nothing was sent.

    Attributes:
        why: What failed, in words ("timed out", "connection failed").
        tls: The TLS handshake failed (not transient: not worth a retry).
        transient: Worth a retry: not a TLS failure, nor a proxy's refusal (it answers the
            same until someone changes a setting).
    """

    def __init__(self, why: str, *, tls: bool = False, transient: bool = True) -> None:
        super().__init__(why)
        self.why = why
        self.tls = tls
        self.transient = transient and not tls


class ExchangeFailedError(Exception):
    """The request may have reached the server, but no complete answer came back.

    Attributes:
        why: "timed out" or "connection lost".
    """

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Answer(Record):
    """A complete answer: status, media type header, body (at most the limit), language.

    A record for its creation cost at import (pycontainer/_record.py, issue 15).
    """

    status: int
    content_type: str
    body: bytes
    # Content-Language: which language a problem's detail is in (spec §problems), "" if none.
    content_language: str = ""


class _Proxy(Record):
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
    # Only for a remote server (loaded with its TLS); urllib.request imports urllib.parse
    # and base64 anyway, which a loopback or test server's run need not (issue 15).
    import base64  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415
    from urllib.parse import unquote, urlsplit  # noqa: PLC0415

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


def tls_reason(exc: BaseException) -> str:
    """Why a TLS handshake failed, as one of the sentences above, never OpenSSL's text.

    One classification for both commands (keyserver/_cli/remote.py says them in the
    official's language): OpenSSL's own words ("[SSL] ... (_ssl.c:1006)") name no file and
    no setting, so nobody under stress can act on them. A certificate's failure by its
    ``verify_code``, found in ``exc`` or what it wraps (requests and urllib3 wrap the ssl
    error: ``keyserver --server``); any other TLS error is the handshake's.
    """
    found = _verification_error(exc)
    if found is None:
        return TLS_HANDSHAKE_FAILED
    return _VERIFY_CODES.get(found.verify_code, CERT_REFUSED)


def _verification_error(exc: BaseException) -> "ssl.SSLCertVerificationError | None":
    """The ssl.SSLCertVerificationError in ``exc``'s chain (causes, contexts, arguments)."""
    import ssl  # noqa: PLC0415 - loaded already whenever a TLS error is possible

    todo: list[object] = [exc]
    seen: set[int] = set()
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return item
        # urllib3's MaxRetryError keeps it in ``reason``; requests' SSLError in its args.
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return None


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
        self._host = host_header(url.host, url.port, 443 if url.scheme == "https" else 80)
        self._sock: socket.socket | None = None
        self._context: ssl.SSLContext | None = None
        self._unread = False  # a request was sent whose answer is not read yet (send)

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._unread = False

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

    def _open(self) -> socket.socket:
        u = self._url
        timeout = self._connect_timeout
        try:
            if u.scheme == "https":
                port = u.port or 443
                proxy = None if u.loopback else proxy_for(u.host)
                # The context before any connection: an unusable trust store is the user's
                # setting, said as such (transport.unusable_bundle), never a network error.
                context = self._tls()
                if proxy is None:
                    sock = _connect(u.host, port, timeout)
                else:
                    sock = _connect(proxy.host, proxy.port, timeout)
                    _tunnel(sock, host_header(u.host, port, -1), proxy.headers, self._limit)
                # Security: the handshake verifies the chain against the trust store and the
                # certificate against the server's name (the context's check_hostname: tls.py);
                # through a proxy too, end to end. wrap_socket closes the socket if it fails.
                # The name as ASCII bytes, which ssl takes as they are (a str goes through
                # the idna codec, as in _connect; the URL policy allows ASCII names only).
                name = u.host.encode("ascii")
                sock = context.wrap_socket(sock, server_hostname=name)
            else:  # plain http: loopback only (the URL policy), so never through a proxy
                sock = _connect(u.host, u.port or 80, timeout)
        except ConnectFailedError:
            raise
        except TimeoutError:
            raise ConnectFailedError(TIMED_OUT) from None
        except OSError as exc:
            if u.scheme == "https" and _is_tls_error(exc):
                raise ConnectFailedError(tls_reason(exc), tls=True) from None
            raise ConnectFailedError(CONNECTION_FAILED) from None
        sock.settimeout(self._read_timeout)
        return sock

    def _connection(self) -> socket.socket:
        sock = self._sock
        if sock is not None and not _idle_and_open(sock):
            self.close()  # closed by the server while idle
            sock = None
        if sock is None:
            sock = self._sock = self._open()
        return sock

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
            ValueError: A header or the path holds a character it cannot have (a caller's
                bug: nothing was sent).
        """
        self.send(method, path, body, headers)
        return self.answer()

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
        """Send one request now; :meth:`answer` reads its answer (exchange's two halves).

        Between the two the caller may do other work (the reader's receipt: spec/format.md
        §Reading step 3 sends it before the checks that follow; nothing waits for its
        answer meanwhile), but sends nothing else on this connection: HTTP/1.1 answers
        come in the order of the requests, and this connection reads one at a time.

        Raises:
            ConnectFailedError, ExchangeFailedError, ValueError: As :meth:`exchange`.
            RuntimeError: The answer to the previous request was not read (a caller's bug).
        """
        if self._unread:
            raise RuntimeError("the answer to the previous request was not read")
        # Formatted (and checked) before any connection is opened or used.
        request = format_request(method, self._url.path + path, self._host, headers, body)
        sock = self._connection()
        with self._failing():
            sock.sendall(request)
        self._unread = True

    def answer(self) -> Answer:
        """Read the whole answer to the request :meth:`send` sent (at most the limit).

        Raises:
            ExchangeFailedError: No complete answer.
            KeyServerProtocolError: The answer is larger than the limit.
            RuntimeError: No request waits for its answer (a caller's bug).
        """
        sock = self._sock
        if not self._unread or sock is None:
            raise RuntimeError("no request waits for its answer")
        self._unread = False
        with self._failing():
            reply = read_answer(sock, self._limit)
        if not reply.reusable:
            self.close()  # the server closes it, or sent something after the answer
        return Answer(
            reply.status, reply.header("content-type"), reply.body, reply.header("content-language")
        )

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """Close the connection if a send or read fails; say how (``ExchangeFailedError``)."""
        try:
            yield
        except TimeoutError:
            self.close()
            raise ExchangeFailedError(TIMED_OUT) from None
        except (BrokenAnswerError, OSError):
            self.close()
            raise ExchangeFailedError(CONNECTION_LOST) from None
        except BaseException:  # KeyServerProtocolError (too large), Ctrl-C: as they are
            self.close()
            raise


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host``:``port`` within ``timeout`` seconds (each address tried).

    The host goes to getaddrinfo as bytes: the URL policy allows ASCII host names only
    (pycontainer.format.url), and a str would load the idna codec (~5 M instructions of a
    small `rwc cat`, bench/profiles/startup.md) only to encode ASCII as itself. (A proxy's
    name from the environment may not be ASCII: that one goes as a str.)
    """
    # create_connection hands the host to getaddrinfo, which takes bytes as well as str
    # (typeshed types only str here).
    address = (host.encode("ascii") if host.isascii() else host, port)
    sock = socket.create_connection(address, timeout=timeout)  # type: ignore[arg-type]
    # One write per request; no Nagle delay before the answer (as http.client sets it).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _tunnel(sock: socket.socket, target: str, headers: dict[str, str], limit: int) -> None:
    """Ask the proxy on ``sock`` for a tunnel to ``target`` (RFC 9110 §9.3.6: CONNECT).

    Only the head of the proxy's answer is read: the TLS handshake with the key server
    follows on the same socket, and a 2xx answer to CONNECT has no body (whatever its
    headers say). Bytes after the head cannot be the key server's (the client speaks first
    in TLS): refused.

    Raises:
        ConnectFailedError: The proxy refused or answered something else (nothing was sent
            to the key server); the socket is closed.
    """
    try:
        sock.sendall(format_request("CONNECT", target, target, headers, None))
        reply = read_answer(sock, limit, head_only=True)
    except (BrokenAnswerError, KeyServerProtocolError):  # not HTTP, or a head over the limit
        sock.close()
        raise ConnectFailedError(CONNECTION_FAILED) from None
    except BaseException:
        sock.close()
        raise
    if 200 <= reply.status < 300 and not reply.trailing:
        return
    sock.close()
    if reply.status == 407:  # Proxy Authentication Required
        # Which of the two: whether credentials were sent (from the proxy URL), never what
        # they were.
        sent = "Proxy-Authorization" in headers
        raise ConnectFailedError(
            PROXY_AUTH_REFUSED if sent else PROXY_AUTH_REQUIRED, transient=False
        )
    if 400 <= reply.status < 500:  # the proxy's policy (403 ...): it will not change by itself
        raise ConnectFailedError(PROXY_REFUSED, transient=False)
    raise ConnectFailedError(CONNECTION_FAILED)  # 5xx (upstream unreachable), or not a tunnel


def _is_tls_error(exc: OSError) -> bool:
    import ssl  # noqa: PLC0415 - loaded already whenever a TLS error is possible

    return isinstance(exc, (ssl.SSLError, ssl.CertificateError))


def _idle_and_open(sock: socket.socket) -> bool:
    """True if a kept-alive socket is still open: nothing to read (EOF would be readable)."""
    # TLS: bytes OpenSSL has already decrypted are not seen by select.
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
