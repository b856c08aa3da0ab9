"""What the disk itself does during each command of the disk rows, and what it allows.

The command bench's disk rows (commands.py) compare rwc, which fsyncs before it publishes,
with age, which leaves its output in the page cache. Whether a missed target is the disk's
or ours is a question about the device, so this module measures the device:

* **Its counters around every command** (:class:`Counters`, ``/proc/diskstats`` of the
  block device holding the bench's directory): how long the device had I/O in flight
  (``io_ticks``) and how many sectors it read and wrote while the command ran. These are
  the whole device's, every process's: on a machine shared with other test suites they
  include their I/O too (the command's own bytes are its rusage, beside them).
* **What it allows for the same bytes** (the references, dd, no CPU work): the disk
  alone (reading IN and writing + fsyncing as many bytes at once, ``O_DIRECT``, the floor
  of a tool that reads IN cold and has OUT on the disk before it returns), and each half
  on its own: the write alone and the read alone (:func:`write_alone`, :func:`read_alone`).
* **The floor, and the verdict against it** (:class:`Floor`, :func:`judge`): the least a
  seal or open -C can take with its safety properties kept is the disk alone (its output on
  the disk before publish) plus rwc's start-up in the same rounds (a 3-byte command: the key
  release, which comes before any payload byte, and Argon2id). Where 1.5x age asks for less
  wall than that (by more than :data:`SLACK`), the row is MISSED "below the floor", with
  both figures; "at the floor" within it; otherwise a miss is ours ("above the floor").
* **The verdict's reason** (:func:`reason`): a missed disk row is the disk's when rwc's
  wall is within :data:`SLACK` of the disk alone; the disk's after rwc's start-up when
  within it of the disk alone plus a 3-byte seal or open on the same disk (the rows of
  :data:`STARTUP`, measured by commands.py in the same rounds: the key release comes
  before any payload byte); otherwise the rest is ours, and the device's idle time during
  rwc (wall - busy) says how much of it the device waited for us.

bench/profiles/disk.md has the timelines behind this (the counters every 50 ms).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procs import ProcResult, run_measured
from stats import MIB, median
from tools import require

# rwc's wall within this share of its floor (medians of the same rounds): the disk's, not
# ours. The floor's own rounds spread wider (the disk alone took 0.89-1.16 s in one run of
# three), so a row near the line may fall either side from run to run: the line under the
# row prints both figures, and the device's busy and idle time beside them.
SLACK = 0.05
# /proc/diskstats sectors are 512 bytes whatever the device's sector size (iostats.rst).
_SECTOR = 512
# rwc's start-up on the disk, per command: the rows of a 3-byte seal and open (commands.py).
STARTUP = {"seal": "rwc seal, 3 bytes", "open": "rwc open, 3 bytes"}


@dataclass(frozen=True)
class Counters:
    """One reading of a block device's counters (Documentation/admin-guide/iostats.rst)."""

    read_sectors: int
    written_sectors: int
    busy_ms: int  # io_ticks: milliseconds with at least one I/O in flight

    def since(self, before: Counters) -> dict[str, float]:
        """The device's work between ``before`` and this reading."""
        return {
            "busy_s": (self.busy_ms - before.busy_ms) / 1000,
            "read_bytes": (self.read_sectors - before.read_sectors) * _SECTOR,
            "written_bytes": (self.written_sectors - before.written_sectors) * _SECTOR,
        }


class Device:
    """The block device that holds a directory, read from /proc/diskstats (Linux)."""

    def __init__(self, directory: Path) -> None:
        """Find the device by the directory's device number; :attr:`name` None if none."""
        dev = os.stat(directory).st_dev
        self._key = (str(os.major(dev)), str(os.minor(dev)))
        self.name: str | None = None
        found = self._line()
        if found is not None:
            self.name = found[2]

    def _line(self) -> list[str] | None:
        # A file system without a block device of its own (tmpfs, overlay, btrfs'
        # anonymous numbers) has no line: its rows then go without device figures.
        try:
            with open("/proc/diskstats", encoding="ascii") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 13 and (fields[0], fields[1]) == self._key:
                        return fields
        except OSError:
            return None
        return None

    def read(self) -> Counters | None:
        """The counters now (None where the device has none)."""
        fields = self._line() if self.name else None
        if fields is None:
            return None
        # Fields after major, minor, name: 3 sectors read, 7 sectors written, 10 io_ticks.
        return Counters(int(fields[5]), int(fields[9]), int(fields[12]))


def direct_io(directory: Path) -> bool:
    """True if files in ``directory`` can be opened with ``O_DIRECT`` (Linux, not tmpfs < 6.6)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        probe = directory / ".rwc-bench-direct"
        probe.write_bytes(b"\0" * 4096)
        try:
            fd = os.open(probe, os.O_RDONLY | flag)
            os.close(fd)
        finally:
            probe.unlink()
    except OSError:
        return False
    return True


def _dd() -> str:
    return require("dd", "coreutils")


def disk_alone(src: Path, out: Path, size: int) -> ProcResult:
    """The disk reading ``src`` and writing ``size`` bytes to ``out`` (fsynced) at once.

    What storing a copy of ``src`` durably costs the device with no CPU work and no page
    cache (``dd``, ``O_DIRECT`` both ways, 1 MiB blocks; ``out`` gets zeros: the bytes do
    not matter to the disk): ``rwc seal`` and ``rwc open -C`` move these bytes and fsync
    before they publish, so neither can finish sooner than this, whatever its CPU does
    (bench/profiles/disk.md). A reference row, not a tool.
    """
    blocks = max(1, size // MIB)
    reader = shlex.join([_dd(), f"if={src}", "of=/dev/null", "bs=1M", "iflag=direct"])
    sink = [f"of={out}", "bs=1M", f"count={blocks}", "oflag=direct", "conv=fsync"]
    writer = shlex.join([_dd(), "if=/dev/zero", *sink])
    proc = run_measured(["sh", "-c", f"{reader} 2>/dev/null & {writer} 2>/dev/null; wait"])
    out.unlink()
    return proc


def write_alone(out: Path, size: int, *, direct: bool) -> ProcResult:
    """``size`` bytes written to ``out`` and fsynced, nothing read meanwhile (dd, 1 MiB).

    ``direct``: around the page cache, as the disk alone writes. Why not through it, as
    rwc writes (``bs=16M conv=fsync``, tried first): on this VM a buffered dd pays the
    first touch of every page-cache page (bench/profiles/disk.md), 1.2 CPU s per GiB, so
    at load 10 it took 2.9-6.1 s where the device had been busy 0.7 s: a figure of the
    CPU, not of the device.
    """
    argv = [_dd(), "if=/dev/zero", f"of={out}", "bs=1M", f"count={max(1, size // MIB)}"]
    proc = run_measured([*argv, "conv=fsync", "status=none", *(["oflag=direct"] * direct)])
    out.unlink()
    return proc


def read_alone(src: Path, *, direct: bool) -> ProcResult:
    """``src`` read from the disk (the caller dropped the cache), nothing written (dd).

    ``direct``: around the page cache, as rwc reads a big file that is not cached.
    """
    argv = [_dd(), f"if={src}", "of=/dev/null", "bs=1M", "status=none"]
    return run_measured([*argv, "iflag=direct"] if direct else argv)


def shares(busy: list[dict[str, float]], walls: list[float]) -> dict[str, Any]:
    """Medians of the device's work over a command's runs, for its figures."""
    return {
        "device_busy_s": median([b["busy_s"] for b in busy]),
        "device_busy_pct": median(
            [100 * b["busy_s"] / w for b, w in zip(busy, walls, strict=True) if w > 0] or [0]
        ),
        "device_read_mib": median([b["read_bytes"] for b in busy]) / MIB,
        "device_written_mib": median([b["written_bytes"] for b in busy]) / MIB,
    }


@dataclass(frozen=True)
class Floor:
    """The least wall a seal or open -C to this disk can take with its safety kept.

    Both figures come from the same rounds as the row they judge (commands.py): the device
    no faster, rwc's start-up no shorter than that run's.
    """

    disk_s: float  # the disk alone: IN read, as many bytes written + fsynced (no CPU work)
    startup_s: float  # rwc's start-up: a 3-byte command (interpreter, key release, Argon2id)

    @property
    def seconds(self) -> float:
        return self.disk_s + self.startup_s

    def as_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds, "disk_s": self.disk_s, "startup_s": self.startup_s}


def floor(figures: dict[str, Any], op: str) -> Floor | None:
    """The floor of the seal or open -C row from a size's figures; None if not measured."""
    alone = figures.get("disk alone")  # only where dd can use O_DIRECT
    start = figures.get(STARTUP.get(op, ""))
    if not alone or not start:
        return None
    return Floor(alone["seconds"], start["seconds"])


def judge(
    rwc_s: float, reference_s: float, goal: float, found: Floor | None, reference: str = "age"
) -> tuple[str, str]:
    """The verdict of "rwc at least ``goal`` x as fast as the reference", and why it missed.

    Why a miss matters for issue 15: a target rwc cannot meet without giving up a safety
    property is kept MISSED, and the row says so with the measurements (the fsync before
    publish and the key release are kept; the floor measures what they cost in this run).

    Args:
        rwc_s: rwc's median wall.
        reference_s: The reference's (raw age, or age && sync) median wall.
        goal: The target ratio (reference / rwc).
        found: The floor measured in the same run (None: not measured here).
        reference: The reference's name in the reason.

    Returns:
        ("MET", "") or ("MISSED", the reason): "below the floor: ..." when the goal asks for
        less wall than the floor by more than :data:`SLACK`, "at the floor" within it,
        "above the floor: ..." beyond it (ours to reach), "" when no floor was measured.
        Why the margin: the floor's commands run minutes apart from rwc's, beside other
        I/O on a shared device (a loaded 10 GiB run had `rwc open -C` 10% under the disk
        alone), so a target within its spread is not called out of reach.
    """
    if reference_s / rwc_s >= goal:
        return "MET", ""
    if found is None:
        return "MISSED", ""
    needs = reference_s / goal
    said = (
        f"fsync before publish + key derivation = {found.seconds:.2f} s;"
        f" {goal:g}x {reference} needs {needs:.2f} s"
    )
    if needs < found.seconds * (1 - SLACK):
        return "MISSED", f"below the floor: {said}"
    side = "at" if needs <= found.seconds * (1 + SLACK) else "above"
    return "MISSED", f"{side} the floor: {said}; rwc {rwc_s:.2f} s"


def reason(rwc: dict[str, Any], figures: dict[str, Any], ok: bool, op: str) -> str:
    """Whose the row's time is: the disk's, rwc's start-up's, or ours (module docstring).

    Args:
        rwc: The rwc command's figures (median wall, device busy time).
        figures: Every figure of the size and storage ("disk alone", "disk write alone",
            the start-up rows of :data:`STARTUP`).
        ok: Whether the row met its target.
        op: "seal" or "open" (which start-up row is the command's).

    Returns:
        One line for under the row ("" where the disk alone was not measured).
    """
    alone = figures.get("disk alone")
    if not alone:
        return ""
    wall, floor = rwc["seconds"], alone["seconds"]
    write = figures.get("disk write alone")
    halves = f", the write alone {write['seconds']:.2f} s" if write else ""
    said = (
        f"rwc {wall:.2f} s against the disk alone {floor:.2f} s ({wall / floor - 1:+.0%}){halves}"
    )
    busy = ""
    if "device_busy_s" in rwc:
        idle = max(0.0, wall - rwc["device_busy_s"])
        busy = (
            f"; the device busy {rwc['device_busy_s']:.2f} s ({rwc['device_busy_pct']:.0f}%)"
            f" of rwc's wall, idle {idle:.2f} s"
        )
    start = figures.get(STARTUP[op], {}).get("seconds")
    if start is not None:
        said += f"; rwc's start-up {start:.2f} s (a 3-byte {op}, the same disk)"
    if ok:
        return f"MET: {said}{busy}"
    if wall <= floor * (1 + SLACK):
        return f"MISSED: the disk; the fsync before publish is kept: {said}{busy}"
    if start is not None and wall <= (floor + start) * (1 + SLACK):
        # The payload keeps the disk's pace; what is left is the key release before any
        # byte (and Argon2id after the server's answer, spec §key-schedule): by design.
        return (
            "MISSED: the disk, after rwc's start-up (the key release comes first); the fsync"
            f" before publish is kept: {said}{busy}"
        )
    return f"MISSED: ours, {wall - floor:.2f} s over the disk alone: {said}{busy}"
