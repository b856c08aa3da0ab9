"""A reader does not wait for the receipt's answer before it reads the container (issue 15).

spec/format.md §Reading step 3 sends the receipt before the checks that follow, and
§receipts makes its answer decide nothing (a refused receipt never fails the open). So
`rwc open` extracts, fsyncs and publishes while the server records the receipt, and reads
the answer afterwards. A relay on a loopback port stands between `rwc` and the real key
server and holds the server's answer to the receipt until the extracted directory exists:
a reader that waited for that answer first would only get it when the relay gave up
(``HOLD_LIMIT``), and the test fails. Real sockets, the real server; nothing is timed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

# Seconds the relay holds an answer before it gives up (a failure): below the client's read
# timeout (ClientLimits, 30 s), so that a reader that waits gets the answer late, not never.
HOLD_LIMIT = 20.0


class HoldingRelay:
    """Relays to the key server; holds its answer to a receipt until ``ready()`` is true.

    ``held``: for each answer held, whether ``ready()`` was true when it was let through.
    """

    def __init__(self, backend_port: int, ready: Callable[[], bool]) -> None:
        self.backend_port = backend_port
        self.ready = ready
        self.held: list[bool] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                backend = socket.create_connection(("127.0.0.1", self.backend_port))
                receipt = threading.Event()  # the client sent its receipt on this connection
                threading.Thread(
                    target=self._pump, args=(backend, client, receipt, False), daemon=True
                ).start()
                threading.Thread(
                    target=self._pump, args=(client, backend, receipt, True), daemon=True
                ).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, receipt: threading.Event, upstream: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if upstream and b"/receipt " in data:
                    receipt.set()  # before it is forwarded: its answer cannot come earlier
                elif not upstream and receipt.is_set():
                    # HTTP/1.1 answers in request order, and the receipt is a reader's last
                    # request: what comes now is its answer.
                    deadline = time.monotonic() + HOLD_LIMIT
                    while not self.ready() and time.monotonic() < deadline:
                        time.sleep(0.01)
                    self.held.append(self.ready())
                    receipt.clear()  # the rest of the answer (its body may come apart) flows
                dst.sendall(data)
        # One side ended: end the other's direction too (the reader exits, then the server
        # closes). The server's direction ends last: it closes both.
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        if not upstream:
            src.close()
            dst.close()


def test_open_extracts_before_it_reads_the_receipts_answer(story: Any, h: ModuleType) -> None:
    src, container, _ = story.seal_for_reader()
    parent = story.work / "parent"
    parent.mkdir()
    dest = parent / "out"
    extracted = dest / src.name / "blob.bin"
    relay = HoldingRelay(story.server.port, extracted.is_file)
    try:
        story.rwc.server = relay.url  # the reader's way to the same server (RWC_SERVER)
        proc = story.rwc(
            "open",
            container,
            "-C",
            dest,
            "--json",
            token=story.people.reader_token,
            password="correct horse battery staple",
        )
    finally:
        relay.close()
    h.expect(proc, h.EXIT_OK)
    h.no_traceback(proc)
    # The answer was held, and let through because the extraction had been published.
    assert relay.held == [True], h.describe(proc)
    # ... and read afterwards: the server confirmed the receipt.
    doc = h.parse_json(proc)
    assert isinstance(doc, dict) and doc["receipt"] == "sent", h.describe(proc)
    assert h.tree(dest) == {f"{src.name}/{k}": v for k, v in h.tree(src).items()}
    assert h.leftovers(parent, {"out"}) == []  # no staging left beside it
