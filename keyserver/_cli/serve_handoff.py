"""``serve --workers N``: the supervisor accepts every connection and hands it to a worker.

Why not one ``SO_REUSEPORT`` socket per worker (what this replaced): the kernel then picks
a worker for each new connection by a hash of its addresses, which is as good as a coin
toss. 16 keep-alive connections (a load generator, a reverse proxy's pool) split 8/8 only
one time in five and 11/5 or worse one time in four (300 trials on this machine,
bench/profiles/keyserver.md, session 10); the worker with few connections then waits on
its clients while the other is saturated, for as long as the connections live. Nor
uvicorn's shared socket: whichever worker is awake accepts the whole burst.

So the supervisor, which has nothing else to do, owns the one listening socket, accepts,
and passes each connection (``SCM_RIGHTS``) to the workers in turn: N connections opened
together are spread evenly whatever their addresses. A worker serves a handed connection
exactly as one it accepted (uvicorn's own protocol, TLS in the worker). The cost is one
accept and one message per connection in the supervisor, nothing per request.

Failure: a worker whose queue is full or whose end is gone is skipped (the supervisor
stops the server when a worker dies); if no worker takes a connection it is closed, as a
full backlog would refuse it. The supervisor's death ends the workers (workers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

import uvicorn

log = logging.getLogger("keyserver")

#: The most connections accepted per wake-up of the supervisor's loop, so that a flood of
#: connections does not keep it from noticing a dead worker or a signal.
ACCEPT_BATCH = 64
#: How long the supervisor leaves the listening socket alone after accept() failed for
#: lack of a resource (descriptors, memory): the connection stays queued and the socket
#: stays readable, so retrying at once would spin on one CPU.
_PAUSE = 0.1
_MESSAGE = b"c"  # a message carries one connection; its byte only makes it non-empty


def channels(count: int) -> list[tuple[socket.socket, socket.socket]]:
    """One (supervisor end, worker end) pair per worker; the supervisor's never blocks.

    SOCK_SEQPACKET: each connection is its own message, so a descriptor is never split
    from its message or merged into another's.
    """
    pairs = []
    for _ in range(count):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)  # noqa: FBT003 - a stuck worker must not stall the supervisor
        pairs.append((ours, theirs))
    return pairs


class Dispatcher:
    """The supervisor's side: accept on ``listener``, hand out round-robin over ``ends``."""

    def __init__(self, listener: socket.socket, ends: list[socket.socket]) -> None:
        listener.setblocking(False)  # noqa: FBT003
        self.listener = listener
        self.ends = ends
        self._next = 0
        self._paused_until = 0.0

    def fileno(self) -> int:
        """For ``multiprocessing.connection.wait``: readable when a connection is queued."""
        return self.listener.fileno()

    def waitable(self) -> list[Dispatcher]:
        """[self], or [] while accepting is paused after a resource error."""
        return [] if time.monotonic() < self._paused_until else [self]

    def dispatch(self) -> None:
        """Accept what is queued (ACCEPT_BATCH at most) and hand each to the next worker."""
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # the client gave up while queued
                continue
            except OSError as exc:
                # EMFILE, ENFILE, ENOBUFS, ENOMEM: said once per pause, retried after it.
                log.warning("cannot accept a connection: %s", exc.strerror or exc)
                self._paused_until = time.monotonic() + _PAUSE
                return
            with conn:  # our copy: the worker holds its own once the message is queued
                self._hand_over(conn)

    def _hand_over(self, conn: socket.socket) -> None:
        for _ in range(len(self.ends)):
            end = self.ends[self._next]
            self._next = (self._next + 1) % len(self.ends)
            try:
                socket.send_fds(end, [_MESSAGE], [conn.fileno()])
            except OSError:
                # Queue full (a stuck worker), the worker gone, too many descriptors in
                # flight: the next worker. One connection's failure never stops the
                # supervisor; a dead worker is noticed by its sentinel and stops the server.
                continue
            return
        # No worker could take it: closed, as a full backlog refuses a connection.


class HandedServer(uvicorn.Server):
    """A worker's uvicorn server that serves the connections handed to it on ``channel``.

    It listens on nothing itself. Stopping (SIGTERM) first stops taking connections, then
    uvicorn's shutdown finishes the open ones: the graceful stop of a listening server.
    """

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self._channel = channel
        self._receiving = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Run uvicorn's start-up (the app's lifespan), then take handed connections."""
        del sockets  # nothing to listen on: the supervisor listens
        await super().startup(sockets=[])
        if self.should_exit:
            return
        self._channel.setblocking(False)  # noqa: FBT003
        asyncio.get_running_loop().add_reader(self._channel, self._receive)
        self._receiving = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Take no more connections, then uvicorn's graceful stop of the open ones."""
        self._stop_receiving()
        await super().shutdown(sockets)

    def _stop_receiving(self) -> None:
        if self._receiving:
            asyncio.get_running_loop().remove_reader(self._channel)
            self._receiving = False
        # Connections queued for this worker but not taken are closed with the channel.
        self._channel.close()

    def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._channel, 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data and not fds:  # the supervisor is gone: workers.py stops us
                loop.remove_reader(self._channel)
                self._receiving = False
                return
            for fd in fds:
                task = loop.create_task(self._serve_handed(socket.socket(fileno=fd)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _serve_handed(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(self._protocol, conn, ssl=self.config.ssl)
        except (TimeoutError, OSError):
            # A client that reset or failed its TLS handshake: asyncio's own accept path
            # drops it without a word too.
            with contextlib.suppress(OSError):
                conn.close()

    def _protocol(self) -> asyncio.Protocol:
        """One connection's protocol, as uvicorn's ``startup`` builds it (0.54, server.py).

        The configured HTTP protocol with this server's state, so that limits, keep-alive
        and the graceful stop's wait for open connections apply unchanged.
        """
        protocol: Any = self.config.http_protocol_class
        built: asyncio.Protocol = protocol(
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return built
