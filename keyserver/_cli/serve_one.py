"""``keyserver serve`` with one worker: uvicorn on a socket bound here, as the supervisor's is.

uvicorn binding the port itself meant two answers to one mistake: a port already in use
was uvicorn's logged ``[Errno 98] error while attempting to bind`` and exit 3 with one
worker, the supervisor's ``cannot listen on HOST:PORT: Address already in use`` and exit 1
with several (keyserver/_cli/workers.py). Binding with the supervisor's :func:`listen`
(no ``SO_REUSEPORT``: nobody joins the port) gives one refusal, one message and one exit
code whatever the number of workers (spec/protocol.md §cli: a port already in use, exit 1).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn

from keyserver._cli import workers as workers_module

# uvicorn.run's exit status when the app did not start (uvicorn.main.STARTUP_FAILURE, which
# it does not export): kept, so a failed start-up exits as it always has.
STARTUP_FAILURE = 3


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once started (as it does on its own port)."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # uvicorn logs "running on" only where it bound the socket itself; operators and
        # their log searches look for this line (with --port 0 it names the port chosen).
        if self.started:
            logging.getLogger("uvicorn.error").info(
                "Uvicorn running on %s (Press CTRL+C to quit)", self._url
            )


def bind(host: str, port: int, options: dict[str, Any]) -> tuple[int, socket.socket]:
    """The listening socket of ``host:port`` (port 0: a free one) and the port it has.

    Raises:
        workers.PortInUseError: The port is taken.
        workers.ListenError: The host does not resolve.
    """
    return workers_module.listen(host, port, int(options.get("backlog", 2048)))


def run(app: Any, sock: socket.socket, url: str, options: dict[str, Any]) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGTERM or SIGINT, then close it.

    ``options`` are uvicorn.Config's (log level, TLS files, log config ...). A start-up
    that fails (the app's lifespan) exits 3, as uvicorn.run exits.
    """
    server = _Server(uvicorn.Config(app, **options), url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn.run's own handling of a Ctrl-C during start-up
        pass
    finally:
        sock.close()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
