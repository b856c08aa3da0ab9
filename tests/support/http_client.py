"""httpx clients for tests, all sharing one TLS context per test process.

Building an ``httpx.Client`` builds its TLS context, which loads the CA bundle: 29 ms of CPU,
more than most requests of a test cost, paid for every client (a ``World`` makes one per
principal per test) and every ``httpx.get``. The context is the one httpx builds by default
(the same trust store and verification), built once: sharing it changes no check, and the
tests' key servers speak plain HTTP on loopback anyway (TLS tests bring their own context).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once."""
    return httpx.create_ssl_context()


def client(**kwargs: Any) -> httpx.Client:
    """``httpx.Client(**kwargs)`` over the shared TLS context."""
    return httpx.Client(verify=tls_context(), **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get(url, **kwargs)`` over the shared TLS context."""
    with client() as c:
        return c.get(url, **kwargs)
