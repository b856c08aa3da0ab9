"""Build at start-up what FastAPI would otherwise build on a server's first requests.

FastAPI (0.165) builds an included router's routes (their dependency trees and the
pydantic TypeAdapters of their parameters) when a request's path is first matched
against that router, and Starlette imports anyio's thread-pool backend on the first call
of a plain ``def`` endpoint: together ~40,000 Python calls and ~0.1 s of CPU, paid by
whichever request comes first in each worker (an official's page, a reader's release
queued behind it). bench/README.md, "The first request" has the measurement.

Both are done here through the app itself, in process, while the lifespan starts: uvicorn
binds and accepts only after the lifespan's start-up, so no client waits for it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Scope

# A path no route serves: matching it walks every router, so every route gets built
# (and the 404 problem is rendered once). Not counted anywhere: 404s are not in metrics.
UNROUTED_PATH = "/.rwc-warm-up"
# A plain `def` endpoint without a database: its call starts anyio's thread pool.
THREADPOOL_PATH = "/healthz"


async def warm_up(app: ASGIApp) -> list[int]:
    """Send the two GET requests through the whole app; return their statuses."""
    return [await _get(app, path) for path in (UNROUTED_PATH, THREADPOOL_PATH)]


async def _get(app: ASGIApp, path: str) -> int:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status
