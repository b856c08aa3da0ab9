"""The smallest ASGI app, for tests of the `serve --workers` supervisor on its own.

keyserver/_cli/workers.py runs any app factory; a test that is about the supervisor (how it
starts its workers) need not pay for the key server's imports in each worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An app that answers every HTTP request ``200 ok`` (the factory uvicorn calls)."""

    async def asgi(scope: Scope, _receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return asgi
