"""ASGI middleware: ``Cache-Control: no-store`` on every ``/v1`` response.

spec §operations: evaluations, challenges, tokens and refusals must never be stored by a
proxy or a browser cache (a cached evaluation would be a key release without an audit
record; a cached token is a credential at rest). The header is added to every response
under ``/v1`` — success or problem, including those of outer middleware such as the body
guard — so no route can forget it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1"
NO_STORE = (b"cache-control", b"no-store")


class NoStore:
    """Add ``Cache-Control: no-store`` (replacing any other value) under ``/v1``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; rewrite the response start of ``/v1`` paths."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != NO_STORE[0]
                ]
                headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
