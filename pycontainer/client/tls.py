"""The TLS context of a key-server connection, built off the reader's critical path.

Building an ``ssl.SSLContext`` loads the whole trust store into OpenSSL: with certifi's
store (~120 CAs) ~212 M instructions, ~23 ms of CPU, on every https `rwc cat` before its
first request could leave (issue 15, bench/profiles/startup.md). OpenSSL parses the store
with the GIL released, so :func:`start` has a thread build it from the moment a caller
knows that an https server will be contacted and which store to trust, while the main
thread goes on importing and reading the header; :meth:`PendingContext.get` joins it when
the first connection needs the context. A plain ``http://`` (loopback) server has no TLS:
no thread.

The context is the one :func:`build_context` builds (also without a thread, for a caller
that did not start one), so the security properties are the same either way:

* ``ssl.create_default_context(cafile=store)``: certificates verified (CERT_REQUIRED) and
  host names checked (``check_hostname``), which the caller never switches off;
* trusted is the named file only: with ``cafile`` given, ``create_default_context`` loads
  it and not OpenSSL's default paths, so neither ``SSL_CERT_FILE`` nor requests'
  ``REQUESTS_CA_BUNDLE`` from the environment can add a CA (pycontainer.client.transport);
* the file is the one :func:`pycontainer.client.transport.trust_store` named (the user's
  ``--ca-bundle``, else certifi's), checked to exist before the thread starts; the client
  uses a pending context only if it was started for exactly that file (connection.py);
* an error of the build (a certificate OpenSSL cannot load; a file that is missing,
  unreadable or not PEM at all is refused by ``trust_store`` before any thread) is kept
  and raised at the join, in the thread that makes the request, where building the
  context raised it before: the same error (the trust store's, never a connection's:
  pycontainer.client.connection), message, hint and exit code.

Spec anchors: spec/protocol.md §transport.
"""

import threading
from typing import TYPE_CHECKING

from pycontainer.client.transport import trust_store
from pycontainer.errors import ContainerError
from pycontainer.format.url import UrlError, parse_server_url

if TYPE_CHECKING:
    import ssl


def build_context(trust_store: str) -> "ssl.SSLContext":
    """The TLS context for a key server: verification on, host names checked, ``trust_store``.

    Raises:
        ssl.SSLError: The file holds no usable certificate (the caller maps it).
        OSError: The file cannot be read.
    """
    import ssl  # noqa: PLC0415 - an http:// (loopback) run never loads it for TLS

    # Verification on, host names checked, the named store only (module docstring).
    return ssl.create_default_context(cafile=trust_store)


class PendingContext:
    """The TLS context for one trust store, being built in a daemon thread.

    A daemon thread: a run that ends before its first request (a refused header, no
    token) must not wait for a context nobody will use.
    """

    def __init__(self, trust_store: str) -> None:
        """Start building the context for ``trust_store`` (a PEM file's path)."""
        self.trust_store = trust_store
        self._context: ssl.SSLContext | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, name="rwc-tls-context", daemon=True)
        self._thread.start()

    def _build(self) -> None:
        try:
            self._context = build_context(self.trust_store)
        except BaseException as exc:  # noqa: BLE001 - raised again by get(), in the caller
            self._error = exc

    def get(self) -> "ssl.SSLContext":
        """Wait for the context and return it.

        Raises:
            ssl.SSLError: As :func:`build_context`, raised again here.
            OSError: As :func:`build_context`, raised again here.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._context is not None
        return self._context


def start(url: str, ca_bundle: str | None) -> PendingContext | None:
    """Start building the context for an https ``url`` trusting ``ca_bundle`` (or certifi).

    Best effort, for a caller that learned the URL before it builds the client: None for
    an ``http://`` (loopback) URL, and None where the client would refuse the URL or the
    bundle (a malformed URL, a bundle that is not a file). The client refuses them itself,
    with its own message and in its own order, when it is built; nothing is raised here.

    Args:
        url: The key server's URL, as the client will be given it.
        ca_bundle: The PEM file the user named (--ca-bundle, RWC_CA_BUNDLE), or None.
    """
    try:
        if parse_server_url(url).scheme != "https":
            return None
    except UrlError:
        return None
    try:
        store = trust_store(ca_bundle, option="--ca-bundle")
    except ContainerError:
        return None
    # ssl is imported here, by the caller's thread: an import in the new thread would run
    # beside the caller's own imports (the reader's and the client's), the import lock
    # between them; and the thread would hold the GIL for it, which those imports need.
    import ssl  # noqa: F401, PLC0415

    return PendingContext(store)
