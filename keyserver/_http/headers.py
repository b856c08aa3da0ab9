"""ASGI middleware: fixed security headers on every response under a path prefix.

One implementation for both uses, so neither can drift:
- ``/v1``: ``Cache-Control: no-store`` (spec §operations: evaluations, challenges, tokens
  and refusals must never be stored by a proxy or a browser cache; a cached evaluation
  would be a key release without an audit record, a cached token a credential at rest).
- ``/console``: the console's CSP and framing headers (keyserver/_http/console/_security.py).

The headers are set on every response under the prefix, success or problem, including
those of outer middleware such as the body guard, so no route can forget them; a value a
route set for the same header is replaced, not kept beside ours.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]
NO_STORE: Header = (b"cache-control", b"no-store")


class PathHeaders:
    """Set ``headers`` (replacing any other value of those names) under ``prefix``."""

    def __init__(self, app: ASGIApp, *, prefix: str, headers: Sequence[Header]) -> None:
        self.app = app
        self.prefix = prefix
        self.headers = list(headers)
        self.names = {name for name, _ in headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; rewrite the response start of paths under the prefix."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                old = message.get("headers", [])
                kept = [(k, v) for k, v in old if k.lower() not in self.names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
