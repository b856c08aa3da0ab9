"""A destroy racing opens in progress (spec/protocol.md §consistency).

Several threads keep running ``rwc open`` while an official destroys the container. Every
open either succeeds completely (all files, right bytes) or fails cleanly (exit 3, nothing
written, no temporary files left); every open that started after the destroy returned fails.
The test asserts no particular mix of outcomes (that would be a timing assertion).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

OPENERS = 3
OPENS_BEFORE_DESTROY = 2  # completed opens before the destroy is sent: the openers are running
OPENS_AFTER_DESTROY = 1  # per opener, started after the destroy returned


@dataclass
class Attempt:
    started: float  # time.monotonic() just before the process was started
    returncode: int
    parent: Path
    dest: Path
    stderr: bytes


def test_destroy_racing_opens(story: Any, h: ModuleType) -> None:
    src, container, _ = story.seal_for_reader()
    cid = story.container_id(container)
    expected = {f"{src.name}/{rel}": data for rel, data in h.tree(src).items()}

    lock = threading.Lock()
    attempts: list[Attempt] = []
    destroyed_at: list[float] = []  # set once the destroy command has returned
    done = threading.Event()
    errors: list[BaseException] = []

    def opener(worker: int) -> None:
        try:
            for n in range(1000):
                with lock:
                    after = [a for a in attempts if destroyed_at and a.started > destroyed_at[0]]
                    if len(after) >= OPENERS * OPENS_AFTER_DESTROY or done.is_set():
                        return
                parent = story.work / f"w{worker}-{n}"
                parent.mkdir()
                dest = parent / "out"
                started = time.monotonic()
                proc = story.open_as_reader(container, dest)
                with lock:
                    attempts.append(Attempt(started, proc.returncode, parent, dest, proc.stderr))
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=opener, args=(i,)) for i in range(OPENERS)]
    for t in threads:
        t.start()
    try:
        # Wait until the openers are demonstrably running (some opens completed).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not errors:
            with lock:
                if sum(a.returncode == 0 for a in attempts) >= OPENS_BEFORE_DESTROY:
                    break
            time.sleep(0.05)
        proc = story.server.ks(
            "destroy", "--reason", "race", "--yes", "--", cid, token=story.people.official_token
        )
        with lock:
            destroyed_at.append(time.monotonic())
        h.expect(proc, 0)
    except BaseException:
        done.set()  # the openers would otherwise wait for opens after a destroy
        raise
    finally:
        for t in threads:
            t.join(timeout=300)
    assert not errors, errors

    late = [a for a in attempts if a.started > destroyed_at[0]]
    assert len(late) >= OPENERS * OPENS_AFTER_DESTROY
    assert sum(a.returncode == 0 for a in attempts) >= OPENS_BEFORE_DESTROY
    for a in attempts:
        # No temporary file or directory is left beside the destination, whatever happened.
        assert h.leftovers(a.parent, {"out"}) == [], a
        if a.returncode == 0:
            assert h.tree(a.dest) == expected
        else:
            assert a.returncode == h.EXIT_REVOKED, (a.returncode, a.stderr)
            assert h.tree(a.dest) == {}
    for a in late:
        assert a.returncode == h.EXIT_REVOKED, (a.returncode, a.stderr)
