"""The HTTP rules both commands follow when they talk to a key server.

`rwc` (pycontainer.client.keyserver, over pycontainer.client.connection: HTTP/1.1 over
``socket``, answers parsed by httptools, for its start-up time) and `keyserver --server URL`
(keyserver/_cli/remote.py, over requests) send bearer tokens to a key server; one module
decides, for both, how:

* which URLs may receive a token: pycontainer.client.server_url (https, or http to a
  loopback address only);
* whom TLS trusts (:func:`trust_store`): the file the user named (``--ca-bundle``,
  ``RWC_CA_BUNDLE`` / ``KEYSERVER_CA_BUNDLE``), else the certifi store requests ships with.
  Never ``verify=True``: requests would then let REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE from
  the environment decide whom a token is sent to, and an inherited variable is not a
  decision the user made. There is deliberately no way to switch verification off;
* no redirects (the token goes to the named server only), a timeout on every call, and
  answers read under a size limit (:func:`open_response`, :func:`read_limited`,
  :func:`iter_lines_limited`; pycontainer.client.connection for rwc): a hostile server
  must not be able to exhaust the client's memory;
* the bearer token is checked to be header material before it is sent (:class:`BearerAuth`);
* what the server says is shown only after :func:`pycontainer.client.problems.clean_text`
  (no terminal escape sequences from a compromised server);
* problem documents are recognised by :data:`PROBLEM_PREFIX` (spec/protocol.md §errors).

Spec anchors: spec/protocol.md §transport, §auth, §errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pycontainer.errors import ContainerError, KeyServerProtocolError

if TYPE_CHECKING:
    import requests

# requests is imported by its one user here, keyserver/_cli/remote.py (which passes its
# session in): `rwc` talks through pycontainer.client.connection and must not load it.

# spec §errors: every refusal is an RFC 9457 document whose type is this prefix + a slug.
PROBLEM_PREFIX = "urn:rwc:problem:"
MAX_RESPONSE_BYTES = 1 << 20  # a key-server answer is a few hundred bytes; 1 MiB is plenty
MAX_LINE_BYTES = 1 << 20  # one line of a streamed answer (an audit entry)
_CHUNK = 65536


class CaBundleError(ContainerError):
    """The CA bundle named by the user cannot be used: missing, unreadable, or not PEM."""


# A PEM certificate begins with this line (RFC 7468 §2, "CERTIFICATE" label §5.1).
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
# The largest CA bundle read for that check; certifi's ~150 CAs are ~0.3 MB.
MAX_CA_BUNDLE_BYTES = 16 << 20


def answer_too_large() -> KeyServerProtocolError:
    """The error for an answer over the size limit (the same words from every reader)."""
    return KeyServerProtocolError("the key server's answer is too large")


def trust_store(ca_bundle: str | None, *, option: str) -> str:
    """Return the file TLS verification trusts: ``ca_bundle``, else the certifi store.

    Args:
        ca_bundle: The PEM file the user named, or None.
        option: How the user names it (for the hint), e.g. ``--ca-bundle (or RWC_CA_BUNDLE)``.

    Raises:
        CaBundleError: ``ca_bundle`` is a directory, missing, unreadable, or holds no PEM
            certificate (the message names the file, the hint what to do).
    """
    if not ca_bundle:
        # Security: a named file, never True (see the module docstring: REQUESTS_CA_BUNDLE).
        # certifi's store, the one requests ships with (requests.utils.DEFAULT_CA_BUNDLE_PATH
        # is certifi.where()), read without importing requests.
        return _certifi_store()
    return _checked_bundle(ca_bundle, option)


def _checked_bundle(path: str, option: str) -> str:
    """``path`` if it is a readable file holding a PEM certificate, else a CaBundleError.

    Why here, before any connection: a trust store TLS cannot load is the user's setting,
    not the network's. Found only when the context is built, an unreadable file was an
    OSError among the connection's ("connection failed", retried twice) and a file that
    is not PEM a "TLS handshake error"; both commands now say at once which file and what
    to do, and nothing is retried. Reading the file costs microseconds; loading it into
    OpenSSL (what catches a damaged certificate too) stays where it was, off the critical
    path (pycontainer.client.tls), and its error is this one (connection.py).
    """
    what = f"{option} must name a PEM file of CA certificates"
    if os.path.isdir(path):
        raise CaBundleError(f"the CA bundle {path} is a directory, not a file", hint=what)
    if not os.path.isfile(path):  # missing, or a device or pipe a read could wait on forever
        raise CaBundleError(f"CA bundle not found: {path}", hint=what)
    try:
        with open(path, "rb") as fh:
            head = fh.read(MAX_CA_BUNDLE_BYTES)
    except OSError as exc:
        raise CaBundleError(
            f"cannot read the CA bundle {path}: {exc.strerror or type(exc).__name__}",
            hint=f"make it readable by the user who runs this command, or name another "
            f"PEM file with {option}",
        ) from None
    if PEM_CERTIFICATE not in head:
        raise CaBundleError(
            f"the CA bundle {path} holds no PEM certificate ({PEM_CERTIFICATE.decode()})",
            hint=f"{what}; a DER file (.cer, .der) converts with "
            f"`openssl x509 -inform der -in FILE.cer -out FILE.pem`",
        )
    return path


def unusable_bundle(store: str, exc: OSError) -> CaBundleError:
    """The error for a trust store OpenSSL could not load (a damaged certificate, say).

    The same class as :func:`trust_store`'s refusals: a local error, never a connection's.
    """
    import ssl  # noqa: PLC0415 - loaded already: the caller was building a TLS context

    # A sentence, never OpenSSL's text ("[X509] PEM lib (_ssl.c:4154)" had no reason code):
    # trust_store() has found the file readable and PEM, so what is left is its content.
    what = (
        "a certificate in it is damaged or cut short"
        if isinstance(exc, ssl.SSLError)
        else f"it cannot be read ({exc.strerror or type(exc).__name__})"
    )
    return CaBundleError(
        f"the CA bundle {store} cannot be used for TLS: {what}",
        hint="name a PEM file of CA certificates with --ca-bundle FILE (or RWC_CA_BUNDLE);"
        " get it again from whoever issued it if it was copied in part",
    )


def _certifi_store() -> str:
    """The file ``certifi.where()`` names, found without importing certifi where possible.

    Performance: ``import certifi`` imports importlib.resources for ``where()``: ~31 M
    instructions (~7 ms) on the critical path of every https `rwc` run with the default
    store, against ~2 M for this (issue 15, bench/profiles/startup.md). ``find_spec``
    finds the package as ``import certifi`` would (same sys.path, same finders) without
    running it, and an installed certifi keeps its store as ``cacert.pem`` in its package
    directory, the file ``where()`` returns. Anything else (a zipped install, where
    ``where()`` extracts the file) takes ``where()`` itself.
    """
    import importlib.util  # noqa: PLC0415 - only when no bundle was named

    spec = importlib.util.find_spec("certifi")
    for directory in (spec.submodule_search_locations or []) if spec else []:
        store = os.path.join(directory, "cacert.pem")
        if os.path.isfile(store):
            return store
    import certifi  # noqa: PLC0415 - see above

    return str(certifi.where())


class BearerAuth:
    """The bearer token as a header; also a requests auth callable.

    Passing auth explicitly to requests also stops it consulting ~/.netrc.
    """

    def __init__(self, token: str) -> None:
        # A token is header material: refuse anything that could split or fold the header.
        if not token or not all(0x21 <= ord(c) <= 0x7E for c in token):
            raise ContainerError("the bearer token contains characters a token cannot have")
        self._token = token

    def header(self) -> str:
        """The value of the Authorization header."""
        return f"Bearer {self._token}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the Authorization header of ``r`` (requests calls this)."""
        r.headers["Authorization"] = self.header()
        return r

    def __repr__(self) -> str:  # never show the token, even in a debugger or traceback
        return "BearerAuth(<redacted>)"


def open_response(
    session: requests.Session,
    method: str,
    url: str,
    *,
    auth: BearerAuth,
    verify: str,
    timeout: tuple[float, float],
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> requests.Response:
    """Send one request under the rules above; the caller reads and closes the response.

    Raises:
        requests.exceptions.RequestException: The request failed (callers map it).
    """
    return session.request(
        method,
        url,
        json=body,
        params=params,
        auth=auth,
        timeout=timeout,
        # Per request, so neither the session nor the environment overrides it.
        verify=verify,
        # Redirects are not followed: the token must only ever go to the named server.
        allow_redirects=False,
        stream=True,
    )


def read_limited(resp: requests.Response, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """Read a whole answer, refusing one larger than ``limit`` bytes.

    Raises:
        KeyServerProtocolError: The answer is larger than the limit.
    """
    declared = resp.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise answer_too_large()
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_content(chunk_size=_CHUNK):
        total += len(chunk)
        if total > limit:
            raise answer_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def iter_lines_limited(resp: requests.Response, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Yield the non-empty lines of a streamed answer, refusing a line over ``limit`` bytes.

    A streamed answer (the audit export) may be long as a whole; each line must be bounded.

    Raises:
        KeyServerProtocolError: A line is longer than the limit.
    """
    pending = b""
    for chunk in resp.iter_content(chunk_size=_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if len(line) > limit:
                raise KeyServerProtocolError("the key server sent a line that is too long")
            if line.strip():
                yield line
        if len(pending) > limit:
            raise KeyServerProtocolError("the key server sent a line that is too long")
    if pending.strip():
        yield pending


def problem_slug(doc: object) -> str | None:
    """Return the slug of a problem document (spec §errors), or None if it is not one."""
    if not isinstance(doc, dict):
        return None
    ptype = doc.get("type")
    if isinstance(ptype, str) and ptype.startswith(PROBLEM_PREFIX):
        return ptype[len(PROBLEM_PREFIX) :]
    return None
