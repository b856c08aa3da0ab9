"""The key server goes away while a reader opens a container.

The container is sealed through a small TCP relay on a loopback port, so the URL in its
header points at the relay. While the reader opens it, the relay stops the real key server
the moment the reader's request for a given endpoint arrives (before forwarding it), then
drops the connection: the server is stopped in the middle of the open, deterministically,
without sleeping. rwc must say the server is unreachable (exit 7) and write nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

BUFFER = 65536


class StoppingRelay:
    """Relays 127.0.0.1:port to the key server; runs ``on_trigger`` when trigger is seen."""

    def __init__(self, backend_port: int, on_trigger: Callable[[], None]) -> None:
        self.backend_port = backend_port
        self.on_trigger = on_trigger
        self.trigger: bytes | None = None  # armed later; None relays everything
        self.fired = threading.Event()
        self.stopped = threading.Event()  # set once on_trigger has returned
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=30)
        except OSError:
            client.close()  # the server is gone: the client sees the connection dropped
            return
        threading.Thread(target=self._pump, args=(backend, client, False), daemon=True).start()
        self._pump(client, backend, True)

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                if upstream and self._should_fire(data):
                    try:
                        self.on_trigger()
                    finally:
                        self.stopped.set()
                    break  # never forward the request: the server is gone
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()

    def _should_fire(self, data: bytes) -> bool:
        with self._lock:
            if self.trigger is None or self.fired.is_set() or self.trigger not in data:
                return False
            self.fired.set()
            return True


def _seal_through(story: Any, h: ModuleType, relay: StoppingRelay) -> tuple[Path, Path]:
    """Seal a sample tree with the relay's URL in the header; return (source, container)."""
    src = story.sample_tree()
    container = story.work / "c.rwc"
    proc = story.seal_as_writer([src], container, medium=h.unique("USB"), url=relay.url)
    h.expect(proc, h.EXIT_OK)
    story.rwc.server = relay.url  # the reader names the relay, where its token may go
    return src, container


def test_server_stopped_before_key_release(private_story: Any, h: ModuleType) -> None:
    story = private_story
    relay = StoppingRelay(story.server.port, story.server.stop)
    try:
        _, container = _seal_through(story, h, relay)
        relay.trigger = b"/evaluate"  # the reader's request for the key
        parent = story.work / "parent"
        parent.mkdir()
        dest = parent / "out"
        proc = story.open_as_reader(container, dest)
        assert relay.fired.is_set(), h.describe(proc)
        h.expect(proc, h.EXIT_UNREACHABLE)
        h.no_traceback(proc)
        assert b"reach" in proc.stderr.lower(), h.describe(proc)
        assert h.tree(dest) == {}
        assert h.leftovers(parent, {"out"}) == []  # at most an empty "out"
    finally:
        # The server may close the relayed connection (and rwc may exit) while the relay
        # thread still waits for the server process to end: wait for it before going on.
        if relay.fired.is_set():
            assert relay.stopped.wait(60)
        relay.close()


def test_server_stopped_after_key_release(private_story: Any, h: ModuleType) -> None:
    """The key arrived, then the server went away before the receipt.

    Documented behaviour (pycontainer/cli/read.py): the open completes, and the receipt that
    could not be delivered is a warning; the server then counts the release as unconfirmed.
    """
    story = private_story
    relay = StoppingRelay(story.server.port, story.server.stop)
    try:
        src, container = _seal_through(story, h, relay)
        relay.trigger = b"/receipt"
        dest = story.work / "out"
        proc = story.open_as_reader(container, dest)
        assert relay.fired.is_set(), h.describe(proc)
        h.expect(proc, h.EXIT_OK)
        h.no_traceback(proc)
        assert b"confirm" in proc.stderr.lower(), h.describe(proc)
        assert h.tree(dest) == {f"{src.name}/{k}": v for k, v in h.tree(src).items()}
    finally:
        # The server may close the relayed connection (and rwc may exit) while the relay
        # thread still waits for the server process to end: wait for it before going on.
        if relay.fired.is_set():
            assert relay.stopped.wait(60)
        relay.close()


def test_server_down_before_open(private_story: Any, h: ModuleType) -> None:
    story = private_story
    _, container, _ = story.seal_for_reader()
    story.server.stop()
    dest = story.work / "dest"
    proc = story.open_as_reader(container, dest)
    h.expect(proc, h.EXIT_UNREACHABLE)
    h.no_traceback(proc)
    assert h.tree(dest) == {}
